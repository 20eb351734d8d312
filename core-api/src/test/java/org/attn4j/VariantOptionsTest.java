package org.attn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.RopeOptions;
import org.junit.jupiter.api.Test;

/** Sinks and ALiBi slopes as values: copies, the finite-values rule, the standard slopes by hand. */
class VariantOptionsTest {

    @Test
    void sinksAndSlopesAreCopiedInAndOut() {
        float[] given = {1f, -2f};
        AttentionSinks sinks = AttentionSinks.of(given);
        given[0] = 99f;
        assertEquals(1f, sinks.logit(0));
        sinks.logits()[1] = 99f;
        assertArrayEquals(new float[] {1f, -2f}, sinks.logits());
        float[] slopes = {0.5f, 0.25f, 0f};
        AlibiSlopes alibi = AlibiSlopes.of(slopes);
        slopes[2] = 7f;
        alibi.slopes()[0] = 7f;
        assertArrayEquals(new float[] {0.5f, 0.25f, 0f}, alibi.slopes());
        assertEquals(3, alibi.numHeads());
    }

    @Test
    void optionsCompareSinksAndSlopesByValue() {
        AttentionOptions a = AttentionOptions.DEFAULT.withSinks(AttentionSinks.of(1f, 2f))
                .withAlibiSlopes(AlibiSlopes.standard(2));
        AttentionOptions b = AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.of(0.0625f, 0.00390625f))
                .withSinks(AttentionSinks.of(1f, 2f));
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
        assertNotEquals(a, b.withSinks(AttentionSinks.of(1f, 3f)));
        // Every other with* keeps them; the five-value constructor has neither.
        AttentionOptions c = a.withCausal(true).withWindowLeft(4).withLogitsSoftCap(30f).withSmScale(0.5f)
                .withRope(RopeOptions.DEFAULT);
        assertEquals(a.sinks(), c.sinks());
        assertEquals(a.alibiSlopes(), c.alibiSlopes());
        AttentionOptions plain = new AttentionOptions(true, -1, 0f, Float.NaN, null);
        assertNull(plain.sinks());
        assertNull(plain.alibiSlopes());
        assertNull(a.withSinks(null).sinks());
    }

    @Test
    void nonFiniteSinksAndSlopesAreRejectedByIndex() {
        InvalidArgumentException nan = assertThrows(InvalidArgumentException.class,
                () -> AttentionSinks.of(0f, Float.NaN));
        assertEquals("sinks[1]", nan.argument());
        assertEquals("sinks[1]: expected a finite logit (NaN and infinities are rejected), actual NaN",
                nan.getMessage());
        assertEquals("sinks[0]", assertThrows(InvalidArgumentException.class,
                () -> AttentionSinks.of(Float.NEGATIVE_INFINITY)).argument());
        assertEquals("sinks.length", assertThrows(InvalidArgumentException.class, AttentionSinks::of).argument());
        assertEquals("sinks", assertThrows(InvalidArgumentException.class,
                () -> AttentionSinks.of((float[]) null)).argument());
        InvalidArgumentException inf = assertThrows(InvalidArgumentException.class,
                () -> AlibiSlopes.of(0.5f, 0.25f, Float.POSITIVE_INFINITY));
        assertEquals("alibiSlopes[2]: expected a finite slope (NaN and infinities are rejected), actual Infinity",
                inf.getMessage());
        assertEquals("alibiSlopes.length", assertThrows(InvalidArgumentException.class, AlibiSlopes::of).argument());
        assertEquals("numHeads", assertThrows(InvalidArgumentException.class, () -> AlibiSlopes.standard(0))
                .argument());
        // Zero and negative slopes are slopes like any other.
        assertEquals(-0.5f, AlibiSlopes.of(0f, -0.5f).slope(1));
    }

    @Test
    void standardSlopesForPowersOfTwoAreTheGeometricSequence() {
        // 8 heads: 2^-1 .. 2^-8 (the ALiBi paper's example); 1 head: 2^-8; 2 heads: 2^-4, 2^-8.
        assertArrayEquals(new float[] {0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f},
                AlibiSlopes.standard(8).slopes());
        assertArrayEquals(new float[] {0.00390625f}, AlibiSlopes.standard(1).slopes());
        assertArrayEquals(new float[] {0.0625f, 0.00390625f}, AlibiSlopes.standard(2).slopes());
        // 16 heads: 2^-0.5, 2^-1, ..., 2^-8.
        float[] s16 = AlibiSlopes.standard(16).slopes();
        for (int h = 0; h < 16; h++) {
            assertEquals((float) Math.pow(2, -0.5 * (h + 1)), s16[h], "head " + h);
        }
    }

    @Test
    void standardSlopesForOtherHeadCountsTakeTheOddTermsOfTheNextPowerOfTwo() {
        // 3 heads: the 2-head slopes 2^-4, 2^-8, then the first odd term of the 4-head ones, 2^-2.
        assertArrayEquals(new float[] {0.0625f, 0.00390625f, 0.25f}, AlibiSlopes.standard(3).slopes());
        // 12 heads: 2^-1 .. 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
        float[] s12 = AlibiSlopes.standard(12).slopes();
        assertArrayEquals(AlibiSlopes.standard(8).slopes(), java.util.Arrays.copyOf(s12, 8));
        for (int k = 0; k < 4; k++) {
            assertEquals((float) Math.pow(2, -0.5 - k), s12[8 + k], "head " + (8 + k));
        }
    }

    @Test
    void standardSlopesEqualMptsConstruction() {
        // MPT's gen_slopes: the 2^ceil(log2 n) slopes 2^(-8 m / N), m = 1..N, then the even-m ones
        // followed by the odd-m ones, cut to n. A different route to BLOOM's definition.
        for (int n = 1; n <= 96; n++) {
            int big = Integer.bitCount(n) == 1 ? n : Integer.highestOneBit(n) << 1;
            double[] all = new double[big];
            for (int m = 1; m <= big; m++) {
                all[m - 1] = 1 / Math.pow(2, m * 8.0 / big);
            }
            float[] expected = new float[n];
            if (big == n) {
                for (int h = 0; h < n; h++) {
                    expected[h] = (float) all[h];
                }
            } else {
                int at = 0;
                for (int i = 1; i < big && at < n; i += 2) {
                    expected[at++] = (float) all[i];
                }
                for (int i = 0; i < big && at < n; i += 2) {
                    expected[at++] = (float) all[i];
                }
            }
            assertArrayEquals(expected, AlibiSlopes.standard(n).slopes(), "heads " + n);
        }
    }
}
