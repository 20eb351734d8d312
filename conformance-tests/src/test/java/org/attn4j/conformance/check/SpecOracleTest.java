package org.attn4j.conformance.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The second oracle against hand-computed values, and the tolerances' edges. */
class SpecOracleTest {
    private static AttentionCase twoKeys(boolean causal, int qoLen) {
        return new AttentionCase(new int[] {qoLen}, new int[] {2}, 1, 1, 2, 16, KvLayout.NHD, false, 0, DType.F32,
                DType.F32, 1f, 1f, causal, -1, 0f, 1f, AttentionCase.RopeKind.NONE, AttentionCase.MaskKind.NONE, true,
                AttentionCase.DataKind.UNIFORM, 1L);
    }

    @Test
    void softmaxOverTwoKeysByHand() {
        // q = (1, 0); k0 = (1, 0), k1 = (0, 1); v0 = (1, 0), v1 = (0, 1); scale 1: logits 1 and 0
        CaseData data = CaseData.explicit(twoKeys(false, 1), new float[] {1, 0}, new float[][] {{1, 0, 0, 1}},
                new float[][] {{1, 0, 0, 1}}, null);
        AttentionOutput out = SpecOracle.attention(data);
        double e = Math.E;
        assertEquals(e / (e + 1), out.o()[0], 1e-7);
        assertEquals(1 / (e + 1), out.o()[1], 1e-7);
        assertEquals(Math.log(e + 1), out.lse()[0], 1e-6);
    }

    @Test
    void causalFirstRowSeesOnlyTheFirstKey() {
        // qoLen 2 = kvLen 2: row 0 at position 0 sees key 0 only
        CaseData data = CaseData.explicit(twoKeys(true, 2), new float[] {1, 0, 1, 0}, new float[][] {{1, 0, 0, 1}},
                new float[][] {{3, 4, 5, 6}}, null);
        AttentionOutput out = SpecOracle.attention(data);
        assertEquals(3f, out.o()[0]);
        assertEquals(4f, out.o()[1]);
        assertEquals(1f, out.lse()[0], 1e-6);
    }

    @Test
    void noAllowedKeyGivesZeroAndMinusInfinity() {
        CaseData data = CaseData.explicit(twoKeys(false, 1), new float[] {1, 0}, new float[][] {{1, 0, 0, 1}},
                new float[][] {{1, 0, 0, 1}}, new boolean[][] {{false, false}});
        AttentionCase.Builder b = data.kase().toBuilder();
        b.mask = AttentionCase.MaskKind.BOOLEANS;
        AttentionOutput out = SpecOracle.attention(CaseData.explicit(b.build(), new float[] {1, 0},
                new float[][] {{1, 0, 0, 1}}, new float[][] {{1, 0, 0, 1}}, new boolean[][] {{false, false}}));
        assertEquals(0f, out.o()[0]);
        assertEquals(Float.NEGATIVE_INFINITY, out.lse()[0]);
    }

    @Test
    void vRowsOfAnotherHeadDimGiveOutputRowsOfTheirLength() {
        // Dqk = 4, Dvo = 3, default scale 1/sqrt(Dqk) = 1/2: q = (2, 0, 0, 0) against k0 = (1, 0, 0, 0),
        // k1 = 0 gives logits 1 and 0; v0 = (1, 0, 5), v1 = (0, 1, 5) weigh into an o of 3 elements.
        AttentionCase.Builder b = twoKeys(false, 1).toBuilder().headDims(4, 3);
        b.smScale = Float.NaN;
        CaseData data = CaseData.explicit(b.build(), new float[] {2, 0, 0, 0},
                new float[][] {{1, 0, 0, 0, 0, 0, 0, 0}}, new float[][] {{1, 0, 5, 0, 1, 5}}, null);
        AttentionOutput out = SpecOracle.attention(data);
        double e = Math.E;
        assertEquals(3, out.headDim());
        assertEquals(3, out.o().length);
        assertEquals(Math.log(e + 1), out.lse()[0], 1e-6);
        assertEquals(e / (e + 1), out.o()[0], 1e-7);
        assertEquals(1 / (e + 1), out.o()[1], 1e-7);
        assertEquals(5, out.o()[2], 1e-6);
    }

