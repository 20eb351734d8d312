package org.attn4j.options;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;

/**
 * Attention sinks (spec §3): one logit per query head that joins every row's softmax as one more
 * key whose value is zero. Query head {@code h}'s row then weighs its allowed keys by
 * {@code exp(x_j - m)} and the sink by {@code exp(sink_h - m)}: the sink takes a share of the
 * probability mass and gives nothing back to {@code o}, and the LSE counts it. A row with no
 * allowed key has {@code o = 0} and {@code lse = sink_h}.
 *
 * <p>The logits are in the units of the final logits, after the scale, ALiBi and the soft cap
 * (the sink itself is neither scaled nor capped), as gpt-oss compares its learned sinks with the
 * scaled scores. Each must be finite: NaN and infinities are rejected here, when the sinks are
 * made.
 *
 * <p>Immutable (the array is copied in and out) and thread-safe.
 */
public final class AttentionSinks {
    private final float[] logits;

    private AttentionSinks(float[] logits) {
        this.logits = logits;
    }

    /**
     * Sinks from one logit per query head.
     *
     * @param logits {@code sink_h} for {@code h < Hq}; copied
     * @return the sinks
     * @throws InvalidArgumentException when the array is null or empty, or a logit is NaN or infinite
     */
    public static AttentionSinks of(float... logits) {
        Args.notNull(logits, "sinks");
        if (logits.length == 0) {
            throw InvalidArgumentException.expected("sinks.length", ">= 1 (one logit per query head)", 0);
        }
        float[] copy = logits.clone();
        for (int h = 0; h < copy.length; h++) {
            if (!Float.isFinite(copy[h])) {
                throw InvalidArgumentException.expected("sinks[" + h + "]", "a finite logit (NaN and infinities are "
                        + "rejected)", copy[h]);
            }
        }
        return new AttentionSinks(copy);
    }

    /**
     * The number of query heads these sinks are for.
     *
     * @return the length of the logits
     */
    public int numHeads() {
        return logits.length;
    }

    /**
     * One query head's sink.
     *
     * @param head a query head, below {@link #numHeads()}
     * @return {@code sink_head}
     */
    public float logit(int head) {
        return logits[head];
    }

    /**
     * Every head's sink.
     *
     * @return a copy, one logit per query head
     */
    public float[] logits() {
        return logits.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AttentionSinks s && Arrays.equals(logits, s.logits);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(logits);
    }

    @Override
    public String toString() {
        return "AttentionSinks" + Arrays.toString(logits);
    }
}
