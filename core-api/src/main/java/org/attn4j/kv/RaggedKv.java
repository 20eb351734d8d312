package org.attn4j.kv;

/**
 * K and V of a batch stored back to back, {@code [totalKv, Hkv, D]}; request {@code b} owns rows
 * {@code kvIndptr[b] .. kvIndptr[b+1])} (the indptr is given when planning).
 *
 * <p>Immutable and thread-safe (the tensors are referred to, not copied).
 *
 * @param k      keys, contiguous {@code [totalKv, Hkv, D]}
 * @param v      values, k's dtype and shape
 * @param scales the dequantisation scales (FP8 caches)
 */
public record RaggedKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v, KvScales scales) {
    /**
     * K and V with scales 1.
     *
     * @param k keys, contiguous {@code [totalKv, Hkv, D]}
     * @param v values, k's dtype and shape
     */
    public RaggedKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v) {
        this(k, v, KvScales.ONE);
    }
}
