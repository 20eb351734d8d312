/**
 * The harness behind {@code attn4j bench-kernels}: a backend's attention kernels, each forced by a
 * backend setting, compared with a baseline on the same inputs, then timed. For CUDA
 * ({@link org.attn4j.bench.kernels.KernelBench}) the candidate kernels against its Tensor Core
 * kernel; for OpenCL ({@link org.attn4j.bench.kernels.OpenClDecodeBench}) a decode kernel flavour
 * against the reference backend or another flavour. Public API only.
 */
package org.attn4j.bench.kernels;
