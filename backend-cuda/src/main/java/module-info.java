/** The CUDA backend of attn4j: JCuda's driver API and nvcc-built kernels. */
module org.attn4j.cuda {
    requires org.attn4j.core;
    requires jcuda;

    provides org.attn4j.spi.BackendProvider with org.attn4j.cuda.CudaBackendProvider;
}
