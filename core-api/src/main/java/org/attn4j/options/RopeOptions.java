package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;

/**
 * Rotary position embedding (spec §3). Positions are token indices within the request.
 * Immutable and thread-safe.
 *
 * @param interleaved false: pairs {@code (d, d + D/2)} ("rotate half"); true: pairs {@code (2d, 2d+1)}
 * @param theta       base, default 1e4
 * @param scale       frequencies are divided by it, default 1; must be 1 with {@code llama31}
 * @param llama31     Llama 3.1 frequency rescaling, or null; its factor takes the place of
 *                    {@code scale} (FlashInfer reads {@code rope_scale} as that factor), so a
 *                    {@code scale} other than 1 alongside it is rejected as ambiguous
 */
public record RopeOptions(boolean interleaved, double theta, double scale, Llama31RopeScaling llama31) {
    /** Rotate-half pairs, theta 1e4, scale 1, no Llama 3.1 rescaling. */
    public static final RopeOptions DEFAULT = new RopeOptions(false, 1e4, 1, null);

    /**
     * Checks the values.
     *
     * @throws InvalidArgumentException when theta or scale is not finite and positive, or scale is not
     *         1 with Llama 3.1 rescaling
     */
    public RopeOptions {
        if (!(theta > 0) || !Double.isFinite(theta)) {
            throw InvalidArgumentException.expected("rope.theta", "a finite value > 0", theta);
        }
        if (!(scale > 0) || !Double.isFinite(scale)) {
            throw InvalidArgumentException.expected("rope.scale", "a finite value > 0", scale);
        }
        if (llama31 != null && scale != 1) {
            throw InvalidArgumentException.expected("rope.scale",
                    "1 with Llama 3.1 scaling (llama31.factor is the scale there)", scale);
        }
    }

    /**
     * These options with pairs {@code (2d, 2d+1)} (true) or {@code (d, d + D/2)} (false).
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withInterleaved(boolean value) {
        return new RopeOptions(value, theta, scale, llama31);
    }

    /**
     * These options with another base.
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withTheta(double value) {
        return new RopeOptions(interleaved, value, scale, llama31);
    }

    /**
     * These options with another frequency divisor.
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withScale(double value) {
        return new RopeOptions(interleaved, theta, value, llama31);
    }

    /**
     * These options with Llama 3.1 rescaling, or none (null).
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withLlama31(Llama31RopeScaling value) {
        return new RopeOptions(interleaved, theta, scale, value);
    }

    /**
     * {@code freq_d} for {@code d < D/2}, in double; every backend derives its angles from these.
     *
     * @param headDim {@code D}, even
     * @return one frequency per rotation pair
     */
    public double[] frequencies(int headDim) {
        double[] f = new double[headDim / 2];
        for (int d = 0; d < f.length; d++) {
            double freq = (1.0 / scale) * Math.pow(theta, -2.0 * d / headDim);
            f[d] = llama31 == null ? freq : llama31.rescale(freq);
        }
        return f;
    }

    /**
     * Index of the first element of rotation pair {@code d} (its partner is {@link #second}).
     *
     * @param d       the pair, below {@code D/2}
     * @param headDim {@code D}
     * @return the element's index within a head
     */
    public int first(int d, int headDim) {
        return interleaved ? 2 * d : d;
    }

    /**
     * Index of the second element of rotation pair {@code d}.
     *
     * @param d       the pair, below {@code D/2}
     * @param headDim {@code D}
     * @return the element's index within a head
     */
    public int second(int d, int headDim) {
        return interleaved ? 2 * d + 1 : d + headDim / 2;
    }
}
