/**
 * The OpenCL backend of attn4j: OpenCL C 1.2 kernels through JOCL, on PoCL (CPUs) or any GPU
 * vendor's driver. JOCL is an automatic module ({@code jocl}).
 */
module org.attn4j.opencl {
    requires org.attn4j.core;
    requires jocl;

    provides org.attn4j.spi.BackendProvider with org.attn4j.opencl.OpenClBackendProvider;
}
