/**
 * The CUDA backend: {@link org.attn4j.cuda.CudaBackendProvider} found by {@link java.util.ServiceLoader},
 * sessions over one device, attention plans whose schedule is fixed on the host so that a run
 * only queues kernels, and the kernels of {@code src/main/cuda} compiled by nvcc into one fatbin.
 */
package org.attn4j.cuda;
