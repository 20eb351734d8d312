package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.E;
import static org.attn4j.reference.ReferenceTestSupport.assertClose;
import static org.attn4j.reference.ReferenceTestSupport.f32;
import static org.attn4j.reference.ReferenceTestSupport.filled;
import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.attn4j.reference.ReferenceTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Attention on cases small enough that the expected values are worked out here by hand. */
class ReferenceAttentionHandTest {
    private static final double TOL = 1e-6;
    private static final AttentionOptions UNSCALED = AttentionOptions.DEFAULT.withSmScale(1f);

    private final AttentionBackend attn = ReferenceTestSupport.open();

    @AfterEach
    void close() {
        attn.close();
    }

    /** Decode of one head, D = 2, keys given as {@code [kvLen, 1, 2]} rows; returns o then lse. */
    private float[][] decode(float[] q, float[] k, float[] v, AttentionOptions options) {
        int kvLen = k.length / 2;
        try (Tensor qt = f32(attn, q, 1, 2);
             Tensor kt = f32(attn, k, kvLen, 1, 2);
             Tensor vt = f32(attn, v, kvLen, 1, 2);
             Tensor o = attn.allocate(DType.F32, 1, 2);
             Tensor lse = attn.allocate(DType.F32, 1)) {
            attn.singleDecode(qt, new ContiguousKv(kt, vt, KvLayout.NHD), options, o, lse);
            return new float[][] {read(attn, o), read(attn, lse)};
        }
    }

    @Test
    void twoKeysWithLogitsZeroAndOneWeighTheValuesByOneOverOnePlusE() {
        // q . k0 = 0, q . k1 = 1: weights 1/(1+e) and e/(1+e); v0 = (1, 0), v1 = (0, 1).
        float[][] r = decode(new float[] {1, 0}, new float[] {0, 5, 1, 7}, new float[] {1, 0, 0, 1}, UNSCALED);
        assertClose(new double[] {1 / (1 + E), E / (1 + E)}, r[0], TOL);
        assertClose(new double[] {Math.log(1 + E)}, r[1], TOL);
    }

    @Test
    void lseIsTheNaturalLogOfTheSumOfExponentials() {
        // Logits a = 2 and b = -1: lse = ln(e^2 + e^-1); o = (e^2 v0 + e^-1 v1) / (e^2 + e^-1).
        float[][] r = decode(new float[] {1, 0}, new float[] {2, 9, -1, 3}, new float[] {4, -2, 1, 8}, UNSCALED);
        double a = Math.exp(2);
        double b = Math.exp(-1);
        assertClose(new double[] {(4 * a + 1 * b) / (a + b), (-2 * a + 8 * b) / (a + b)}, r[0], TOL);
        assertClose(new double[] {Math.log(a + b)}, r[1], TOL);
    }

    @Test
    void defaultScaleIsOneOverSqrtOfHeadDim() {
        // D = 4: q . k0 = 4, times 1/sqrt(4) = 2; q . k1 = 0. lse = ln(e^2 + 1).
        try (Tensor q = f32(attn, new float[] {1, 1, 1, 1}, 1, 4);
             Tensor k = f32(attn, new float[] {1, 1, 1, 1, 0, 0, 0, 0}, 2, 1, 4);
             Tensor v = f32(attn, new float[] {1, 0, 0, 0, 0, 1, 0, 0}, 2, 1, 4);
             Tensor o = attn.allocate(DType.F32, 1, 4);
             Tensor lse = attn.allocate(DType.F32, 1)) {
            attn.singleDecode(q, new ContiguousKv(k, v, KvLayout.NHD), AttentionOptions.DEFAULT, o, lse);
            double w = Math.exp(2);
            assertClose(new double[] {w / (w + 1), 1 / (w + 1), 0, 0}, read(attn, o), TOL);
            assertClose(new double[] {Math.log(w + 1)}, read(attn, lse), TOL);
        }
    }

    @Test
    void softCapSquashesTheLogitWithTanh() {
        // One key: q . k = 6; cap 3 gives 3 tanh(2); a single key's weight is 1, so o = v.
        float[][] r = decode(new float[] {2, 0}, new float[] {3, 0}, new float[] {5, -5},
                UNSCALED.withLogitsSoftCap(3f));
        assertClose(new double[] {5, -5}, r[0], TOL);
        assertClose(new double[] {3 * Math.tanh(2)}, r[1], TOL);
    }

