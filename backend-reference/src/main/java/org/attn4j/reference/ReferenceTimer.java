package org.attn4j.reference;

import org.attn4j.spi.DeviceTimer;

/** A wall clock: reference work is synchronous, so start to stop is exactly the work. */
final class ReferenceTimer implements DeviceTimer {
    private long startNanos;
    private long stopNanos;

    @Override
    public void start() {
        startNanos = System.nanoTime();
    }

    @Override
    public void stop() {
        stopNanos = System.nanoTime();
    }

    @Override
    public double elapsedMillis() {
        return (stopNanos - startNanos) / 1e6;
    }

    @Override
    public String method() {
        return "wall clock";
    }
}
