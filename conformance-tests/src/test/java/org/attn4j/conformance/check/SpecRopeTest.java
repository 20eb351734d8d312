package org.attn4j.conformance.check;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The suite's own RoPE against hand-computed frequencies and rotations. */
class SpecRopeTest {
    private static final double EPS = 1e-12;

    @Test
    void frequenciesFollowThetaAndScale() {
        assertArrayEquals(new double[] {1, 0.01}, new SpecRope(false, 1e4, 1, null).frequencyTable(4), EPS);
        assertArrayEquals(new double[] {0.25, 0.0025}, new SpecRope(false, 1e4, 4, null).frequencyTable(4), EPS);
        double[] f = new SpecRope(true, 5e5, 1, null).frequencyTable(8);
        for (int d = 0; d < 4; d++) {
            assertEquals(Math.pow(5e5, -d / 4.0), f[d], EPS);
        }
    }

    @Test
    void llama31KeepsHighFrequenciesDividesLowOnesAndBlendsBetween() {
        SpecRope.Llama31 l = SpecRope.Llama31.DEFAULT;
        double high = 2 * Math.PI / 1000; // wavelength 1000 < 8192 / 4
        double low = 2 * Math.PI / 10000; // wavelength 10000 > 8192 / 1
        double mid = 2 * Math.PI / 4096; // smooth = (8192 / 4096 - 1) / (4 - 1) = 1/3
        assertEquals(high, l.apply(high), EPS);
        assertEquals(low / 8, l.apply(low), EPS);
        assertEquals(mid * (2.0 / 3 / 8 + 1.0 / 3), l.apply(mid), EPS);
        double[] f = new SpecRope(false, 5e5, 1, l).frequencyTable(128);
        assertEquals(1.0, f[0], EPS);
        assertEquals(Math.pow(5e5, -126 / 128.0) / 8, f[63], EPS);
    }

    @Test
    void llama31WithARopeScaleIsNotDefined() {
        assertThrows(IllegalArgumentException.class, () -> new SpecRope(false, 5e5, 2, SpecRope.Llama31.DEFAULT));
    }

    @Test
    void rotateHalfPairsDWithDPlusHalf() {
        double[] x = {1, 2, 3, 4};
        double[] quarterTurn = {Math.PI / 2, 0};
        // pair (0, 2) turns by pi/2: x0' = -x2, x2' = x0; pair (1, 3) stays
        assertArrayEquals(new double[] {-3, 2, 1, 4}, new SpecRope(false, 1e4, 1, null).rotate(x, 1, quarterTurn),
                EPS);
        // a negative position turns the other way
        assertArrayEquals(new double[] {3, 2, -1, 4}, new SpecRope(false, 1e4, 1, null).rotate(x, -1, quarterTurn),
                EPS);
    }

    @Test
    void interleavedPairsNeighbours() {
        double[] x = {1, 2, 3, 4};
        double[] quarterTurn = {Math.PI / 2, 0};
        assertArrayEquals(new double[] {-2, 1, 3, 4}, new SpecRope(true, 1e4, 1, null).rotate(x, 1, quarterTurn),
                EPS);
        assertArrayEquals(new double[] {2, -1, 3, 4}, new SpecRope(true, 1e4, 1, null).rotate(x, 3, quarterTurn),
                EPS);
    }

    @Test
    void partialRotaryTakesFrequenciesAndPairsFromTheRotaryDim() {
        // D = 8, R = 4, theta 1e4: freq_d = 1e4^(-2d/4) = 1, 0.01, as a head of 4 dims has them.
        SpecRope partial = new SpecRope(false, 1e4, 1, null, 4);
        assertArrayEquals(new double[] {1, 0.01}, partial.frequencyTable(8), EPS);
        assertArrayEquals(new int[] {1, 3}, partial.pair(1, 8));
        assertArrayEquals(new int[] {2, 3}, new SpecRope(true, 1e4, 1, null, 4).pair(1, 8));
        // pair (0, 2) turns by pi/2, pair (1, 3) stays, dims 4..7 are copied
        double[] x = {1, 2, 3, 4, 5, 6, 7, 8};
        assertArrayEquals(new double[] {-3, 2, 1, 4, 5, 6, 7, 8}, partial.rotate(x, 1, new double[] {Math.PI / 2, 0}),
                EPS);
        // R = D is the whole head
        assertArrayEquals(new SpecRope(false, 1e4, 1, null).frequencyTable(8),
                new SpecRope(false, 1e4, 1, null, 8).frequencyTable(8), 0);
    }

    @Test
    void badRotaryDimsAreNotDefined() {
        assertThrows(IllegalArgumentException.class, () -> new SpecRope(false, 1e4, 1, null, 3));
        assertThrows(IllegalArgumentException.class, () -> new SpecRope(false, 1e4, 1, null, -2));
        assertThrows(IllegalArgumentException.class, () -> new SpecRope(false, 1e4, 1, null, 10).frequencyTable(8));
    }
}
