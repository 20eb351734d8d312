package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;

/**
 * Heads and dims of multi-head latent attention (spec §13): {@code numHeads} query heads over
 * one shared latent KV head, whose key is {@code [ckv ; kpe]} ({@code dCkv + dKpe} elements) and
 * whose value is {@code ckv} ({@code dCkv}). With the up-projections absorbed into q and o,
 * DeepSeek-V3 decodes with {@code MlaHeadConfig(128, 512, 64)} (tensor parallelism divides the
 * heads). Immutable and thread-safe.
 *
 * @param numHeads   query and output heads ({@code H})
 * @param headDimCkv {@code dCkv}: the latent's dim, of {@code qNope}, the value and {@code o}
 * @param headDimKpe {@code dKpe}: the rotary part's dim, of {@code qPe} and {@code kpe}
 */
public record MlaHeadConfig(int numHeads, int headDimCkv, int headDimKpe) {
    /** DeepSeek-V2/V3/R1's and Kimi K2's latent dim. */
    public static final int DEEPSEEK_CKV = 512;
    /** DeepSeek-V2/V3/R1's and Kimi K2's rotary dim. */
    public static final int DEEPSEEK_KPE = 64;

    /**
     * Checks the counts and dims.
     *
     * @throws InvalidArgumentException when one is below 1
     */
    public MlaHeadConfig {
        if (numHeads < 1) {
            throw InvalidArgumentException.expected("numHeads", ">= 1", numHeads);
        }
        if (headDimCkv < 1) {
            throw InvalidArgumentException.expected("headDimCkv", ">= 1", headDimCkv);
        }
        if (headDimKpe < 1) {
            throw InvalidArgumentException.expected("headDimKpe", ">= 1", headDimKpe);
        }
    }

    /**
     * {@code numHeads} heads of DeepSeek's dims, 512 and 64.
     *
     * @param numHeads query heads
     * @return the config
     */
    public static MlaHeadConfig deepSeek(int numHeads) {
        return new MlaHeadConfig(numHeads, DEEPSEEK_CKV, DEEPSEEK_KPE);
    }

    /**
     * Elements of a key: {@code dCkv + dKpe} (576 for DeepSeek).
     *
     * @return the key's dim
     */
    public int keyDim() {
        return headDimCkv + headDimKpe;
    }

    /**
     * The same attention as plain heads: {@code H} query heads over one KV head, {@code Dqk = dCkv + dKpe},
     * {@code Dvo = dCkv} (spec §13: MLA equals that attention with the expanded keys).
     *
     * @return the head config
     */
    public HeadConfig expanded() {
        return new HeadConfig(numHeads, 1, keyDim(), headDimCkv);
    }
}
