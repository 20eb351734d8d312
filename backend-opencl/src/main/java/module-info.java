/**
 * The OpenCL backend of attn4j: OpenCL C 1.2 kernels through JOCL, on PoCL (CPUs) or any GPU
 * vendor's driver. JOCL is an automatic module ({@code jocl}).
 */
@SuppressWarnings("requires-transitive-automatic") // JCuda and JOCL publish no module descriptor
module org.attn4j.opencl {
    requires transitive org.attn4j.core;
    // OpenClInterop's signatures take and return JOCL's types.
    requires transitive jocl;

    // OpenClInterop: an engine's own buffers, context and queue.
    exports org.attn4j.opencl;

    provides org.attn4j.spi.BackendProvider with org.attn4j.opencl.OpenClBackendProvider;
}
