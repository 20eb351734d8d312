/** {@code attn4j demo}: a small continuous-batching session over a paged KV cache. */
package org.attn4j.cli.demo;