    @Test
    void defaultScaleIsOneOverSqrtD() {
        // D = 4, scale 1/2: q = (2, 0, 0, 0) against k0 = (1, 0, 0, 0), k1 = 0 gives logits 1 and 0
        AttentionCase.Builder b = twoKeys(false, 1).toBuilder();
        b.headDim(4);
        b.smScale = Float.NaN;
        CaseData data = CaseData.explicit(b.build(), new float[] {2, 0, 0, 0},
                new float[][] {{1, 0, 0, 0, 0, 0, 0, 0}}, new float[][] {{1, 0, 0, 0, 0, 1, 0, 0}}, null);
        AttentionOutput out = SpecOracle.attention(data);
        double e = Math.E;
        assertEquals(Math.log(e + 1), out.lse()[0], 1e-6);
        assertEquals(e / (e + 1), out.o()[0], 1e-7);
        assertEquals(1 / (e + 1), out.o()[1], 1e-7);
    }

    @Test
    void ropeRotatesQueriesAtTheirPositionAndKeysAtTheirs() {
        // D = 2, HALF: one pair, freq 1. The query at pq = 1 and key j give dot(q, R(j - 1) k).
        AttentionCase.Builder b = twoKeys(false, 1).toBuilder();
        b.rope = AttentionCase.RopeKind.HALF;
        CaseData data = CaseData.explicit(b.build(), new float[] {1, 0}, new float[][] {{1, 0, 1, 0}},
                new float[][] {{1, 0, 0, 1}}, null);
        AttentionOutput out = SpecOracle.attention(data);
        double l0 = Math.cos(1); // key 0 turned by -1 relative to the query
        double l1 = 1;
        assertEquals(Math.log(Math.exp(l0) + Math.exp(l1)), out.lse()[0], 1e-6);
        assertEquals(Math.exp(l0) / (Math.exp(l0) + Math.exp(l1)), out.o()[0], 1e-7);
    }

    @Test
    void ropeAtANegativeQueryPositionTurnsBackwards() {
        // three query rows over two keys, not causal: row 0 sits at pq = -1
        AttentionCase.Builder b = twoKeys(false, 3).toBuilder();
        b.rope = AttentionCase.RopeKind.INTERLEAVED;
        CaseData data = CaseData.explicit(b.build(), new float[] {1, 0, 1, 0, 1, 0}, new float[][] {{1, 0, 1, 0}},
                new float[][] {{1, 0, 0, 1}}, null);
        AttentionOutput out = SpecOracle.attention(data);
        double l0 = Math.cos(1); // key 0 at position 0, query at -1
        double l1 = Math.cos(2); // key 1 at position 1
        assertEquals(Math.log(Math.exp(l0) + Math.exp(l1)), out.lse()[0], 1e-6);
    }

    @Test
    void theSinkJoinsTheSoftmaxWithAZeroValue() {
        // logits 1 and 0 as above, plus head 0's sink s: weights e, 1 and e^s over their sum.
        AttentionCase.Builder b = twoKeys(false, 1).toBuilder();
        b.sinks = AttentionCase.SinkKind.DRAWN;
        AttentionCase c = b.build();
        double sink = c.sinkLogits()[0];
        AttentionOutput out = SpecOracle.attention(CaseData.explicit(c, new float[] {1, 0},
                new float[][] {{1, 0, 0, 1}}, new float[][] {{1, 0, 0, 1}}, null));
        double e = Math.E;
        double z = e + 1 + Math.exp(sink);
        assertEquals(e / z, out.o()[0], 1e-7);
        assertEquals(1 / z, out.o()[1], 1e-7);
        assertEquals(Math.log(z), out.lse()[0], 1e-6);
    }

    @Test
    void aRowWithoutKeysTakesTheSinkAsItsLse() {
        AttentionCase.Builder b = twoKeys(false, 1).toBuilder();
        b.sinks = AttentionCase.SinkKind.DRAWN;
        b.mask = AttentionCase.MaskKind.BOOLEANS;
        AttentionCase c = b.build();
        CaseData data = CaseData.explicit(c, new float[] {1, 0}, new float[][] {{1, 0, 0, 1}},
                new float[][] {{1, 0, 0, 1}}, new boolean[][] {{false, false}});
        AttentionOutput out = SpecOracle.attention(data);
        assertEquals(0f, out.o()[0]);
        assertEquals(0f, out.o()[1]);
        assertEquals(c.sinkLogits()[0], out.lse()[0]);
        assertTrue(SpecOracle.rowsWithoutKeys(data)[0]);
    }

