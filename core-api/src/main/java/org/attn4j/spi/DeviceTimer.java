package org.attn4j.spi;

/**
 * Times device work between {@link #start()} and {@link #stop()}: device events where the
 * backend has them, else a wall clock around a synchronisation.
 *
 * <p>Not thread-safe: one thread starts, stops and reads a timer.
 */
public interface DeviceTimer extends AutoCloseable {
    /** Marks the start, in the backend's queue order. */
    void start();

    /**
     * Marks the stop, after the work queued since {@link #start()}.
     */
    void stop();

    /**
     * Milliseconds between the last start and stop; waits for the device.
     *
     * @return the elapsed time
     */
    double elapsedMillis();

    /**
     * What the timer measures with, for reports ("CUDA events", "wall clock").
     *
     * @return the method
     */
    String method();

    /** Frees the timer's events, if any. */
    @Override
    default void close() {}
}
