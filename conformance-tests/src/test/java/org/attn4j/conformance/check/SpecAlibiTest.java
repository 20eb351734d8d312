package org.attn4j.conformance.check;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.attn4j.options.AlibiSlopes;
import org.junit.jupiter.api.Test;

/** The suite's standard ALiBi slopes by hand, and against core-api's helper that users call. */
class SpecAlibiTest {
    @Test
    void eightHeadsHalveFromOneHalf() {
        assertArrayEquals(new float[] {0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f},
                SpecAlibi.standardSlopes(8));
    }

    @Test
    void sixHeadsAreFourHeadsThenTheOddTermsOfEight() {
        // 4 heads: 2^-2, 2^-4, 2^-6, 2^-8; 8 heads' first and third terms: 2^-1, 2^-3.
        assertArrayEquals(new float[] {0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f, 0.125f},
                SpecAlibi.standardSlopes(6));
        float[] five = SpecAlibi.standardSlopes(5);
        assertEquals(0.5f, five[4]);
    }

    @Test
    void coreApisHelperGivesTheSameSlopes() {
        for (int n = 1; n <= 130; n++) {
            assertArrayEquals(SpecAlibi.standardSlopes(n), AlibiSlopes.standard(n).slopes(), "heads " + n);
        }
    }
}
