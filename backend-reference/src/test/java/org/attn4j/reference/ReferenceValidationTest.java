package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.bytes;
import static org.attn4j.reference.ReferenceTestSupport.f32;
import static org.attn4j.reference.ReferenceTestSupport.filled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.CascadePlan;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.PlanOptions;
import org.attn4j.RaggedAttentionPlan;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * spec §7 through the public API on the reference backend: each rejected call names the
 * argument, the bad value and what was expected, and leaves every output byte as it was.
 */
class ReferenceValidationTest {
    private static final byte SENTINEL = (byte) 0x5A;
    private static final HeadConfig ONE_HEAD = new HeadConfig(1, 1, 2);

    private final AttentionBackend attn = ReferenceTestSupport.open();
    private final List<Tensor> tensors = new ArrayList<>();

    @AfterEach
    void close() {
        tensors.forEach(Tensor::close);
        attn.close();
    }

    private Tensor keep(Tensor t) {
        tensors.add(t);
        return t;
    }

    private Tensor output(DType dtype, long... shape) {
        return keep(filled(attn, dtype, SENTINEL, shape));
    }

    private Tensor input(float[] values, long... shape) {
        return keep(f32(attn, values, shape));
    }

    /** Four pages of 2 slots, one KV head, D = 2. */
    private PagedKvCache cache() {
        return PagedKvCache.separate(input(new float[16], 4, 2, 1, 2), input(new float[16], 4, 2, 1, 2),
                KvLayout.NHD);
    }

