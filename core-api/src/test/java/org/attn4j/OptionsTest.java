package org.attn4j;

import org.attn4j.options.Llama31RopeScaling;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Head configs, attention options and RoPE frequencies, by hand. */
class OptionsTest {

    @Test
    void headConfigNamesTheRemainderWhenHeadsDoNotDivide() {
        assertEquals(4, new HeadConfig(32, 8, 128).groupSize());
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> new HeadConfig(6, 4, 64));
        assertTrue(e.getMessage().contains("numQoHeads") && e.getMessage().contains("6 % 4 = 2"), e.getMessage());
        assertThrows(InvalidArgumentException.class, () -> new HeadConfig(1, 1, 0));
    }

    @Test
    void defaultScaleIsOneOverSqrtD() {
        assertEquals(0.125f, AttentionOptions.DEFAULT.resolvedSmScale(64));
        assertEquals(0.5f, AttentionOptions.DEFAULT.withSmScale(0.5f).resolvedSmScale(64));
    }

    @Test
    void ropeFrequenciesFallGeometricallyAndScaleDividesThem() {
        // D = 4, theta 100: freq_0 = 1, freq_1 = 100^(-1/2) = 0.1; scale 2 halves both.
        assertArrayEquals(new double[] {1, 0.1}, new RopeOptions(false, 100, 1, null).frequencies(4), 1e-15);
        assertArrayEquals(new double[] {0.5, 0.05}, new RopeOptions(false, 100, 2, null).frequencies(4), 1e-15);
    }

    @Test
    void llama31KeepsHighFrequenciesDividesLowOnesAndBlendsBetween() {
        // With defaults (8, 1, 4, 8192): wavelengths below 2048 keep their frequency, above 8192
        // are divided by 8, and at 4096 smooth = (8192/4096 - 1) / 3 = 1/3: f' = (2/3) f/8 + (1/3) f.
        // D = 4 and theta = 1/f^2 put frequency f on pair 1 (freq_1 = theta^(-2/4)).
        Llama31RopeScaling s = Llama31RopeScaling.DEFAULT;
        for (double wavelength : new double[] {1000, 4096, 20000}) {
            double f = 2 * Math.PI / wavelength;
            double expected = wavelength < 2048 ? f : wavelength > 8192 ? f / 8 : (2.0 / 3) * f / 8 + f / 3;
            RopeOptions rope = new RopeOptions(false, 1 / (f * f), 1, s);
            assertEquals(expected, rope.frequencies(4)[1], 1e-13 * f, "wavelength " + wavelength);
        }
    }

    @Test
    void ropeScaleWithLlama31IsRejectedAsAmbiguous() {
        // FlashInfer reads rope_scale as the Llama 3.1 factor; attn4j takes the factor from
        // Llama31RopeScaling alone and refuses a second scale beside it (spec §3).
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> new RopeOptions(false, 5e5, 8, Llama31RopeScaling.DEFAULT));
        assertEquals("rope.scale", e.argument());
        assertTrue(e.getMessage().contains("actual 8.0"), e.getMessage());
        assertThrows(InvalidArgumentException.class,
                () -> RopeOptions.DEFAULT.withScale(2).withLlama31(Llama31RopeScaling.DEFAULT));
        assertThrows(InvalidArgumentException.class,
                () -> RopeOptions.DEFAULT.withLlama31(Llama31RopeScaling.DEFAULT).withScale(0.5));
        // Scale 1 with Llama 3.1, and any scale without it, stay valid.
        RopeOptions llama = RopeOptions.DEFAULT.withLlama31(Llama31RopeScaling.DEFAULT).withScale(1);
        assertEquals(1, llama.scale());
        assertEquals(4, RopeOptions.DEFAULT.withScale(4).scale());
    }

    @Test
    void ropePairsRotateHalfOrNeighbours() {
        assertEquals(3, RopeOptions.DEFAULT.second(1, 4));
        assertEquals(1, RopeOptions.DEFAULT.first(1, 4));
        assertEquals(2, RopeOptions.DEFAULT.withInterleaved(true).first(1, 4));
        assertEquals(3, RopeOptions.DEFAULT.withInterleaved(true).second(1, 4));
    }

    @Test
    void partialRotaryDefinesPairsAndFrequenciesOverTheRotaryDim() {
        // D = 8, R = 4, theta 100: freq_d = 100^(-2d/4) for d < 2, as HF's rope_init with
        // dim = rotary_dim; rotate-half pairs (d, d + R/2), interleaved pairs (2d, 2d + 1).
        RopeOptions partial = new RopeOptions(false, 100, 1, null).withRotaryDim(4);
        assertEquals(4, partial.rotatedDims(8));
        assertArrayEquals(new double[] {1, 0.1}, partial.frequencies(8), 1e-15);
        assertEquals(1, partial.first(1, 8));
        assertEquals(3, partial.second(1, 8));
        assertEquals(2, partial.withInterleaved(true).first(1, 8));
        assertEquals(3, partial.withInterleaved(true).second(1, 8));
        // 0 is the whole head; R = D gives the same frequencies and pairs.
        assertEquals(8, RopeOptions.DEFAULT.rotatedDims(8));
        assertArrayEquals(RopeOptions.DEFAULT.frequencies(8), RopeOptions.DEFAULT.withRotaryDim(8).frequencies(8));
        assertEquals(RopeOptions.DEFAULT.second(3, 8), RopeOptions.DEFAULT.withRotaryDim(8).second(3, 8));
    }

    @Test
    void everyWithKeepsTheRotaryDimAndTheOldConstructorRotatesTheWholeHead() {
        RopeOptions partial = RopeOptions.DEFAULT.withRotaryDim(32);
        assertEquals(32, partial.withInterleaved(true).withTheta(5e5).withScale(1)
                .withLlama31(Llama31RopeScaling.DEFAULT).rotaryDim());
        assertEquals(0, new RopeOptions(true, 1e4, 2, null).rotaryDim());
        assertEquals(0, RopeOptions.DEFAULT.rotaryDim());
    }

    @Test
    void oddOrNegativeRotaryDimIsRejectedNamingTheField() {
        for (int bad : new int[] {-2, -1, 1, 3, 63}) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> RopeOptions.DEFAULT.withRotaryDim(bad));
            assertEquals("rope.rotaryDim", e.argument());
            assertTrue(e.getMessage().contains("actual " + bad), e.getMessage());
        }
    }

    @Test
    void badRopeAndPlanSettingsNameTheArgument() {
        InvalidArgumentException theta = assertThrows(InvalidArgumentException.class,
                () -> RopeOptions.DEFAULT.withTheta(0));
        assertTrue(theta.getMessage().startsWith("rope.theta"), theta.getMessage());
        assertThrows(InvalidArgumentException.class, () -> new Llama31RopeScaling(8, 4, 1, 8192));
        InvalidArgumentException chunk = assertThrows(InvalidArgumentException.class, () -> new PlanOptions(false, -1));
        assertTrue(chunk.getMessage().contains("maxSplitChunk") && chunk.getMessage().contains("actual -1"),
                chunk.getMessage());
    }
}
