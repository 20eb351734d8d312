package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;

/**
 * How a batch plan schedules work.
 *
 * @param deterministic fix the KV split so a request's result is bitwise independent of the
 *                      other requests in the batch
 * @param maxSplitChunk a cap on keys per split chunk; 0 lets the backend choose
 */
public record PlanOptions(boolean deterministic, int maxSplitChunk) {
    public static final PlanOptions DEFAULT = new PlanOptions(false, 0);
    public static final PlanOptions DETERMINISTIC = new PlanOptions(true, 0);

    public PlanOptions {
        if (maxSplitChunk < 0) {
            throw InvalidArgumentException.expected("maxSplitChunk", ">= 0", maxSplitChunk);
        }
    }
}
