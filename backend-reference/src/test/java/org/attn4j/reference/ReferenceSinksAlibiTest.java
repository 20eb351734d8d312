package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.assertClose;
import static org.attn4j.reference.ReferenceTestSupport.bytes;
import static org.attn4j.reference.ReferenceTestSupport.f32;
import static org.attn4j.reference.ReferenceTestSupport.filled;
import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.attn4j.AttentionBackend;
import org.attn4j.CascadePlan;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Sinks and ALiBi on cases small enough to work out by hand, and their rejection where they are absent. */
class ReferenceSinksAlibiTest {
    private static final double TOL = 1e-6;
    private static final AttentionOptions UNSCALED = AttentionOptions.DEFAULT.withSmScale(1f);
    private static final double LN2 = Math.log(2);

    private final AttentionBackend attn = ReferenceTestSupport.open();

    @AfterEach
    void close() {
        attn.close();
    }

    /** Single decode, {@code Hq} heads over one KV head, D = 2; returns o then lse. */
    private float[][] decode(int hq, float[] q, float[] k, float[] v, AttentionOptions options) {
        int kvLen = k.length / 2;
        try (Tensor qt = f32(attn, q, hq, 2);
             Tensor kt = f32(attn, k, kvLen, 1, 2);
             Tensor vt = f32(attn, v, kvLen, 1, 2);
             Tensor o = attn.allocate(DType.F32, hq, 2);
             Tensor lse = attn.allocate(DType.F32, hq)) {
            attn.singleDecode(qt, new ContiguousKv(kt, vt, KvLayout.NHD), options, o, lse);
            return new float[][] {read(attn, o), read(attn, lse)};
        }
    }

    /** Single prefill of one head, D = 2, q all zero so the logits are the ALiBi biases; o then lse. */
    private float[][] prefillZeroQuery(int qoLen, float[] v, AttentionOptions options, CustomMask mask) {
        int kvLen = v.length / 2;
        try (Tensor q = attn.allocate(DType.F32, qoLen, 1, 2);
             Tensor k = f32(attn, new float[kvLen * 2], kvLen, 1, 2);
             Tensor vt = f32(attn, v, kvLen, 1, 2);
             Tensor o = attn.allocate(DType.F32, qoLen, 1, 2);
             Tensor lse = attn.allocate(DType.F32, qoLen, 1)) {
            attn.singlePrefill(q, new ContiguousKv(k, vt, KvLayout.NHD), options, mask, o, lse);
            return new float[][] {read(attn, o), read(attn, lse)};
        }
    }

    // ------------------------------------------------------------------ sinks

    @Test
    void aSinkEqualToTheOnlyLogitTakesHalfTheMassAndGivesNothing() {
        // One key with logit 0 and a sink of 0: weights 1/2 (key) and 1/2 (sink, value 0).
        float[][] r = decode(1, new float[] {1, 0}, new float[] {0, 3}, new float[] {4, -2},
                UNSCALED.withSinks(AttentionSinks.of(0f)));
        assertClose(new double[] {2, -1}, r[0], TOL);
        assertClose(new double[] {LN2}, r[1], TOL);
    }

    @Test
    void eachQueryHeadHasItsOwnSink() {
        // Two query heads over one KV head (g = 2), keys with logits 1 and 0 for both heads;
        // head 0's sink is ln 3 (weight 3 beside e and 1), head 1's is -30 (next to nothing).
        float s0 = (float) Math.log(3);
        float[][] r = decode(2, new float[] {1, 0, 1, 0}, new float[] {1, 0, 0, 0}, new float[] {1, 0, 0, 1},
                UNSCALED.withSinks(AttentionSinks.of(s0, -30f)));
        double e = Math.E;
        double z0 = e + 1 + Math.exp(s0);
        double z1 = e + 1 + Math.exp(-30);
        assertClose(new double[] {e / z0, 1 / z0, e / z1, 1 / z1}, r[0], TOL);
        assertClose(new double[] {Math.log(z0), Math.log(z1)}, r[1], TOL);
    }

