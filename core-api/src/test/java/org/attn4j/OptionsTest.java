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
        Llama31RopeScaling s = Llama31RopeScaling.DEFAULT;
        for (double wavelength : new double[] {1000, 4096, 20000}) {
            double f = 2 * Math.PI / wavelength;
            double expected = wavelength < 2048 ? f : wavelength > 8192 ? f / 8 : (2.0 / 3) * f / 8 + f / 3;
            RopeOptions rope = new RopeOptions(false, 1e4, 1 / f, s);
            assertEquals(expected, rope.frequencies(2)[0], 1e-15, "wavelength " + wavelength);
        }
    }

    @Test
    void ropePairsRotateHalfOrNeighbours() {
        assertEquals(3, RopeOptions.DEFAULT.second(1, 4));
        assertEquals(1, RopeOptions.DEFAULT.first(1, 4));
        assertEquals(2, RopeOptions.DEFAULT.withInterleaved(true).first(1, 4));
        assertEquals(3, RopeOptions.DEFAULT.withInterleaved(true).second(1, 4));
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
