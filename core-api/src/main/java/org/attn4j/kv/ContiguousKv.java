package org.attn4j.kv;

/**
 * K and V of one request, for single decode and prefill: {@code [kvLen, Hkv, D]} (NHD) or
 * {@code [Hkv, kvLen, D]} (HND).
 */
public record ContiguousKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v, KvLayout layout, KvScales scales) {
    public ContiguousKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v, KvLayout layout) {
        this(k, v, layout, KvScales.ONE);
    }
}
