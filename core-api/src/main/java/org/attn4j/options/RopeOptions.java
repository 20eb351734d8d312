package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;

/**
 * Rotary position embedding (spec §3). Positions are token indices within the request.
 * Immutable and thread-safe.
 *
 * <p>With a rotary dim {@code R} (partial rotary, as GPT-NeoX, GPT-J and Phi-2 use it) only the
 * first {@code R} dims of each head are rotated, with pairs and frequencies defined over {@code R}
 * instead of {@code D}; dims from {@code R} on pass through unchanged. {@code R = D} is the whole
 * head, the same as 0.
 *
 * @param interleaved false: pairs {@code (d, d + R/2)} ("rotate half"); true: pairs {@code (2d, 2d+1)}
 * @param theta       base, default 1e4
 * @param scale       frequencies are divided by it, default 1; must be 1 with {@code llama31}
 * @param llama31     Llama 3.1 frequency rescaling, or null; its factor takes the place of
 *                    {@code scale} (FlashInfer reads {@code rope_scale} as that factor), so a
 *                    {@code scale} other than 1 alongside it is rejected as ambiguous
 * @param rotaryDim   {@code R}, the dims rotated at the start of each head: 0 for the whole head
 *                    dim, otherwise even and at least 2 (a call checks {@code R <= D}, spec §7)
 */
public record RopeOptions(boolean interleaved, double theta, double scale, Llama31RopeScaling llama31,
                          int rotaryDim) {
    /** Rotate-half pairs, theta 1e4, scale 1, no Llama 3.1 rescaling, the whole head rotated. */
    public static final RopeOptions DEFAULT = new RopeOptions(false, 1e4, 1, null);

    /**
     * Checks the values.
     *
     * @throws InvalidArgumentException when theta or scale is not finite and positive, scale is not
     *         1 with Llama 3.1 rescaling, or rotaryDim is negative or odd
     */
    public RopeOptions {
        if (rotaryDim < 0 || rotaryDim % 2 != 0) {
            throw InvalidArgumentException.expected("rope.rotaryDim",
                    "0 (the whole head dim) or an even value >= 2", rotaryDim);
        }
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
     * Options that rotate the whole head dim (rotaryDim 0), as before partial rotary existed.
     *
     * @param interleaved false: pairs {@code (d, d + D/2)} ("rotate half"); true: pairs {@code (2d, 2d+1)}
     * @param theta       base, default 1e4
     * @param scale       frequencies are divided by it, default 1; must be 1 with {@code llama31}
     * @param llama31     Llama 3.1 frequency rescaling, or null
     * @throws InvalidArgumentException as the canonical constructor
     */
    public RopeOptions(boolean interleaved, double theta, double scale, Llama31RopeScaling llama31) {
        this(interleaved, theta, scale, llama31, 0);
    }

    /**
     * These options with pairs {@code (2d, 2d+1)} (true) or {@code (d, d + R/2)} (false).
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withInterleaved(boolean value) {
        return new RopeOptions(value, theta, scale, llama31, rotaryDim);
    }

    /**
     * These options with another base.
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withTheta(double value) {
        return new RopeOptions(interleaved, value, scale, llama31, rotaryDim);
    }

    /**
     * These options with another frequency divisor.
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withScale(double value) {
        return new RopeOptions(interleaved, theta, value, llama31, rotaryDim);
    }

    /**
     * These options with Llama 3.1 rescaling, or none (null).
     *
     * @param value the new value
     * @return new options
     */
    public RopeOptions withLlama31(Llama31RopeScaling value) {
        return new RopeOptions(interleaved, theta, scale, value, rotaryDim);
    }

    /**
     * These options rotating only the first {@code value} dims of each head (0: all of them).
     *
     * @param value the rotary dim: 0, or even and at least 2
     * @return new options
     * @throws InvalidArgumentException when value is negative or odd
     */
    public RopeOptions withRotaryDim(int value) {
        return new RopeOptions(interleaved, theta, scale, llama31, value);
    }

    /**
     * {@code R}, the dims rotated in a head of {@code headDim} dims: {@link #rotaryDim}, or the
     * whole head when that is 0.
     *
     * @param headDim {@code D}
     * @return the number of leading dims that are rotated; dims from it on pass through
     */
    public int rotatedDims(int headDim) {
        return rotaryDim == 0 ? headDim : rotaryDim;
    }

    /**
     * {@code freq_d = theta^(-2d/R) / scale} for {@code d < R/2} (then Llama 3.1's rescaling), in
     * double; every backend derives its angles from these.
     *
     * @param headDim {@code D}, even
     * @return one frequency per rotation pair, {@code R/2} of them
     */
    public double[] frequencies(int headDim) {
        int rotated = rotatedDims(headDim);
        double[] f = new double[rotated / 2];
        for (int d = 0; d < f.length; d++) {
            double freq = (1.0 / scale) * Math.pow(theta, -2.0 * d / rotated);
            f[d] = llama31 == null ? freq : llama31.rescale(freq);
        }
        return f;
    }

    /**
     * Index of the first element of rotation pair {@code d} (its partner is {@link #second}).
     *
     * @param d       the pair, below {@code R/2}
     * @param headDim {@code D}
     * @return the element's index within a head
     */
    public int first(int d, int headDim) {
        return interleaved ? 2 * d : d;
    }

    /**
     * Index of the second element of rotation pair {@code d}.
     *
     * @param d       the pair, below {@code R/2}
     * @param headDim {@code D}
     * @return the element's index within a head
     */
    public int second(int d, int headDim) {
        return interleaved ? 2 * d + 1 : d + rotatedDims(headDim) / 2;
    }
}
