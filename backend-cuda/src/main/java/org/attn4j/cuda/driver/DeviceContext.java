package org.attn4j.cuda.driver;

import java.nio.ByteBuffer;

/**
 * One device's context and the stream all work of a session is queued on. Device memory is
 * addressed by raw 64-bit addresses, which kernels also receive inside parameter structs.
 */
public interface DeviceContext extends AutoCloseable {
    DeviceInfo device();

    /** Makes the context current on the calling thread (cheap; called on every entry). */
    void makeCurrent();

    /** Allocates {@code bytes} (at least 1) and returns the address. */
    long malloc(long bytes);

    void free(long address);

    /** Queues a byte fill on the stream. */
    void memsetAsync(long address, byte value, long bytes);

    /** Copies {@code src} (heap or direct) to device memory; returns once the copy is done. */
    void copyToDevice(long address, ByteBuffer src);

    /** Copies device memory into {@code dst}; waits for queued work first. */
    void copyToHost(ByteBuffer dst, long address);

    /** Copies between device buffers on the stream. */
    void copyDeviceToDevice(long dst, long src, long bytes);

    KernelModule loadModule(byte[] image);

    /** Waits for the stream. */
    void synchronize();

    /** Creates an event; the result is an opaque handle for {@link #record} and {@link #elapsedMillis}. */
    Object createEvent();

    void record(Object event);

    float elapsedMillis(Object start, Object stop);

    void destroyEvent(Object event);

    @Override
    void close();
}
