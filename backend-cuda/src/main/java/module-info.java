/** The CUDA backend of attn4j: JCuda's driver API and nvcc-built kernels. */
@SuppressWarnings("requires-transitive-automatic") // JCuda and JOCL publish no module descriptor
module org.attn4j.cuda {
    requires transitive org.attn4j.core;
    // CudaInterop's signatures take and return JCuda's types.
    requires transitive jcuda;

    // CudaInterop: an engine's own device memory, stream and context.
    exports org.attn4j.cuda;

    provides org.attn4j.spi.BackendProvider with org.attn4j.cuda.CudaBackendProvider;
}
