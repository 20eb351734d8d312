package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;

/**
 * Head counts and head dim. Query head {@code h} reads KV head {@code h / groupSize()}.
 * Immutable and thread-safe.
 *
 * @param numQoHeads query and output heads ({@code Hq})
 * @param numKvHeads KV heads ({@code Hkv}); {@code Hq % Hkv == 0}
 * @param headDim    {@code D}
 */
public record HeadConfig(int numQoHeads, int numKvHeads, int headDim) {
    /**
     * Checks the counts.
     *
     * @throws InvalidArgumentException when a count is below 1 or {@code Hq % Hkv != 0}
     */
    public HeadConfig {
        if (numQoHeads < 1) {
            throw InvalidArgumentException.expected("numQoHeads", ">= 1", numQoHeads);
        }
        if (numKvHeads < 1) {
            throw InvalidArgumentException.expected("numKvHeads", ">= 1", numKvHeads);
        }
        if (headDim < 1) {
            throw InvalidArgumentException.expected("headDim", ">= 1", headDim);
        }
        if (numQoHeads % numKvHeads != 0) {
            throw new InvalidArgumentException("numQoHeads",
                    "numQoHeads % numKvHeads must be 0, actual " + numQoHeads + " % " + numKvHeads + " = "
                            + (numQoHeads % numKvHeads));
        }
    }

    /**
     * Query heads per KV head ({@code g}).
     *
     * @return {@code Hq / Hkv}
     */
    public int groupSize() {
        return numQoHeads / numKvHeads;
    }
}