    @Test
    void sinkValuesAreFiniteAndFollowTheSeed() {
        AttentionCase.Builder b = twoKeys(false, 1).toBuilder().heads(64, 8);
        b.sinks = AttentionCase.SinkKind.DRAWN;
        float[] s = b.build().sinkLogits();
        assertEquals(64, s.length);
        org.junit.jupiter.api.Assertions.assertArrayEquals(s, b.build().sinkLogits());
        boolean low = false;
        boolean high = false;
        for (float x : s) {
            assertTrue(Float.isFinite(x) && x >= -40 && x <= 12, "sink " + x);
            low |= x == -40f;
            high |= x >= 8;
        }
        assertTrue(low && high, "64 heads draw a far-below and a well-above sink: " + java.util.Arrays.toString(s));
        assertEquals(null, twoKeys(false, 1).sinkLogits());
    }

    @Test
    void alibiAddsSlopeTimesDistanceBeforeTheSoftCap() {
        // One row over 2 keys (pq = 1), q . k = 1 and 0, scale 1; one head's standard slope is 2^-8:
        // logits 1 + 2^-8 * (0 - 1) and 0 + 2^-8 * (1 - 1), then capped at 2.
        AttentionCase.Builder b = twoKeys(false, 1).toBuilder();
        b.alibi = AttentionCase.AlibiKind.STANDARD;
        b.softCap = 2f;
        AttentionOutput out = SpecOracle.attention(CaseData.explicit(b.build(), new float[] {1, 0},
                new float[][] {{1, 0, 0, 1}}, new float[][] {{1, 0, 0, 1}}, null));
        double l0 = 2 * Math.tanh((1 - Math.pow(2, -8)) / 2);
        double l1 = 0;
        double z = Math.exp(l0) + Math.exp(l1);
        assertEquals(Math.log(z), out.lse()[0], 1e-6);
        assertEquals(Math.exp(l0) / z, out.o()[0], 1e-7);
    }

    @Test
    void alibiCountsFromANegativeQueryPosition() {
        // three rows over two keys, not causal, q = 0: row 0 at pq = -1 sees biases s and 2s.
        AttentionCase.Builder b = twoKeys(false, 3).toBuilder();
        b.alibi = AttentionCase.AlibiKind.DRAWN;
        AttentionCase c = b.build();
        double s = c.alibiSlopeValues()[0];
        AttentionOutput out = SpecOracle.attention(CaseData.explicit(c, new float[6], new float[][] {{1, 0, 0, 1}},
                new float[][] {{1, 0, 0, 1}}, null));
        assertEquals(Math.log(Math.exp(s) + Math.exp(2 * s)), out.lse()[0], 1e-6);
        assertEquals(Math.exp(2 * s) / (Math.exp(s) + Math.exp(2 * s)), out.o()[1], 1e-7);
    }

    @Test
    void tolerancesFollowSpec() {
        assertTrue(Tolerance.F16.accepts(1.0039, 1.0));
        assertFalse(Tolerance.F16.accepts(1.0041, 1.0));
        assertFalse(Tolerance.F32.accepts(Double.NaN, Double.NaN));
        assertFalse(Tolerance.BF16.accepts(Double.NEGATIVE_INFINITY, -1e30));
        assertTrue(Tolerance.lseAccepts(Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY));
        assertFalse(Tolerance.lseAccepts(-1e30, Double.NEGATIVE_INFINITY));
        assertTrue(Tolerance.lseAccepts(10.01, 10));
        assertFalse(Tolerance.lseAccepts(10.02, 10));
    }

    @Test
    void comparisonNamesTheFirstMismatch() {
        AttentionOutput ref = new AttentionOutput(new float[] {1, 2, 3, 4}, new float[] {0, 1}, DType.F16, 2, 1, 2);
        AttentionOutput bad = new AttentionOutput(new float[] {1, 2, 3, 5}, new float[] {0, 1}, DType.F16, 2, 1, 2);
        AssertionError e = assertThrows(AssertionError.class, () -> Compare.outputs("x", bad, ref, Tolerance.F16));
        assertTrue(e.getMessage().contains("o[row 1, head 0, d 1] = 5.0, expected 4.0"), e.getMessage());
        Compare.outputs("same", ref, ref, Tolerance.EXACT);
    }
}