    private void assertRejected(Executable call, List<Tensor> outputs, String... fragments) {
        List<byte[]> before = outputs.stream().map(t -> bytes(attn, t)).toList();
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message '" + e.getMessage() + "' lacks '" + f + "'");
        }
        for (int i = 0; i < outputs.size(); i++) {
            assertArrayEquals(before.get(i), bytes(attn, outputs.get(i)), "output " + i + " was written");
        }
    }

    @Test
    void pageIdOutsideTheCacheIsRejectedAtRun() {
        PageTable table = new PageTable(new int[] {0, 2}, new int[] {0, 9}, new int[] {1}, 2);
        Tensor q = input(new float[2], 1, 1, 2);
        Tensor o = output(DType.F32, 1, 1, 2);
        Tensor lse = output(DType.F32, 1, 1);
        PagedKvCache cache = cache();
        try (BatchAttentionPlan plan = attn.planBatchDecode(table, ONE_HEAD, AttentionOptions.DEFAULT,
                PlanOptions.DEFAULT)) {
            assertRejected(() -> plan.run(q, cache, o, lse), List.of(o, lse), "kvIndices[1]",
                    "kvIndices[1] = 9 is outside [0, 4)");
        }
    }

    @Test
    void queryHeadsNotAMultipleOfKvHeadsAreRejected() {
        Tensor q = input(new float[12], 6, 2);
        Tensor k = input(new float[8], 1, 4, 2);
        Tensor o = output(DType.F32, 6, 2);
        assertRejected(() -> attn.singleDecode(q, new ContiguousKv(k, k, KvLayout.NHD), AttentionOptions.DEFAULT, o,
                null), List.of(o), "numQoHeads", "6 % 4 = 2", "must be 0");
    }

    @Test
    void causalWithMoreQueriesThanKeysIsRejected() {
        Tensor q = input(new float[6], 3, 1, 2);
        Tensor k = input(new float[4], 2, 1, 2);
        Tensor o = output(DType.F32, 3, 1, 2);
        Tensor lse = output(DType.F32, 3, 1);
        assertRejected(() -> attn.singlePrefill(q, new ContiguousKv(k, k, KvLayout.NHD),
                AttentionOptions.DEFAULT.withCausal(true), null, o, lse), List.of(o, lse), "qoLen[0]",
                "qoLen <= kvLen", "qoLen 3 > kvLen 2");
    }

    @Test
    void lastPageLengthOutsideOneToPageSizeIsRejected() {
        Tensor o = output(DType.F32, 1, 1, 2);
        Tensor q = input(new float[2], 1, 1, 2);
        PagedKvCache cache = cache();
        for (int bad : new int[] {0, 3}) {
            assertRejected(() -> {
                PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {bad}, 2);
                try (BatchAttentionPlan plan = attn.planBatchDecode(table, ONE_HEAD, AttentionOptions.DEFAULT,
                        PlanOptions.DEFAULT)) {
                    plan.run(q, cache, o, null);
                }
            }, List.of(o), "kvLastPageLen[0]", "kvLastPageLen[0] = " + bad + " is outside [1, 2]");
        }
    }

    @Test
    void decreasingIndptrIsRejected() {
        assertRejected(() -> new PageTable(new int[] {0, 2, 1}, new int[] {0}, new int[] {1, 1}, 2), List.of(),
                "kvIndptr[2]", "kvIndptr[2] = 1 < kvIndptr[1] = 2");
    }

    @Test
    void outputOfTheWrongDtypeIsRejected() {
        Tensor q = input(new float[2], 1, 2);
        Tensor k = input(new float[2], 1, 1, 2);
        Tensor o = output(DType.F16, 1, 2);
        Tensor lse = output(DType.F32, 1);
        assertRejected(() -> attn.singleDecode(q, new ContiguousKv(k, k, KvLayout.NHD), AttentionOptions.DEFAULT, o,
                lse), List.of(o, lse), "o.dtype", "expected F32", "actual F16");
    }

    @Test
    void lseOfTheWrongDtypeOrShapeIsRejected() {
        Tensor q = input(new float[2], 1, 2);
        Tensor k = input(new float[2], 1, 1, 2);
        Tensor o = output(DType.F32, 1, 2);
        Tensor lseF16 = output(DType.F16, 1);
        Tensor lseLong = output(DType.F32, 2);
        ContiguousKv kv = new ContiguousKv(k, k, KvLayout.NHD);
        assertRejected(() -> attn.singleDecode(q, kv, AttentionOptions.DEFAULT, o, lseF16), List.of(o, lseF16),
                "lse.dtype", "expected F32", "actual F16");
        assertRejected(() -> attn.singleDecode(q, kv, AttentionOptions.DEFAULT, o, lseLong), List.of(o, lseLong),
                "lse.shape", "expected [1]", "actual [2]");
    }

    @Test
    void outputOfTheWrongShapeIsRejectedAtRun() {
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
        Tensor q = input(new float[2], 1, 1, 2);
        Tensor o = output(DType.F32, 1, 1, 3);
        PagedKvCache cache = cache();
        try (BatchAttentionPlan plan = attn.planBatchDecode(table, ONE_HEAD, AttentionOptions.DEFAULT,
                PlanOptions.DEFAULT)) {
            assertRejected(() -> plan.run(q, cache, o, null), List.of(o), "o.shape", "expected [1, 1, 2]",
                    "actual [1, 1, 3]");
        }
    }

    @Test
    void windowBelowMinusOneIsRejected() {
        Tensor q = input(new float[2], 1, 2);
        Tensor k = input(new float[2], 1, 1, 2);
        Tensor o = output(DType.F32, 1, 2);
        assertRejected(() -> attn.singleDecode(q, new ContiguousKv(k, k, KvLayout.NHD),
                AttentionOptions.DEFAULT.withWindowLeft(-2), o, null), List.of(o), "windowLeft", "-1 (no window) or >= 0",
                "actual -2");
    }

    @Test
    void maskOfTheWrongLengthIsRejected() {
        Tensor q = input(new float[4], 2, 1, 2);
        Tensor k = input(new float[6], 3, 1, 2);
        Tensor o = output(DType.F32, 2, 1, 2);
        CustomMask mask = CustomMask.fromBooleans(new boolean[5]);
        assertRejected(() -> attn.singlePrefill(q, new ContiguousKv(k, k, KvLayout.NHD), AttentionOptions.DEFAULT,
                mask, o, null), List.of(o), "mask.length", "expected 6 bits", "actual 5");
    }

    @Test
    void nonFiniteOrNonPositiveScalesAreRejected() {
        assertRejected(() -> new KvScales(Float.NaN, 1f), List.of(), "kScale", "a finite value > 0", "actual NaN");
        assertRejected(() -> new KvScales(1f, 0f), List.of(), "vScale", "a finite value > 0", "actual 0.0");
    }

    @Test
    void headDimBeyondTheBackendsRangeIsRejected() {
        Tensor q = input(new float[1026], 1, 1026);
        Tensor k = input(new float[1026], 1, 1, 1026);
        Tensor o = output(DType.F32, 1, 1026);
        assertRejected(() -> attn.singleDecode(q, new ContiguousKv(k, k, KvLayout.NHD), AttentionOptions.DEFAULT, o,
                null), List.of(o), "headDim", "[1, 1024]", "actual 1026");
    }

    @Test
    void closedTensorsAreRejected() {
        Tensor q = f32(attn, new float[2], 1, 2);
        q.close();
        Tensor k = input(new float[2], 1, 1, 2);
        Tensor o = output(DType.F32, 1, 2);
        assertRejected(() -> attn.singleDecode(q, new ContiguousKv(k, k, KvLayout.NHD), AttentionOptions.DEFAULT, o,
                null), List.of(o), "q: tensor is closed");
    }

    @Test
    void appendPositionPastTheRequestsLengthIsRejectedAndTheCacheUntouched() {
        PageTable table = new PageTable(new int[] {0, 2}, new int[] {1, 3}, new int[] {1}, 2);
        Tensor k = input(new float[] {1, 2}, 1, 1, 2);
        Tensor cacheK = output(DType.F32, 4, 2, 1, 2);
        Tensor cacheV = output(DType.F32, 4, 2, 1, 2);
        PagedKvCache cache = PagedKvCache.separate(cacheK, cacheV, KvLayout.NHD);
        assertRejected(() -> attn.appendPagedKv(k, k, new AppendPositions(new int[] {0}, new int[] {3}), cache, table),
                List.of(cacheK, cacheV), "positions[0]", "positions[0] = 3 is outside [0, 3)");
        assertRejected(() -> attn.appendPagedKv(k, k, new AppendPositions(new int[] {1}, new int[] {0}), cache, table),
                List.of(cacheK, cacheV), "batchIndices[0]", "batchIndices[0] = 1 is outside [0, 1)");
    }

    @Test
    void mergeRowMaskOfTheWrongLengthIsRejected() {
        Tensor o = output(DType.F32, 2, 1, 2);
        Tensor s = output(DType.F32, 2, 1);
        Tensor other = input(new float[4], 2, 1, 2);
        Tensor otherS = input(new float[2], 2, 1);
        assertRejected(() -> attn.mergeStateInPlace(o, s, other, otherS, new boolean[3]), List.of(o, s),
                "rowMask.length", "expected rows = 2", "actual 3");
    }

    @Test
    void mergeStatesWithMismatchedLseShapeIsRejected() {
        Tensor v = input(new float[12], 1, 3, 2, 2);
        Tensor s = input(new float[6], 1, 2, 3);
        Tensor o = output(DType.F32, 1, 2, 2);
        Tensor sOut = output(DType.F32, 1, 2);
        assertRejected(() -> attn.mergeStates(v, s, o, sOut), List.of(o, sOut), "s.shape", "expected [1, 3, 2]",
                "actual [1, 2, 3]");
    }

    @Test
    void runningAClosedPlanIsRejectedAndWritesNothing() {
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
        Tensor q = input(new float[] {1, 2}, 1, 1, 2);
        Tensor o = output(DType.F32, 1, 1, 2);
        Tensor lse = output(DType.F32, 1, 1);
        PagedKvCache cache = cache();
        BatchAttentionPlan batch = attn.planBatchDecode(table, ONE_HEAD, AttentionOptions.DEFAULT, PlanOptions.DEFAULT);
        batch.close();
        assertRejected(() -> batch.run(q, cache, o, lse), List.of(o, lse), "plan", "is closed");

        Tensor k = input(new float[] {1, 2, 3, 4}, 2, 1, 2);
        RaggedAttentionPlan ragged = attn.planBatchPrefillRagged(new int[] {0, 1}, new int[] {0, 2}, ONE_HEAD,
                AttentionOptions.DEFAULT, null, PlanOptions.DEFAULT);
        ragged.close();
        assertRejected(() -> ragged.run(q, new RaggedKv(k, k), o, lse), List.of(o, lse), "plan", "is closed");

        CascadePlan cascade = attn.planCascade(List.of(new CascadeLevel(new int[] {0, 1}, table)), ONE_HEAD,
                AttentionOptions.DEFAULT, PlanOptions.DEFAULT);
        cascade.close();
        assertRejected(() -> cascade.run(q, cache, o, lse), List.of(o, lse), "plan", "is closed");
    }

    @Test
    void callsOnAClosedBackendAreRejectedAndWriteNothing() {
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
        Tensor q = input(new float[] {1, 2}, 1, 1, 2);
        Tensor q1 = input(new float[] {1, 2}, 1, 2);
        Tensor k = input(new float[] {1, 2}, 1, 1, 2);
        Tensor o = output(DType.F32, 1, 1, 2);
        Tensor o1 = output(DType.F32, 1, 2);
        Tensor lse = output(DType.F32, 1, 1);
        PagedKvCache cache = cache();
        // Read through the host memory: the closed backend no longer downloads.
        List<Tensor> outputs = List.of(o, o1, lse);
        List<byte[]> before = outputs.stream().map(t -> ReferenceMemory.contiguous(t).segment().toArray(
                java.lang.foreign.ValueLayout.JAVA_BYTE)).toList();
        try (BatchAttentionPlan plan = attn.planBatchDecode(table, ONE_HEAD, AttentionOptions.DEFAULT,
                PlanOptions.DEFAULT)) {
            attn.close();
            List<Executable> calls = List.of(() -> plan.run(q, cache, o, lse),
                    () -> attn.singleDecode(q1, new ContiguousKv(k, k, KvLayout.NHD), AttentionOptions.DEFAULT, o1,
                            null),
                    () -> attn.allocate(DType.F32, 1),
                    () -> attn.planBatchDecode(table, ONE_HEAD, AttentionOptions.DEFAULT, PlanOptions.DEFAULT));
            for (Executable call : calls) {
                InvalidArgumentException e = assertThrows(InvalidArgumentException.class, call);
                assertTrue(e.getMessage().equals("backend: is closed"), e.getMessage());
            }
        }
        for (int i = 0; i < outputs.size(); i++) {
            assertArrayEquals(before.get(i), ReferenceMemory.contiguous(outputs.get(i)).segment().toArray(
                    java.lang.foreign.ValueLayout.JAVA_BYTE), "output " + i + " was written");
        }
    }

    @Test
    void cascadeWithAWindowBelowMinusOneIsRejected() {
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
        assertRejected(() -> attn.planCascade(List.of(new CascadeLevel(new int[] {0, 1}, table)), ONE_HEAD,
                AttentionOptions.DEFAULT.withWindowLeft(-5), PlanOptions.DEFAULT).close(), List.of(), "windowLeft",
                "-1 (no window) or >= 0", "actual -5");
    }
}
