package org.attn4j.cuda.driver;

/**
 * A loaded code image; functions are looked up by their extern "C" names. Implementations are
 * safe for concurrent use.
 */
public interface KernelModule extends AutoCloseable {
    /**
     * The kernel of this name.
     *
     * @param name its extern "C" name
     * @return the function
     * @throws CudaException when the image has no such kernel
     */
    KernelFunction function(String name);

    /** Unloads the image. */
    @Override
    void close();
}