    /** Prefill of one head, D = 2, q all zero so allowed keys weigh equally; returns o then lse. */
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

    @Test
    void causalRowsSeeKeysUpToTheirBottomRightAlignedPosition() {
        // qoLen 2, kvLen 3: row 0 sits at position 1 (keys 0, 1), row 1 at position 2 (keys 0..2).
        float[] v = {3, 0, 1, 6, 5, 0};
        float[][] r = prefillZeroQuery(2, v, AttentionOptions.DEFAULT.withCausal(true), null);
        assertClose(new double[] {2, 3, 3, 2}, r[0], TOL);
        assertClose(new double[] {Math.log(2), Math.log(3)}, r[1], TOL);
    }

    @Test
    void windowZeroLeavesOnlyTheDiagonalKey() {
        float[] v = {3, 0, 1, 6, 5, 0};
        float[][] r = prefillZeroQuery(3, v, AttentionOptions.DEFAULT.withCausal(true).withWindowLeft(0), null);
        assertClose(new double[] {3, 0, 1, 6, 5, 0}, r[0], TOL);
        assertClose(new double[] {0, 0, 0}, r[1], TOL);
    }

    @Test
    void windowWithoutCausalLooksBothWaysOnlyOnTheLeft() {
        // Non-causal, window 1, qoLen = kvLen = 3: row i sees keys j >= i - 1 (and everything to its right).
        float[] v = {3, 0, 1, 6, 5, 0};
        float[][] r = prefillZeroQuery(3, v, AttentionOptions.DEFAULT.withWindowLeft(1), null);
        assertClose(new double[] {3, 2, 3, 2, 3, 3}, r[0], TOL);
        assertClose(new double[] {Math.log(3), Math.log(3), Math.log(2)}, r[1], TOL);
    }

    @Test
    void customMaskBitsChooseTheKeysAndAnEmptyRowGivesZeroAndMinusInfinity() {
        // Row 0 allows key 1 only, row 1 keys 0 and 2, row 2 nothing.
        boolean[] bits = {false, true, false, true, false, true, false, false, false};
        float[] v = {3, 0, 1, 6, 5, 0};
        float[][] r = prefillZeroQuery(3, v, AttentionOptions.DEFAULT, CustomMask.fromBooleans(bits));
        assertClose(new double[] {1, 6, 4, 0, 0, 0}, r[0], TOL);
        assertEquals(0f, r[1][0]);
        assertEquals((float) Math.log(2), r[1][1], 1e-6);
        assertEquals(Float.NEGATIVE_INFINITY, r[1][2]);
    }

    @Test
    void lowerTriangularMaskEqualsCausalBitForBit() {
        int qoLen = 3;
        int kvLen = 5;
        boolean[] bits = new boolean[qoLen * kvLen];
        for (int i = 0; i < qoLen; i++) {
            for (int j = 0; j < kvLen; j++) {
                bits[i * kvLen + j] = j <= i + kvLen - qoLen;
            }
        }
        float[] v = {3, 0, 1, 6, 5, 0, -2, 7, 0.5f, 0.25f};
        float[][] causal = prefillZeroQuery(qoLen, v, AttentionOptions.DEFAULT.withCausal(true), null);
        float[][] masked = prefillZeroQuery(qoLen, v, AttentionOptions.DEFAULT, CustomMask.fromBooleans(bits));
        assertArrayEquals(causal[0], masked[0]);
        assertArrayEquals(causal[1], masked[1]);
    }

    @Test
    void noKeysGiveZeroOutputAndMinusInfinityLse() {
        try (Tensor q = f32(attn, new float[] {1, 2}, 1, 2);
             Tensor k = attn.allocate(DType.F32, 0, 1, 2);
             Tensor v = attn.allocate(DType.F32, 0, 1, 2);
             Tensor o = filled(attn, DType.F32, (byte) 0x7F, 1, 2);
             Tensor lse = filled(attn, DType.F32, (byte) 0x7F, 1)) {
            attn.singleDecode(q, new ContiguousKv(k, v, KvLayout.NHD), AttentionOptions.DEFAULT, o, lse);
            assertArrayEquals(new float[] {0, 0}, read(attn, o));
            assertArrayEquals(new float[] {Float.NEGATIVE_INFINITY}, read(attn, lse));
        }
    }

