package org.attn4j.kv;

/**
 * K and V of a batch stored back to back, {@code [totalKv, Hkv, D]}; request {@code b} owns rows
 * {@code kvIndptr[b] .. kvIndptr[b+1])} (the indptr is given when planning).
 */
public record RaggedKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v, KvScales scales) {
    public RaggedKv(org.attn4j.tensor.Tensor k, org.attn4j.tensor.Tensor v) {
        this(k, v, KvScales.ONE);
    }
}
