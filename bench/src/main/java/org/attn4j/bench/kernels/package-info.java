/**
 * The harness behind {@code attn4j bench-kernels}: the CUDA backend's candidate kernels, each
 * forced by a backend setting, compared with its Tensor Core kernel on the same inputs, then
 * timed. Public API only.
 */
package org.attn4j.bench.kernels;
