package org.attn4j.kv;

/**
 * K and V of one request, for single decode and prefill: {@code [kvLen, Hkv, D]} (NHD) or
 * {@code [Hkv, kvLen, D]} (HND).
 *
 * <p>Immutable and thread-safe (the tensors are referred to, not copied).
 *
 * @param k      keys, contiguous
 * @param v      values, k's dtype and shape
 * @param layout NHD or HND
 * @param scales the dequantisation scales (FP8 caches)
 */
public record ContiguousKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v, KvLayout layout, KvScales scales) {
    /**
     * K and V with scales 1.
     *
     * @param k      keys, contiguous
     * @param v      values, k's dtype and shape
     * @param layout NHD or HND
     */
    public ContiguousKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v, KvLayout layout) {
        this(k, v, layout, KvScales.ONE);
    }
}