    @Test
    void batchDecodeWithAnEmptyRequestNextToAFullOne() {
        // Request 0 has no pages; request 1 has one key. Page size 2, pages [2, 2, 1, 2].
        PageTable table = new PageTable(new int[] {0, 0, 1}, new int[] {1}, new int[] {0, 1}, 2);
        try (Tensor q = f32(attn, new float[] {1, 1, 1, 1}, 2, 1, 2);
             Tensor k = f32(attn, new float[] {0, 0, 0, 0, 1, 1, 9, 9}, 2, 2, 1, 2);
             Tensor v = f32(attn, new float[] {0, 0, 0, 0, 7, -7, 9, 9}, 2, 2, 1, 2);
             Tensor o = filled(attn, DType.F32, (byte) 0x7F, 2, 1, 2);
             Tensor lse = filled(attn, DType.F32, (byte) 0x7F, 2, 1);
             BatchAttentionPlan plan = attn.planBatchDecode(table, new HeadConfig(1, 1, 2), UNSCALED,
                     PlanOptions.DEFAULT)) {
            plan.run(q, PagedKvCache.separate(k, v, KvLayout.NHD), o, lse);
            assertArrayEquals(new float[] {0, 0, 7, -7}, read(attn, o));
            assertArrayEquals(new float[] {Float.NEGATIVE_INFINITY, 2}, read(attn, lse));
        }
    }

    @Test
    void queryHeadsReadTheirGroupsKvHead() {
        // Hq 4, Hkv 2: heads 0, 1 read KV head 0 and heads 2, 3 read KV head 1. One key each.
        try (Tensor q = attn.allocate(DType.F32, 4, 1);
             Tensor k = attn.allocate(DType.F32, 1, 2, 1);
             Tensor v = f32(attn, new float[] {10, 20}, 1, 2, 1);
             Tensor o = attn.allocate(DType.F32, 4, 1)) {
            attn.singleDecode(q, new ContiguousKv(k, v, KvLayout.NHD), AttentionOptions.DEFAULT, o, null);
            assertArrayEquals(new float[] {10, 10, 20, 20}, read(attn, o));
        }
    }

    @Test
    void slotsPastKvLenAndUnreferencedPagesAreNeverRead() {
        // Page size 4, kvLen 5 over pages 2 then 0; every other slot (and page 1) holds NaN.
        float nan = Float.NaN;
        float[] k = new float[3 * 4 * 2];
        float[] v = new float[3 * 4 * 2];
        java.util.Arrays.fill(k, nan);
        java.util.Arrays.fill(v, nan);
        float[] values = {1, 2, 3, 4, 5};
        for (int t = 0; t < 5; t++) {
            int page = t < 4 ? 2 : 0;
            int slot = t % 4;
            int at = (page * 4 + slot) * 2;
            k[at] = 0;
            k[at + 1] = 0;
            v[at] = values[t];
            v[at + 1] = -values[t];
        }
        PageTable table = new PageTable(new int[] {0, 2}, new int[] {2, 0}, new int[] {1}, 4);
        try (Tensor q = f32(attn, new float[] {1, 1}, 1, 1, 2);
             Tensor kt = f32(attn, k, 3, 4, 1, 2);
             Tensor vt = f32(attn, v, 3, 4, 1, 2);
             Tensor o = attn.allocate(DType.F32, 1, 1, 2);
             Tensor lse = attn.allocate(DType.F32, 1, 1);
             BatchAttentionPlan plan = attn.planBatchDecode(table, new HeadConfig(1, 1, 2), AttentionOptions.DEFAULT,
                     PlanOptions.DEFAULT)) {
            plan.run(q, PagedKvCache.separate(kt, vt, KvLayout.NHD), o, lse);
            assertClose(new double[] {3, -3}, read(attn, o), TOL);
            assertClose(new double[] {Math.log(5)}, read(attn, lse), TOL);
        }
    }

