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
 * @param sinks         one logit per query head joining every row's softmax with a zero value, or
 *                      null (needs {@code Feature.SINKS})
 * @param alibiSlopes   one slope per query head: the logit gains {@code slope_h * (j - pq)} after
 *                      the scale and before the soft cap, or null (needs {@code Feature.ALIBI})
 */
public record AttentionOptions(boolean causal, int windowLeft, float logitsSoftCap, float smScale, RopeOptions rope,
                               AttentionSinks sinks, AlibiSlopes alibiSlopes) {
    /**
     * Not causal, no window, no soft cap, scale {@code 1/sqrt(D)}, no RoPE, no sinks, no ALiBi.
     */
    public static final AttentionOptions DEFAULT = new AttentionOptions(false, -1, 0f, Float.NaN, null, null, null);

    /**
     * Options without sinks or ALiBi.
     *
     * @param causal        key {@code j} allowed only when {@code j <= pq}
     * @param windowLeft    -1: no window; else key {@code j} allowed only when {@code j >= pq - windowLeft}
     * @param logitsSoftCap 0: off; else {@code x = c * tanh(x / c)}
     * @param smScale       logit scale; NaN means {@code 1/sqrt(D)}
     * @param rope          RoPE applied on the fly, or null
     */
    public AttentionOptions(boolean causal, int windowLeft, float logitsSoftCap, float smScale, RopeOptions rope) {
        this(causal, windowLeft, logitsSoftCap, smScale, rope, null, null);
    }

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
        return new AttentionOptions(value, windowLeft, logitsSoftCap, smScale, rope, sinks, alibiSlopes);
    }

    /**
     * These options with another left window (-1: none).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withWindowLeft(int value) {
        return new AttentionOptions(causal, value, logitsSoftCap, smScale, rope, sinks, alibiSlopes);
    }

    /**
     * These options with another soft cap (0: off).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withLogitsSoftCap(float value) {
        return new AttentionOptions(causal, windowLeft, value, smScale, rope, sinks, alibiSlopes);
    }

    /**
     * These options with another logit scale (NaN: {@code 1/sqrt(D)}).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withSmScale(float value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, value, rope, sinks, alibiSlopes);
    }

    /**
     * These options with RoPE on the fly, or none (null).
     *
     * @param value the new value
     * @return new options
     */
    public AttentionOptions withRope(RopeOptions value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, smScale, value, sinks, alibiSlopes);
    }

    /**
     * These options with attention sinks, or none (null).
     *
     * @param value one logit per query head, or null
     * @return new options
     */
    public AttentionOptions withSinks(AttentionSinks value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, smScale, rope, value, alibiSlopes);
    }

    /**
     * These options with ALiBi, or none (null).
     *
     * @param value one slope per query head, or null; {@link AlibiSlopes#standard(int)} gives the usual ones
     * @return new options
     */
    public AttentionOptions withAlibiSlopes(AlibiSlopes value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, smScale, rope, sinks, value);
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
