package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.assertClose;
import static org.attn4j.reference.ReferenceTestSupport.f32;
import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** spec §4: merge by hand, and its laws. */
class ReferenceMergeTest {
    private static final double TOL = 1e-6;
    private static final int ROWS = 3;
    private static final int HQ = 2;
    private static final int D = 4;

    private final AttentionBackend attn = ReferenceTestSupport.open();
    private final Random random = new Random(11);

    @AfterEach
    void close() {
        attn.close();
    }

    /** A state (o, s) on the backend. */
    private record State(Tensor o, Tensor s) implements AutoCloseable {
        @Override
        public void close() {
            o.close();
            s.close();
        }
    }

    private State state(float[] o, float[] s) {
        return new State(f32(attn, o, ROWS, HQ, D), f32(attn, s, ROWS, HQ));
    }

    private State randomState() {
        float[] o = new float[ROWS * HQ * D];
        float[] s = new float[ROWS * HQ];
        for (int i = 0; i < o.length; i++) {
            o[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < s.length; i++) {
            s[i] = (float) (6 * random.nextDouble() - 3);
        }
        return state(o, s);
    }

    private State emptyState() {
        float[] s = new float[ROWS * HQ];
        java.util.Arrays.fill(s, Float.NEGATIVE_INFINITY);
        return state(new float[ROWS * HQ * D], s);
    }

    private State merge(State a, State b) {
        State c = new State(attn.allocate(DType.F32, ROWS, HQ, D), attn.allocate(DType.F32, ROWS, HQ));
        attn.mergeState(a.o, a.s, b.o, b.s, c.o, c.s);
        return c;
    }

    @Test
    void weightsFollowTheLseDifferenceByHand() {
        // sA = 0, sB = ln 3: weights 1/4 and 3/4, merged lse ln 4. Equal lse 1: average, 1 + ln 2.
        float[] oA = new float[ROWS * HQ * D];
        float[] oB = new float[ROWS * HQ * D];
        float[] sA = new float[ROWS * HQ];
        float[] sB = new float[ROWS * HQ];
        double[] expectO = new double[oA.length];
        double[] expectS = new double[sA.length];
        for (int st = 0; st < sA.length; st++) {
            boolean even = st % 2 == 0;
            sA[st] = even ? 0 : 1;
            sB[st] = even ? (float) Math.log(3) : 1;
            expectS[st] = even ? Math.log(4) : 1 + Math.log(2);
            for (int d = 0; d < D; d++) {
                int i = st * D + d;
                oA[i] = 4 * d;
                oB[i] = -8;
                expectO[i] = even ? (4 * d) / 4.0 + 3 * -8 / 4.0 : (4 * d - 8) / 2.0;
            }
        }
        try (State a = state(oA, sA); State b = state(oB, sB); State c = merge(a, b)) {
            assertClose(expectO, read(attn, c.o), TOL);
            assertClose(expectS, read(attn, c.s), TOL);
        }
    }

    @Test
    void mergeIsCommutativeBitForBit() {
        try (State a = randomState(); State b = randomState(); State ab = merge(a, b); State ba = merge(b, a)) {
            assertArrayEquals(read(attn, ab.o), read(attn, ba.o));
            assertArrayEquals(read(attn, ab.s), read(attn, ba.s));
        }
    }

    @Test
    void mergeIsAssociative() {
        try (State a = randomState(); State b = randomState(); State c = randomState();
             State ab = merge(a, b); State abC = merge(ab, c);
             State bc = merge(b, c); State aBc = merge(a, bc)) {
            assertClose(toDouble(read(attn, abC.o)), read(attn, aBc.o), TOL);
            assertClose(toDouble(read(attn, abC.s)), read(attn, aBc.s), TOL);
        }
    }

    @Test
    void zeroAndMinusInfinityIsTheIdentityBitForBit() {
        try (State a = randomState(); State empty = emptyState(); State left = merge(empty, a);
             State right = merge(a, empty)) {
            assertArrayEquals(read(attn, a.o), read(attn, left.o));
            assertArrayEquals(read(attn, a.s), read(attn, left.s));
            assertArrayEquals(read(attn, a.o), read(attn, right.o));
            assertArrayEquals(read(attn, a.s), read(attn, right.s));
        }
    }

    @Test
    void twoEmptyStatesMergeToZeroAndMinusInfinityEvenOverGarbage() {
        float[] nan = new float[ROWS * HQ * D];
        java.util.Arrays.fill(nan, Float.NaN);
        float[] minusInf = new float[ROWS * HQ];
        java.util.Arrays.fill(minusInf, Float.NEGATIVE_INFINITY);
        try (State a = state(nan, minusInf); State b = state(nan, minusInf); State c = merge(a, b)) {
            assertArrayEquals(new float[ROWS * HQ * D], read(attn, c.o));
            assertArrayEquals(minusInf, read(attn, c.s));
        }
    }

    @Test
    void inPlaceMergeLeavesMaskedOffRowsUntouched() {
        try (State a = randomState(); State b = randomState(); State expected = merge(a, b)) {
            float[] oBefore = read(attn, a.o);
            float[] sBefore = read(attn, a.s);
            attn.mergeStateInPlace(a.o, a.s, b.o, b.s, new boolean[] {true, false, true});
            float[] o = read(attn, a.o);
            float[] s = read(attn, a.s);
            float[] mergedO = read(attn, expected.o);
            float[] mergedS = read(attn, expected.s);
            for (int r = 0; r < ROWS; r++) {
                float[] wantO = r == 1 ? oBefore : mergedO;
                float[] wantS = r == 1 ? sBefore : mergedS;
                for (int i = r * HQ * D; i < (r + 1) * HQ * D; i++) {
                    org.junit.jupiter.api.Assertions.assertEquals(wantO[i], o[i], "o " + i);
                }
                for (int i = r * HQ; i < (r + 1) * HQ; i++) {
                    org.junit.jupiter.api.Assertions.assertEquals(wantS[i], s[i], "s " + i);
                }
            }
        }
    }

    @Test
    void mergeStatesOverThreeEqualsPairwiseMerges() {
        int n = 3;
        try (State a = randomState(); State b = randomState(); State c = randomState();
             State ab = merge(a, b); State abc = merge(ab, c)) {
            float[][] os = {read(attn, a.o), read(attn, b.o), read(attn, c.o)};
            float[][] ss = {read(attn, a.s), read(attn, b.s), read(attn, c.s)};
            float[] v = new float[ROWS * n * HQ * D];
            float[] s = new float[ROWS * n * HQ];
            for (int r = 0; r < ROWS; r++) {
                for (int k = 0; k < n; k++) {
                    System.arraycopy(os[k], r * HQ * D, v, (r * n + k) * HQ * D, HQ * D);
                    System.arraycopy(ss[k], r * HQ, s, (r * n + k) * HQ, HQ);
                }
            }
            try (Tensor vt = f32(attn, v, ROWS, n, HQ, D);
                 Tensor st = f32(attn, s, ROWS, n, HQ);
                 Tensor o = attn.allocate(DType.F32, ROWS, HQ, D);
                 Tensor sOut = attn.allocate(DType.F32, ROWS, HQ)) {
                attn.mergeStates(vt, st, o, sOut);
                assertClose(toDouble(read(attn, abc.o)), read(attn, o), TOL);
                assertClose(toDouble(read(attn, abc.s)), read(attn, sOut), TOL);
            }
        }
    }

    @Test
    void attentionOverAUnionIsTheMergeOfAttentionOverEachPart() {
        // One request with 6 keys in 3 pages of 2: A = pages 0, 1; B = page 2; A u B = all three.
        int hkv = 1;
        float[] k = new float[3 * 2 * hkv * D];
        float[] v = new float[k.length];
        float[] q = new float[HQ * D];
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) random.nextGaussian();
            v[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) random.nextGaussian();
        }
        try (Tensor kt = f32(attn, k, 3, 2, hkv, D);
             Tensor vt = f32(attn, v, 3, 2, hkv, D);
             Tensor qt = f32(attn, q, 1, HQ, D)) {
            PagedKvCache cache = PagedKvCache.separate(kt, vt, KvLayout.NHD);
            float[][] whole = decode(qt, cache, new int[] {0, 1, 2});
            float[][] partA = decode(qt, cache, new int[] {0, 1});
            float[][] partB = decode(qt, cache, new int[] {2});
            try (Tensor oA = f32(attn, partA[0], 1, HQ, D); Tensor sA = f32(attn, partA[1], 1, HQ);
                 Tensor oB = f32(attn, partB[0], 1, HQ, D); Tensor sB = f32(attn, partB[1], 1, HQ);
                 Tensor o = attn.allocate(DType.F32, 1, HQ, D); Tensor s = attn.allocate(DType.F32, 1, HQ)) {
                attn.mergeState(oA, sA, oB, sB, o, s);
                assertClose(toDouble(whole[0]), read(attn, o), TOL);
                assertClose(toDouble(whole[1]), read(attn, s), TOL);
            }
        }
    }

    private float[][] decode(Tensor q, PagedKvCache cache, int[] pages) {
        PageTable table = new PageTable(new int[] {0, pages.length}, pages, new int[] {2}, 2);
        try (BatchAttentionPlan plan = attn.planBatchDecode(table, new HeadConfig(HQ, 1, D), AttentionOptions.DEFAULT,
                PlanOptions.DEFAULT);
             Tensor o = attn.allocate(DType.F32, 1, HQ, D);
             Tensor lse = attn.allocate(DType.F32, 1, HQ)) {
            plan.run(q, cache, o, lse);
            return new float[][] {read(attn, o), read(attn, lse)};
        }
    }

    private static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i];
        }
        return out;
    }
}
