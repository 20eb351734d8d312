package org.attn4j.cuda;

import org.attn4j.cuda.driver.DeviceContext;
import org.attn4j.spi.DeviceTimer;

/** Times work queued on the session's stream with a pair of CUDA events. */
final class CudaTimer implements DeviceTimer {
    private final DeviceContext context;
    private final Object start;
    private final Object stop;

    CudaTimer(DeviceContext context) {
        this.context = context;
        this.start = context.createEvent();
        this.stop = context.createEvent();
    }

    @Override
    public void start() {
        context.record(start);
    }

    @Override
    public void stop() {
        context.record(stop);
    }

    @Override
    public double elapsedMillis() {
        return context.elapsedMillis(start, stop);
    }

    @Override
    public String method() {
        return "CUDA events";
    }

    @Override
    public void close() {
        context.destroyEvent(start);
        context.destroyEvent(stop);
    }
}
