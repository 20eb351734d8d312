package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;

/**
 * Llama 3.1's rescaling of RoPE frequencies (defaults 8, 1, 4, 8192). Immutable and thread-safe.
 *
 * @param factor              how much low frequencies are slowed
 * @param lowFreqFactor       wavelengths above {@code originalMaxPosition / lowFreqFactor} are
 *                            divided by {@code factor}
 * @param highFreqFactor      wavelengths below {@code originalMaxPosition / highFreqFactor} are
 *                            kept; those between are blended
 * @param originalMaxPosition the context length the model was trained on
 */
public record Llama31RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPosition) {
    /** Llama 3.1's own values: 8, 1, 4, 8192. */
    public static final Llama31RopeScaling DEFAULT = new Llama31RopeScaling(8, 1, 4, 8192);

    /**
     * Checks the values.
     *
     * @throws InvalidArgumentException unless {@code factor > 0}, {@code 0 < lowFreqFactor < highFreqFactor}
     *         and {@code originalMaxPosition >= 1}
     */
    public Llama31RopeScaling {
        if (!(factor > 0) || !(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor) || originalMaxPosition < 1) {
            throw new InvalidArgumentException("llama31",
                    "expected factor > 0, 0 < lowFreqFactor < highFreqFactor, originalMaxPosition >= 1, actual "
                            + factor + ", " + lowFreqFactor + ", " + highFreqFactor + ", " + originalMaxPosition);
        }
    }

    double rescale(double freq) {
        double lowWavelen = originalMaxPosition / lowFreqFactor;
        double highWavelen = originalMaxPosition / highFreqFactor;
        double wavelen = 2 * Math.PI / freq;
        if (wavelen < highWavelen) {
            return freq;
        }
        if (wavelen > lowWavelen) {
            return freq / factor;
        }
        double smooth = (originalMaxPosition / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * freq / factor + smooth * freq;
    }
}
