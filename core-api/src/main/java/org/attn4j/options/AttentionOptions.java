package org.attn4j.options;

/**
 * What an attention call computes (spec §3). Immutable and thread-safe; change with the
 * {@code with*} methods.
 *
 * @param causal        key {@code j} allowed only when {@code j <= pq} (bottom-right aligned)
 * @param windowLeft    -1: no window; else key {@code j} allowed only when {@code j >= pq - windowLeft}
 * @param logitsSoftCap 0: off; else {@code x = c * tanh(x / c)}
 * @param smScale       logit scale; NaN means {@code 1/sqrt(D)}
 * @param rope          RoPE applied on the fly to q (at {@code pq}) and k (at {@code j}), or null
 */
public record AttentionOptions(boolean causal, int windowLeft, float logitsSoftCap, float smScale, RopeOptions rope) {
    /**
     * Not causal, no window, no soft cap, scale {@code 1/sqrt(D)}, no RoPE.
     */
    public static final AttentionOptions DEFAULT = new AttentionOptions(false, -1, 0f, Float.NaN, null);

    /**
     * The defaults.
     *
     * @return {@link #DEFAULT}
     */
    public static AttentionOptions defaults() {
        return DEFAULT;
    }

    /**
     * These options with causal masking on or off.
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withCausal(boolean value) {
        return new AttentionOptions(value, windowLeft, logitsSoftCap, smScale, rope);
    }

    /**
     * These options with another left window (-1: none).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withWindowLeft(int value) {
        return new AttentionOptions(causal, value, logitsSoftCap, smScale, rope);
    }

    /**
     * These options with another soft cap (0: off).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withLogitsSoftCap(float value) {
        return new AttentionOptions(causal, windowLeft, value, smScale, rope);
    }

    /**
     * These options with another logit scale (NaN: {@code 1/sqrt(D)}).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withSmScale(float value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, value, rope);
    }

    /**
     * These options with RoPE on the fly, or none (null).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withRope(RopeOptions value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, smScale, value);
    }

    /**
     * The logit scale for head dim {@code headDim}: {@link #smScale} or {@code 1/sqrt(D)}.
     *
     * @param headDim {@code D}
     * @return the scale applied to every logit
     */
    public float resolvedSmScale(int headDim) {
        return Float.isNaN(smScale) ? (float) (1.0 / Math.sqrt(headDim)) : smScale;
    }
}
