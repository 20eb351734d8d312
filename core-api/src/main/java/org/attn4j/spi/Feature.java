package org.attn4j.spi;

/**
 * Optional parts of spec §3–§6 a backend may or may not have; the suite skips what is absent.
 * Immutable and thread-safe.
 */
public enum Feature {
    /** Decode: one query row per request. */
    DECODE,
    /** Prefill over paged and ragged K/V. */
    PREFILL,
    /** Causal masking, bottom-right aligned. */
    CAUSAL,
    /** A left window of keys. */
    SLIDING_WINDOW,
    /**
     * Logits soft cap {@code c * tanh(x / c)}.
     */
    SOFT_CAP,
    /** Custom boolean masks. */
    CUSTOM_MASK,
    /** RoPE applied on the fly to q and k inside attention. */
    ROPE,
    /** The log-sum-exp output. */
    LSE,
    /** Merging attention states. */
    MERGE,
    /** Appending K/V tokens into a paged cache. */
    APPEND,
    /** RoPE applied in place to q and k. */
    STANDALONE_ROPE,
    /** Cascade (shared-prefix) attention. */
    CASCADE,
    /** A fixed KV split: results independent of the rest of the batch. */
    DETERMINISTIC,
    /** Tensors can view caller host memory without a copy. */
    ZERO_COPY_HOST,
    /** Page tables, append positions and RoPE positions as I32 device tensors. */
    DEVICE_METADATA,
    /** Device work captured once and replayed ({@code AttentionBackend.captureGraph}). */
    GRAPH_CAPTURE,
    /** Attention sinks: a per-query-head logit in every row's softmax, with a zero value. */
    SINKS,
    /** ALiBi: a per-query-head linear bias {@code slope_h * (j - pq)} on the logits. */
    ALIBI,
    /** KV dequantisation scales per KV head ({@code KvScales.perHead}). */
    KV_SCALES_PER_HEAD,
    /** KV dequantisation scales per token and KV head in scale pools beside a paged cache ({@code KvScales.perToken}). */
    KV_SCALES_PER_TOKEN,
    /**
     * v and o rows of another head dim than q and k ({@code Dvo != Dqk}, spec §2), in attention,
     * paged caches and append.
     */
    DISTINCT_VO_HEAD_DIM,
    /**
     * Multi-head latent attention over a paged latent cache ({@code AttentionBackend.planMlaDecode},
     * {@code planMlaPrefill}, {@code appendPagedMlaKv}; spec §13).
     */
    MLA,
    /**
     * q in FP8 (e4m3 or e5m2) in batch, ragged, cascade and single-request decode and prefill,
     * o in F32, F16 or BF16 (spec §1); q's dequantisation scale folds into {@code smScale}.
     */
    FP8_QUERY
}
