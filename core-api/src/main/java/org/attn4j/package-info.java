/**
 * attn4j's public API: find a backend with {@link org.attn4j.Backends}, open it as an
 * {@link org.attn4j.AttentionBackend}, and run decode, prefill, cascade, state merges, KV append
 * and RoPE on its tensors. Value types ({@link org.attn4j.options.AttentionOptions},
 * {@link org.attn4j.options.HeadConfig}, {@link org.attn4j.options.CustomMask}) are immutable.
 */
package org.attn4j;
