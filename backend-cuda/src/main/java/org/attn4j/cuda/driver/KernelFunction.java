package org.attn4j.cuda.driver;

/** A kernel entry point. Implementations are safe for concurrent launches. */
public interface KernelFunction {
    /**
     * The kernel's extern "C" name.
     *
     * @return the name
     */
    String name();

    /**
     * Lets launches use up to {@code bytes} of dynamic shared memory (above the 48 KiB default)
     * and asks for the largest shared memory carveout, so several such blocks stay resident.
     *
     * @param bytes the most dynamic shared memory a launch uses
     */
    void setMaxDynamicSharedMemory(int bytes);

    /**
     * Queues a launch on the context's stream. Arguments are, in kernel order, {@code byte[]}
     * (a struct passed by value), {@link Long} (a pointer or 64-bit integer), {@link Integer},
     * {@link Float} or {@link Double}. Nothing is allocated on the device and nothing waits.
     *
     * @param gridX       blocks along x
     * @param gridY       blocks along y
     * @param blockX      threads per block
     * @param sharedBytes dynamic shared memory per block
     * @param args        the kernel's arguments
     */
    void launch(int gridX, int gridY, int blockX, int sharedBytes, Object... args);
}
