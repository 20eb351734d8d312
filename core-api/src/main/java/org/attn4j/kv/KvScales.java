package org.attn4j.kv;

import org.attn4j.error.InvalidArgumentException;

/**
 * Dequantisation scales of a KV cache: real value = stored value x scale.
 *
 * <p>Immutable and thread-safe.
 *
 * @param k the keys' scale, finite and positive
 * @param v the values' scale, finite and positive
 */
public record KvScales(float k, float v) {
    /** No scaling: the stored values are the real ones. */
    public static final KvScales ONE = new KvScales(1f, 1f);

    /**
     * Checks both scales.
     *
     * @throws InvalidArgumentException when a scale is not finite and positive
     */
    public KvScales {
        if (!(k > 0) || !Float.isFinite(k)) {
            throw InvalidArgumentException.expected("kScale", "a finite value > 0", k);
        }
        if (!(v > 0) || !Float.isFinite(v)) {
            throw InvalidArgumentException.expected("vScale", "a finite value > 0", v);
        }
    }
}
