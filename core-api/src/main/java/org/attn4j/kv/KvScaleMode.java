package org.attn4j.kv;

/**
 * How finely a KV cache's dequantisation scales vary (spec §1): one scale for all of K (and one
 * for V), one per KV head, or one per token and KV head. Real value = stored value x the scale
 * of the element's tensor, head and token.
 */
public enum KvScaleMode {
    /** One F32 scale for all of K and one for all of V, given as host floats. */
    SCALAR,
    /** One F32 scale per KV head, {@code [Hkv]} device tensors for K and for V. */
    PER_HEAD,
    /**
     * One F32 scale per token slot and KV head, kept beside a paged cache in scale pools shaped
     * like the cache without the head dim; append writes them.
     */
    PER_TOKEN
}