    @Test
    void theSinkIsComparedWithTheCappedLogitAndIsNotCappedItself() {
        // q . k = 6, cap 3: x = 3 tanh 2 (below 3); a sink of 5 stays 5, above every capped logit.
        float[][] r = decode(1, new float[] {2, 0}, new float[] {3, 0}, new float[] {1, 1},
                UNSCALED.withLogitsSoftCap(3f).withSinks(AttentionSinks.of(5f)));
        double x = 3 * Math.tanh(2);
        double w = Math.exp(x) / (Math.exp(x) + Math.exp(5));
        assertClose(new double[] {w, w}, r[0], TOL);
        assertClose(new double[] {Math.log(Math.exp(x) + Math.exp(5))}, r[1], TOL);
    }

    @Test
    void aRowWithoutKeysGivesZeroAndTheSinkAsItsLse() {
        // kvLen 0: o = 0, lse = sink exactly (instead of -inf).
        float[][] empty = decode(2, new float[] {1, 2, 3, 4}, new float[0], new float[0],
                AttentionOptions.DEFAULT.withSinks(AttentionSinks.of(0.75f, -2.5f)));
        assertArrayEquals(new float[4], empty[0]);
        assertArrayEquals(new float[] {0.75f, -2.5f}, empty[1]);
        // A masked-out row of a prefill, next to a row that sees both keys.
        CustomMask mask = CustomMask.fromBooleans(new boolean[] {false, false, true, true});
        float[][] r = prefillZeroQuery(2, new float[] {2, 0, 0, 2}, UNSCALED.withSinks(AttentionSinks.of(1.5f)),
                mask);
        double z = 2 + Math.exp(1.5);
        assertClose(new double[] {0, 0, 2 / z, 2 / z}, r[0], TOL);
        assertEquals(1.5f, r[1][0]);
        assertClose(new double[] {Math.log(z)}, new float[] {r[1][1]}, TOL);
    }

    @Test
    void mergingTheSinkAsAStateEqualsAttentionWithTheSink() {
        // spec §4: attention with sinks = merge(attention without, (o = 0, lse = sink)).
        float[] q = {0.5f, -1, 2, 0.25f};
        float[] k = {1, 2, -1, 0.5f, 0.25f, -2};
        float[] v = {1, 2, 3, 4, 5, 6};
        AttentionSinks sinks = AttentionSinks.of(0.3f, -0.7f);
        float[][] with = decode(2, q, k, v, AttentionOptions.DEFAULT.withSinks(sinks));
        float[][] without = decode(2, q, k, v, AttentionOptions.DEFAULT);
        try (Tensor oA = f32(attn, without[0], 1, 2, 2);
             Tensor sA = f32(attn, without[1], 1, 2);
             Tensor oB = f32(attn, new float[4], 1, 2, 2);
             Tensor sB = f32(attn, sinks.logits(), 1, 2);
             Tensor o = attn.allocate(DType.F32, 1, 2, 2);
             Tensor s = attn.allocate(DType.F32, 1, 2)) {
            attn.mergeState(oA, sA, oB, sB, o, s);
            assertClose(toDoubles(with[0]), read(attn, o), TOL);
            assertClose(toDoubles(with[1]), read(attn, s), TOL);
        }
    }

    @Test
    void aCascadeGivesTheSinksToItsFirstLevelAlone() {
        PageTable shared = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
        PageTable own = new PageTable(new int[] {0, 1, 2}, new int[] {1, 2}, new int[] {1, 1}, 2);
        List<CascadeLevel> levels = List.of(new CascadeLevel(new int[] {0, 2}, shared),
                new CascadeLevel(new int[] {0, 1, 2}, own));
        AttentionSinks sinks = AttentionSinks.of(1f, 2f);
        try (CascadePlan plan = attn.planCascade(levels, new HeadConfig(2, 1, 2),
                AttentionOptions.DEFAULT.withSinks(sinks), PlanOptions.DEFAULT)) {
            List<AttentionProblem> problems = plan.levelProblems();
            assertEquals(sinks, problems.get(0).options().sinks());
            assertNull(problems.get(1).options().sinks());
        }
    }

    // ------------------------------------------------------------------ ALiBi

