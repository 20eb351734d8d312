package org.attn4j.kv;

import org.attn4j.error.InvalidArgumentException;

/** Dequantisation scales of a KV cache: real value = stored value x scale. */
public record KvScales(float k, float v) {
    public static final KvScales ONE = new KvScales(1f, 1f);

    public KvScales {
        if (!(k > 0) || !Float.isFinite(k)) {
            throw InvalidArgumentException.expected("kScale", "a finite value > 0", k);
        }
        if (!(v > 0) || !Float.isFinite(v)) {
            throw InvalidArgumentException.expected("vScale", "a finite value > 0", v);
        }
    }
}
