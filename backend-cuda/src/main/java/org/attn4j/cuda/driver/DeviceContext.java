package org.attn4j.cuda.driver;

import java.nio.ByteBuffer;

/**
 * One device's context and the stream all work of a session is queued on (the session's own, or
 * the caller's). Device memory is addressed by raw 64-bit addresses, which kernels also receive
 * inside parameter structs. Thread-safe.
 */
public interface DeviceContext extends AutoCloseable {
    DeviceInfo device();

    /** Makes the context current on the calling thread (cheap; called on every entry). */
    void makeCurrent();

    /** Allocates {@code bytes} (at least 1) and returns the address. */
    long malloc(long bytes);

    void free(long address);

    /** Device allocations made so far (a diagnostic). */
    long allocations();

    /** Queues a byte fill on the stream. */
    void memsetAsync(long address, byte value, long bytes);

    /** Copies {@code src} (heap or direct) to device memory; returns once the copy is done. */
    void copyToDevice(long address, ByteBuffer src);

    /**
     * Queues a copy of {@code src}'s remaining bytes to device memory without waiting: the bytes go
     * through a ring of page-locked host memory first, whose slots are reused once the copies that
     * read them have run (the host waits only when the ring is full of copies not yet run).
     */
    void copyToDeviceAsync(long address, ByteBuffer src);

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

    /**
     * The allocation holding device address {@code address} in this context, as {base, bytes}, or
     * null when the address is not device memory of this context.
     */
    long[] allocationOf(long address);

    /** The native stream ({@code CUstream}) and context ({@code CUcontext}) handles. */
    long streamHandle();

    long contextHandle();

    /** Starts capturing this thread's work on the stream into a graph. */
    void beginCapture();

    /** Ends the capture and instantiates the graph; the result is an opaque handle. */
    Object endCapture();

    /** Ends a capture and throws its graph away (after a failure inside the captured work). */
    void abortCapture();

    void launchGraph(Object graph);

    void destroyGraph(Object graph);

    @Override
    void close();
}
