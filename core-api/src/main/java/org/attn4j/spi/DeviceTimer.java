package org.attn4j.spi;

/**
 * Times device work between {@link #start()} and {@link #stop()}: device events where the
 * backend has them, else a wall clock around a synchronisation.
 */
public interface DeviceTimer extends AutoCloseable {
    void start();

    void stop();

    /** Milliseconds between the last start and stop; waits for the device. */
    double elapsedMillis();

    /** What the timer measures with, for reports ("CUDA events", "wall clock"). */
    String method();

    @Override
    default void close() {}
}
