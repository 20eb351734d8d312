/**
 * attn4j's portable backend: OpenCL C 1.2 kernels through JOCL, on any vendor's GPU or on PoCL
 * for CPUs. {@link org.attn4j.opencl.OpenClBackendProvider} (id {@code opencl}) is registered in
 * {@code META-INF/services}; there is no module descriptor because JOCL is an automatic module
 * whose name comes from its file name, which would make a {@code requires} clause fragile.
 *
 * <p>Every attention call reaches one kernel family ({@code attention.cl}) over the generic paged
 * view, except that on GPUs requests of one query row take the streaming decode
 * ({@code decode_stream.cl}); merges, append and RoPE have their own small kernels. Programs are built at first use per
 * option set and cached per session (one context per session).
 */
package org.attn4j.opencl;