    @Test
    void hndAndNhdLayoutsAgreeBitForBit() {
        // Two KV heads, three keys, D = 2, written once in each layout.
        float[] kNhd = {1, 2, -1, 0, 0.5f, 3, 2, 2, -1, 1, 0, -2};
        float[] vNhd = {1, 0, 0, 1, 2, 2, -1, 3, 4, 4, 0, 5};
        float[] kHnd = new float[12];
        float[] vHnd = new float[12];
        for (int j = 0; j < 3; j++) {
            for (int h = 0; h < 2; h++) {
                for (int d = 0; d < 2; d++) {
                    kHnd[(h * 3 + j) * 2 + d] = kNhd[(j * 2 + h) * 2 + d];
                    vHnd[(h * 3 + j) * 2 + d] = vNhd[(j * 2 + h) * 2 + d];
                }
            }
        }
        float[] q = {1, -1, 0.5f, 2, 3, 1, -2, 0};
        float[] nhd = run(q, kNhd, vNhd, KvLayout.NHD, new long[] {3, 2, 2});
        float[] hnd = run(q, kHnd, vHnd, KvLayout.HND, new long[] {2, 3, 2});
        assertArrayEquals(nhd, hnd);
    }

    private float[] run(float[] q, float[] k, float[] v, KvLayout layout, long[] kvShape) {
        try (Tensor qt = f32(attn, q, 4, 2);
             Tensor kt = f32(attn, k, kvShape);
             Tensor vt = f32(attn, v, kvShape);
             Tensor o = attn.allocate(DType.F32, 4, 2)) {
            attn.singleDecode(qt, new ContiguousKv(kt, vt, layout), AttentionOptions.DEFAULT, o, null);
            return read(attn, o);
        }
    }

    @Test
    void outputIsRoundedOnceFromDoubleIntoF16() {
        // Two equally weighted values average to 1 + 2^-11 + 2^-24, just above the F16 midpoint
        // between 1 and 1 + 2^-10. Through float it would land exactly on the midpoint and round
        // down to 1 (ties to even); rounded once it is 1 + 2^-10 (F16 bits 0x3C01).
        float v0 = 1 + 0x1p-11f;
        float v1 = 1 + 0x1p-11f + 0x1p-23f;
        try (Tensor q = tensor(attn, DType.F16, new float[] {0}, 1, 1);
             Tensor k = attn.allocate(DType.F32, 2, 1, 1);
             Tensor v = f32(attn, new float[] {v0, v1}, 2, 1, 1);
             Tensor o = attn.allocate(DType.F16, 1, 1);
             HostTensor out = HostTensor.allocate(DType.F16, 1, 1)) {
            attn.singleDecode(q, new ContiguousKv(k, v, KvLayout.NHD), AttentionOptions.DEFAULT, o, null);
            attn.download(o, out);
            assertEquals(0x3C01, out.getBits(0));
        }
    }

    @Test
    void longCausalPrefillAveragesEveryPrefixAcrossTaskBlocks() {
        // 130 rows (more than two blocks of work), q = 0 so row i weighs keys 0..i equally:
        // with v_j = j, o_i = i / 2 and lse_i = ln(i + 1).
        int n = 130;
        float[] v = new float[n];
        double[] expectO = new double[n];
        double[] expectLse = new double[n];
        for (int j = 0; j < n; j++) {
            v[j] = j;
            expectO[j] = j / 2.0;
            expectLse[j] = Math.log(j + 1);
        }
        try (Tensor q = attn.allocate(DType.F32, n, 1, 1);
             Tensor k = attn.allocate(DType.F32, n, 1, 1);
             Tensor vt = f32(attn, v, n, 1, 1);
             Tensor o = attn.allocate(DType.F32, n, 1, 1);
             Tensor lse = attn.allocate(DType.F32, n, 1)) {
            attn.singlePrefill(q, new ContiguousKv(k, vt, KvLayout.NHD), AttentionOptions.DEFAULT.withCausal(true), null,
                    o, lse);
            assertClose(expectO, read(attn, o), TOL);
            assertClose(expectLse, read(attn, lse), TOL);
        }
    }
}
