package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;

/**
 * Head counts and head dims. Query head {@code h} reads KV head {@code h / groupSize()}.
 *
 * <p>q and k rows hold {@code headDimQk} ({@code Dqk}) elements, v and o rows
 * {@code headDimVo} ({@code Dvo}), spec §2. Most models have one head dim for all four (the
 * three-argument constructor); some do not, such as DeepSeek's prefill with 192 and 128. The
 * logit scale defaults to {@code 1/sqrt(Dqk)} and RoPE rotates the {@code Dqk} dims of q and k.
 * A backend takes {@code Dqk != Dvo} only with {@link org.attn4j.spi.Feature#DISTINCT_VO_HEAD_DIM}.
 * Immutable and thread-safe.
 *
 * @param numQoHeads query and output heads ({@code Hq})
 * @param numKvHeads KV heads ({@code Hkv}); {@code Hq % Hkv == 0}
 * @param headDimQk  {@code Dqk}, the head dim of q and k
 * @param headDimVo  {@code Dvo}, the head dim of v and o
 */
public record HeadConfig(int numQoHeads, int numKvHeads, int headDimQk, int headDimVo) {
    /**
     * Checks the counts and dims.
     *
     * @throws InvalidArgumentException when a count or dim is below 1 or {@code Hq % Hkv != 0}
     */
    public HeadConfig {
        if (numQoHeads < 1) {
            throw InvalidArgumentException.expected("numQoHeads", ">= 1", numQoHeads);
        }
        if (numKvHeads < 1) {
            throw InvalidArgumentException.expected("numKvHeads", ">= 1", numKvHeads);
        }
        if (headDimQk < 1) {
            throw InvalidArgumentException.expected("headDimQk", ">= 1", headDimQk);
        }
        if (headDimVo < 1) {
            throw InvalidArgumentException.expected("headDimVo", ">= 1", headDimVo);
        }
        if (numQoHeads % numKvHeads != 0) {
            throw new InvalidArgumentException("numQoHeads",
                    "numQoHeads % numKvHeads must be 0, actual " + numQoHeads + " % " + numKvHeads + " = "
                            + (numQoHeads % numKvHeads));
        }
    }

    /**
     * One head dim {@code D} for q, k, v and o.
     *
     * @param numQoHeads query and output heads ({@code Hq})
     * @param numKvHeads KV heads ({@code Hkv}); {@code Hq % Hkv == 0}
     * @param headDim    {@code D = Dqk = Dvo}
     * @throws InvalidArgumentException when a count or the dim is below 1 or {@code Hq % Hkv != 0}
     */
    public HeadConfig(int numQoHeads, int numKvHeads, int headDim) {
        this(numQoHeads, numKvHeads, headDim, headDim);
    }

    /**
     * Query heads per KV head ({@code g}).
     *
     * @return {@code Hq / Hkv}
     */
    public int groupSize() {
        return numQoHeads / numKvHeads;
    }

    /**
     * Whether v and o rows are as long as q and k rows.
     *
     * @return {@code Dqk == Dvo}
     */
    public boolean sameHeadDims() {
        return headDimQk == headDimVo;
    }
}