    @Test
    void alibiPushesEarlierKeysDownByTheirDistanceTimesTheSlope() {
        // Decode over 3 keys: pq = 2, biases -2s, -s, 0. With s = ln 2 the weights are 1/4, 1/2, 1.
        float[] v = {4, 0, 0, 4, 1, 1};
        float[][] r = decode(1, new float[] {0, 0}, new float[6], v,
                AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.of((float) LN2)));
        double z = 0.25 + 0.5 + 1;
        assertClose(new double[] {(0.25 * 4 + 1) / z, (0.5 * 4 + 1) / z}, r[0], 1e-6);
        assertClose(new double[] {Math.log(z)}, r[1], 1e-6);
    }

    @Test
    void alibiCountsFromTheBottomRightAlignedQueryPosition() {
        // Not causal, qoLen 3 > kvLen 1: rows at pq = -2, -1, 0, so the one key gets +2s, +s, 0.
        float[][] r = prefillZeroQuery(3, new float[] {7, 8}, UNSCALED.withAlibiSlopes(AlibiSlopes.of(0.5f)), null);
        assertClose(new double[] {7, 8, 7, 8, 7, 8}, r[0], TOL);
        assertClose(new double[] {1.0, 0.5, 0.0}, r[1], TOL);
    }

    @Test
    void alibiIsAddedAfterTheScaleAndBeforeTheSoftCap() {
        // Decode over 2 keys, pq = 1, slope 3. Key 0: q . k = 4, scaled by 0.5 to 2, plus 3 * (0 - 1)
        // gives -1; key 1: 0 + 3 * (1 - 1) = 0. Capped at 2: 2 tanh(-1/2) and 0.
        float[][] r = decode(1, new float[] {2, 0}, new float[] {2, 0, 0, 0}, new float[] {1, 0, 0, 1},
                AttentionOptions.DEFAULT.withSmScale(0.5f).withLogitsSoftCap(2f)
                        .withAlibiSlopes(AlibiSlopes.of(3f)));
        double a = Math.exp(2 * Math.tanh(-0.5));
        assertClose(new double[] {a / (a + 1), 1 / (a + 1)}, r[0], TOL);
        assertClose(new double[] {Math.log(a + 1)}, r[1], TOL);
    }

    @Test
    void zeroSlopesAreNoAlibi() {
        float[] q = {0.5f, -1, 2, 0.25f};
        float[] k = {1, 2, -1, 0.5f, 0.25f, -2};
        float[] v = {1, 2, 3, 4, 5, 6};
        float[][] plain = decode(2, q, k, v, AttentionOptions.DEFAULT);
        float[][] zero = decode(2, q, k, v, AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.of(0f, 0f)));
        assertArrayEquals(plain[0], zero[0]);
        assertArrayEquals(plain[1], zero[1]);
    }

    @Test
    void alibiAndSinksTogether() {
        // Decode over 2 zero keys: biases -s, 0 with s = ln 2 (weights 1/2, 1), sink ln(1/2) (weight 1/2).
        float[][] r = decode(1, new float[] {0, 0}, new float[4], new float[] {2, 0, 0, 2},
                AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.of((float) LN2))
                        .withSinks(AttentionSinks.of((float) -LN2)));
        assertClose(new double[] {0.5, 1}, r[0], 1e-6);
        assertClose(new double[] {Math.log(2)}, r[1], 1e-6);
    }

    @Test
    void aCascadeRefusesAlibi() {
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> attn.planCascade(
                List.of(new CascadeLevel(new int[] {0, 1}, table)), new HeadConfig(1, 1, 2),
                AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.standard(1)), PlanOptions.DEFAULT));
        assertEquals("options.alibiSlopes", e.argument());
    }

    // ------------------------------------------------------------------ validation

    @Test
    void sinksAndSlopesMustBeOnePerQueryHead() {
        try (Tensor q = f32(attn, new float[4], 2, 2);
             Tensor k = f32(attn, new float[2], 1, 1, 2);
             Tensor o = filled(attn, DType.F32, (byte) 0x5A, 2, 2)) {
            ContiguousKv kv = new ContiguousKv(k, k, KvLayout.NHD);
            InvalidArgumentException s = assertThrows(InvalidArgumentException.class, () -> attn.singleDecode(q, kv,
                    AttentionOptions.DEFAULT.withSinks(AttentionSinks.of(1f, 2f, 3f)), o, null));
            assertEquals("sinks.length: expected one logit per query head, Hq = 2, actual 3", s.getMessage());
            InvalidArgumentException a = assertThrows(InvalidArgumentException.class, () -> attn.singleDecode(q, kv,
                    AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.standard(1)), o, null));
            assertEquals("alibiSlopes.length: expected one slope per query head, Hq = 2, actual 1", a.getMessage());
            byte[] untouched = new byte[16];
            java.util.Arrays.fill(untouched, (byte) 0x5A);
            assertArrayEquals(untouched, bytes(attn, o));
        }
    }

    /**
     * A backend without the features (as CUDA and OpenCL are today) gets a clear error from
     * core-api: the backend is never asked to plan, and the outputs keep every byte.
     */
    @Test
    void aBackendWithoutTheFeaturesIsNeverAskedAndWritesNothing() {
        WithoutVariants session = new WithoutVariants();
        try (AttentionBackend without = AttentionBackend.of(session);
             Tensor q = f32(without, new float[4], 2, 2);
             Tensor k = f32(without, new float[4], 2, 1, 2);
             Tensor o = filled(without, DType.F32, (byte) 0x5A, 2, 2);
             Tensor lse = filled(without, DType.F32, (byte) 0x5A, 2)) {
            ContiguousKv kv = new ContiguousKv(k, k, KvLayout.NHD);
            InvalidArgumentException s = assertThrows(InvalidArgumentException.class, () -> without.singleDecode(q,
                    kv, AttentionOptions.DEFAULT.withSinks(AttentionSinks.of(0f, 0f)), o, lse));
            assertEquals("sinks: backend 'reference' does not support SINKS", s.getMessage());
            InvalidArgumentException a = assertThrows(InvalidArgumentException.class, () -> without.singleDecode(q,
                    kv, AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.standard(2)), o, lse));
            assertEquals("alibiSlopes: backend 'reference' does not support ALIBI", a.getMessage());
            PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {2}, 2);
            InvalidArgumentException p = assertThrows(InvalidArgumentException.class, () -> without.planBatchPrefill(
                    new int[] {0, 2}, table, new HeadConfig(2, 1, 2),
                    AttentionOptions.DEFAULT.withCausal(true).withSinks(AttentionSinks.of(0f, 0f)), null,
                    PlanOptions.DEFAULT));
            assertTrue(p.getMessage().contains("does not support SINKS"), p.getMessage());
            assertEquals(0, session.plans.get(), "the backend was asked to plan");
            byte[] untouched = new byte[16];
            java.util.Arrays.fill(untouched, (byte) 0x5A);
            assertArrayEquals(untouched, bytes(without, o));
            assertArrayEquals(java.util.Arrays.copyOf(untouched, 8), bytes(without, lse));
            // The same calls without the options run.
            without.singleDecode(q, kv, AttentionOptions.DEFAULT, o, lse);
            assertEquals(1, session.plans.get());
        }
    }

    /** The reference session declaring what CUDA and OpenCL declare: no SINKS, no ALIBI. */
    private static final class WithoutVariants extends DelegatingSession {
        private final AtomicInteger plans = new AtomicInteger();
        private final Capabilities capabilities;

        WithoutVariants() {
            Capabilities c = delegate.capabilities();
            EnumSet<Feature> features = EnumSet.copyOf(c.features());
            features.removeAll(EnumSet.of(Feature.SINKS, Feature.ALIBI));
            capabilities = new Capabilities(c.qDtypes(), c.kvDtypes(), c.minHeadDim(), c.maxHeadDim(),
                    c.headDimStep(), c.layouts(), features, c.externalMemory(), c.minAlignment());
        }

        @Override
        public KernelPlan plan(AttentionProblem problem) {
            plans.incrementAndGet();
            return delegate.plan(problem);
        }

        @Override
        public Capabilities capabilities() {
            return capabilities;
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
