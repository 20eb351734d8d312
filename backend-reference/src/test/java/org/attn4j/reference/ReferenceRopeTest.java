package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.E;
import static org.attn4j.reference.ReferenceTestSupport.assertClose;
import static org.attn4j.reference.ReferenceTestSupport.f32;
import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.attn4j.AttentionBackend;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.Llama31RopeScaling;
import org.attn4j.options.RopeOptions;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * RoPE by quarter turns. With {@code theta = 1} every pair has frequency {@code 1 / scale}, so
 * {@code scale = 2 / pi} turns each pair by 90 degrees per position.
 */
class ReferenceRopeTest {
    private static final double TOL = 1e-6;
    private static final RopeOptions QUARTER_TURN = new RopeOptions(false, 1, 2 / Math.PI, null);

    private final AttentionBackend attn = ReferenceTestSupport.open();

    @AfterEach
    void close() {
        attn.close();
    }

    private float[] rotate(float[] x, int position, RopeOptions rope) {
        try (Tensor q = f32(attn, x, 1, 1, x.length)) {
            attn.applyRope(q, null, new int[] {position}, rope);
            return read(attn, q);
        }
    }

    @Test
    void rotateHalfPairsDimensionWithDimensionPlusHalf() {
        // Pairs (0, 2) and (1, 3) by 90 degrees: (x0, x2) -> (-x2, x0), (x1, x3) -> (-x3, x1).
        assertClose(new double[] {-3, -4, 1, 2}, rotate(new float[] {1, 2, 3, 4}, 1, QUARTER_TURN), TOL);
    }

    @Test
    void interleavedPairsNeighbours() {
        // Pairs (0, 1) and (2, 3): (1, 2) -> (-2, 1), (3, 4) -> (-4, 3).
        assertClose(new double[] {-2, 1, -4, 3},
                rotate(new float[] {1, 2, 3, 4}, 1, QUARTER_TURN.withInterleaved(true)), TOL);
    }

    @Test
    void partialRotaryTurnsTheFirstRotaryDimsAndPassesTheRestThrough() {
        // D = 6, R = 4: pairs (0, 2) and (1, 3) by 90 degrees as above, dims 4 and 5 untouched.
        RopeOptions partial = QUARTER_TURN.withRotaryDim(4);
        assertClose(new double[] {-3, -4, 1, 2, 5, 6}, rotate(new float[] {1, 2, 3, 4, 5, 6}, 1, partial), TOL);
        // Interleaved, R = 2: only pair (0, 1) turns.
        assertClose(new double[] {-2, 1, 3, 4, 5, 6},
                rotate(new float[] {1, 2, 3, 4, 5, 6}, 1, partial.withInterleaved(true).withRotaryDim(2)), TOL);
    }

    @Test
    void partialRotaryFrequenciesFollowTheRotaryDim() {
        // D = 8, R = 4, theta = 1/f^2: pair 1 (dims 1 and 3) turns at theta^(-2/4) = f, as a head of
        // R dims would; with D in the exponent it would turn at f^(1/2).
        double f = 0.01;
        RopeOptions rope = new RopeOptions(false, 1 / (f * f), 1, null).withRotaryDim(4);
        int position = 100;
        assertClose(new double[] {0, Math.cos(position * f), 0, Math.sin(position * f), 0, 0, 0, 7},
                rotate(new float[] {0, 1, 0, 0, 0, 0, 0, 7}, position, rope), TOL);
    }

    @Test
    void rotaryDimAboveTheHeadDimIsRejected() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> rotate(new float[] {1, 2, 3, 4}, 1, QUARTER_TURN.withRotaryDim(6)));
        assertEquals("rope.rotaryDim", e.argument());
    }

    @Test
    void twoPositionsTurnHalfWayAndPositionZeroLeavesTheVectorAlone() {
        assertClose(new double[] {-1, -2, -3, -4}, rotate(new float[] {1, 2, 3, 4}, 2, QUARTER_TURN), TOL);
        assertClose(new double[] {1, 2, 3, 4}, rotate(new float[] {1, 2, 3, 4}, 0, QUARTER_TURN), 0);
    }

    @Test
    void queryAndKeyRotateTogetherInOneCall() {
        try (Tensor q = f32(attn, new float[] {1, 0, 0, 1}, 2, 1, 2);
             Tensor k = f32(attn, new float[] {0, 1, 1, 0}, 2, 1, 2)) {
            attn.applyRope(q, k, new int[] {1, 2}, QUARTER_TURN);
            // Row 0 at position 1 turns 90 degrees, row 1 at position 2 turns 180 degrees.
            assertClose(new double[] {0, 1, 0, -1}, read(attn, q), TOL);
            assertClose(new double[] {-1, 0, -1, 0}, read(attn, k), TOL);
        }
    }

    @Test
    void llama31ScalingSlowsLowFrequencies() {
        // D = 4, theta = 1 / f^2: pair 1 (dims 1 and 3) has frequency theta^(-2/4) = f. f = 2 pi / 4096
        // gives a wavelength of 4096, between the high (8192 / 4 = 2048) and low (8192) cut-offs,
        // so the frequency is blended: smooth = (8192 / 4096 - 1) / (4 - 1) = 1/3,
        // f' = (2/3) f / 8 + (1/3) f = 5f / 12. (Scale stays 1: with Llama 3.1 it must, spec §3.)
        double f = 2 * Math.PI / 4096;
        RopeOptions rope = new RopeOptions(false, 1 / (f * f), 1, Llama31RopeScaling.DEFAULT);
        int position = 1000;
        double angle = position * 5 * f / 12;
        assertClose(new double[] {0, Math.cos(angle), 0, Math.sin(angle)},
                rotate(new float[] {0, 1, 0, 0}, position, rope), TOL);
    }

    @Test
    void onTheFlyRopeRotatesQueryAtItsPositionAndEachKeyAtItsIndex() {
        // kvLen 2, decode: q sits at position 1. Key 1 is turned like q (dot 1); key 0 stays and
        // ends 90 degrees from q (dot 0). Logits 0 and 1 weigh v0, v1 by 1/(1+e), e/(1+e).
        try (Tensor q = f32(attn, new float[] {1, 0}, 1, 2);
             Tensor k = f32(attn, new float[] {1, 0, 1, 0}, 2, 1, 2);
             Tensor v = f32(attn, new float[] {1, 0, 0, 1}, 2, 1, 2);
             Tensor o = attn.allocate(DType.F32, 1, 2);
             Tensor lse = attn.allocate(DType.F32, 1)) {
            AttentionOptions options = AttentionOptions.DEFAULT.withSmScale(1f).withRope(QUARTER_TURN);
            attn.singleDecode(q, new ContiguousKv(k, v, KvLayout.NHD), options, o, lse);
            assertClose(new double[] {1 / (1 + E), E / (1 + E)}, read(attn, o), TOL);
            assertClose(new double[] {Math.log(1 + E)}, read(attn, lse), TOL);
        }
    }
}
