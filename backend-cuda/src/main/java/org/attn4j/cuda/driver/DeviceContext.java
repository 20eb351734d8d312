package org.attn4j.cuda.driver;

import java.nio.ByteBuffer;

/**
 * One device's context and the stream all work of a session is queued on (the session's own, or
 * the caller's). Device memory is addressed by raw 64-bit addresses, which kernels also receive
 * inside parameter structs. Thread-safe.
 */
public interface DeviceContext extends AutoCloseable {
    /**
     * The device of this context.
     *
     * @return the device
     */
    DeviceInfo device();

    /** Makes the context current on the calling thread (cheap; called on every entry). */
    void makeCurrent();

    /**
     * Allocates {@code bytes} (at least 1) and returns the address.
     *
     * @param bytes the size
     * @return the device address
     */
    long malloc(long bytes);

    /**
     * Frees an allocation of {@link #malloc}.
     *
     * @param address its device address
     */
    void free(long address);

    /**
     * Device allocations made so far (a diagnostic).
     *
     * @return the count
     */
    long allocations();

    /**
     * Queues a byte fill on the stream.
     *
     * @param address the first byte
     * @param value   the byte
     * @param bytes   how many
     */
    void memsetAsync(long address, byte value, long bytes);

    /**
     * Copies {@code src} (heap or direct) to device memory; returns once the copy is done.
     *
     * @param address the destination
     * @param src     the bytes, from its position to its limit
     */
    void copyToDevice(long address, ByteBuffer src);

    /**
     * Queues a copy of {@code src}'s remaining bytes to device memory without waiting: the bytes go
     * through a ring of page-locked host memory first, whose slots are reused once the copies that
     * read them have run (the host waits only when the ring is full of copies not yet run).
     *
     * @param address the destination
     * @param src     the bytes, taken before this returns
     */
    void copyToDeviceAsync(long address, ByteBuffer src);

    /**
     * Copies device memory into {@code dst}; waits for queued work first.
     *
     * @param dst     the destination, from its position to its limit
     * @param address the source
     */
    void copyToHost(ByteBuffer dst, long address);

    /**
     * Copies between device buffers on the stream.
     *
     * @param dst   the destination address
     * @param src   the source address
     * @param bytes how many
     */
    void copyDeviceToDevice(long dst, long src, long bytes);

    /**
     * Loads a code image (a fatbin) into this context.
     *
     * @param image the image's bytes
     * @return the module, closed by the caller
     */
    KernelModule loadModule(byte[] image);

    /** Waits for the stream. */
    void synchronize();

    /**
     * Creates an event; the result is an opaque handle for {@link #record} and {@link #elapsedMillis}.
     *
     * @return the event
     */
    Object createEvent();

    /**
     * Records an event on the stream.
     *
     * @param event a handle of {@link #createEvent()}
     */
    void record(Object event);

    /**
     * Milliseconds between two recorded events; waits for the later one.
     *
     * @param start the first event
     * @param stop  the second event
     * @return the time between them
     */
    float elapsedMillis(Object start, Object stop);

    /**
     * Destroys an event.
     *
     * @param event a handle of {@link #createEvent()}
     */
    void destroyEvent(Object event);

    /**
     * The allocation holding device address {@code address} in this context, as {base, bytes}, or
     * null when the address is not device memory of this context.
     *
     * @param address a device address
     * @return {base, bytes}, or null
     */
    long[] allocationOf(long address);

    /**
     * The native stream ({@code CUstream}) handle.
     *
     * @return the handle
     */
    long streamHandle();

    /**
     * The native context ({@code CUcontext}) handle.
     *
     * @return the handle
     */
    long contextHandle();

    /** Starts capturing this thread's work on the stream into a graph. */
    void beginCapture();

    /**
     * Ends the capture and instantiates the graph; the result is an opaque handle.
     *
     * @return the graph
     */
    Object endCapture();

    /** Ends a capture and throws its graph away (after a failure inside the captured work). */
    void abortCapture();

    /**
     * Queues one launch of a graph on the stream.
     *
     * @param graph a handle of {@link #endCapture()}
     */
    void launchGraph(Object graph);

    /**
     * Destroys a graph.
     *
     * @param graph a handle of {@link #endCapture()}
     */
    void destroyGraph(Object graph);

    /** Releases the stream (when the context made it) and the primary context. */
    @Override
    void close();
}
