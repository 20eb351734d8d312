package org.attn4j.opencl;

import static org.jocl.CL.*;

import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_event;

/**
 * Times queued work with OpenCL profiling: a marker at {@link #start()} and one at
 * {@link #stop()} on a queue created with CL_QUEUE_PROFILING_ENABLE; the elapsed time is
 * between their completions. Where a platform gives markers no timestamps, it falls back to a
 * wall clock around {@code clFinish} and says so in {@link #method()}.
 *
 * <p>Not thread-safe: one thread starts, stops and reads a timer.
 */
final class OpenClTimer implements org.attn4j.spi.DeviceTimer {
    private final cl_command_queue queue;
    private cl_event startEvent;
    private cl_event stopEvent;
    private long wallStart;
    private long wallStop;
    private boolean wallClock;
    private final boolean profiling;

    /** @param profiling whether the queue records profiling timestamps (a caller's queue may not) */
    OpenClTimer(cl_command_queue queue, boolean profiling) {
        this.queue = queue;
        this.profiling = profiling;
    }

    @Override
    public void start() {
        releaseEvents();
        startEvent = marker("start");
        wallStart = System.nanoTime();
    }

    @Override
    public void stop() {
        stopEvent = marker("stop");
    }

    private cl_event marker(String which) {
        cl_event e = new cl_event();
        ClCalls.call("clEnqueueMarkerWithWaitList(timer " + which + ")", () -> {
            clEnqueueMarkerWithWaitList(queue, 0, null, e);
        });
        return e;
    }

    @Override
    public double elapsedMillis() {
        if (startEvent == null || stopEvent == null) {
            throw new IllegalStateException("timer was not started and stopped");
        }
        ClCalls.call("clWaitForEvents(timer)", () -> {
            clWaitForEvents(1, new cl_event[] {stopEvent});
        });
        wallStop = System.nanoTime();
        if (!profiling) {
            wallClock = true;
            return (wallStop - wallStart) / 1e6;
        }
        try {
            long t0 = profile(startEvent);
            long t1 = profile(stopEvent);
            if (t0 > 0 && t1 >= t0) {
                wallClock = false;
                return (t1 - t0) / 1e6;
            }
        } catch (org.jocl.CLException e) {
            // CL_PROFILING_INFO_NOT_AVAILABLE for markers on some platforms: use the wall clock.
        }
        wallClock = true;
        return (wallStop - wallStart) / 1e6;
    }

    private static long profile(cl_event e) {
        long[] v = new long[1];
        clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, Sizeof.cl_ulong, Pointer.to(v), null);
        return v[0];
    }

    @Override
    public String method() {
        return wallClock ? "wall clock around clFinish" : "OpenCL profiling events";
    }

    private void releaseEvents() {
        if (startEvent != null) {
            clReleaseEvent(startEvent);
            startEvent = null;
        }
        if (stopEvent != null) {
            clReleaseEvent(stopEvent);
            stopEvent = null;
        }
    }

    @Override
    public void close() {
        releaseEvents();
    }
}
