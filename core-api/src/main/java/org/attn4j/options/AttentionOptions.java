package org.attn4j.options;

/**
 * What an attention call computes (spec §3). Immutable; change with the {@code with*} methods.
 *
 * @param causal        key {@code j} allowed only when {@code j <= pq} (bottom-right aligned)
 * @param windowLeft    -1: no window; else key {@code j} allowed only when {@code j >= pq - windowLeft}
 * @param logitsSoftCap 0: off; else {@code x = c * tanh(x / c)}
 * @param smScale       logit scale; NaN means {@code 1/sqrt(D)}
 * @param rope          RoPE applied on the fly to q (at {@code pq}) and k (at {@code j}), or null
 */
public record AttentionOptions(boolean causal, int windowLeft, float logitsSoftCap, float smScale, RopeOptions rope) {
    public static final AttentionOptions DEFAULT = new AttentionOptions(false, -1, 0f, Float.NaN, null);

    public static AttentionOptions defaults() {
        return DEFAULT;
    }

    public AttentionOptions withCausal(boolean value) {
        return new AttentionOptions(value, windowLeft, logitsSoftCap, smScale, rope);
    }

    public AttentionOptions withWindowLeft(int value) {
        return new AttentionOptions(causal, value, logitsSoftCap, smScale, rope);
    }

    public AttentionOptions withLogitsSoftCap(float value) {
        return new AttentionOptions(causal, windowLeft, value, smScale, rope);
    }

    public AttentionOptions withSmScale(float value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, value, rope);
    }

    public AttentionOptions withRope(RopeOptions value) {
        return new AttentionOptions(causal, windowLeft, logitsSoftCap, smScale, value);
    }

    /** The logit scale for head dim {@code headDim}: {@link #smScale} or {@code 1/sqrt(D)}. */
    public float resolvedSmScale(int headDim) {
        return Float.isNaN(smScale) ? (float) (1.0 / Math.sqrt(headDim)) : smScale;
    }
}
