package org.attn4j.cuda.driver;

/** A kernel entry point. */
public interface KernelFunction {
    String name();

    /**
     * Lets launches use up to {@code bytes} of dynamic shared memory (above the 48 KiB default)
     * and asks for the largest shared memory carveout, so several such blocks stay resident.
     */
    void setMaxDynamicSharedMemory(int bytes);

    /**
     * Queues a launch on the context's stream. Arguments are, in kernel order, {@code byte[]}
     * (a struct passed by value), {@link Long} (a pointer or 64-bit integer), {@link Integer},
     * {@link Float} or {@link Double}. Nothing is allocated on the device and nothing waits.
     */
    void launch(int gridX, int gridY, int blockX, int sharedBytes, Object... args);
}
