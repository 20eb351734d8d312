package org.attn4j.spi;

/** Optional parts of spec §3–§6 a backend may or may not have; the suite skips what is absent. */
public enum Feature {
    DECODE,
    PREFILL,
    CAUSAL,
    SLIDING_WINDOW,
    SOFT_CAP,
    CUSTOM_MASK,
    ROPE,
    LSE,
    MERGE,
    APPEND,
    STANDALONE_ROPE,
    CASCADE,
    DETERMINISTIC,
    /** Tensors can view caller host memory without a copy. */
    ZERO_COPY_HOST,
    /** Page tables, append positions and RoPE positions as I32 device tensors. */
    DEVICE_METADATA,
    /** Device work captured once and replayed ({@code AttentionBackend.captureGraph}). */
    GRAPH_CAPTURE
}
