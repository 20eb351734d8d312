package org.attn4j.opencl;

import static org.jocl.CL.CL_COMPLETE;
import static org.jocl.CL.CL_EVENT_COMMAND_EXECUTION_STATUS;
import static org.jocl.CL.CL_FALSE;
import static org.jocl.CL.clEnqueueWriteBuffer;
import static org.jocl.CL.clGetEventInfo;
import static org.jocl.CL.clReleaseEvent;
import static org.jocl.CL.clWaitForEvents;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Deque;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_event;
import org.jocl.cl_mem;

/**
 * Host-to-device copies that do not wait: each is queued without blocking from a direct buffer
 * that is kept reachable here until the copy's event completes (a buffer collected earlier
 * would hand the driver freed memory). Completed copies are dropped at the next upload.
 * Thread-safe: every call holds the session's monitor.
 */
final class OpenClUploads implements AutoCloseable {
    private record Pending(cl_event event, ByteBuffer data) {}

    private final cl_command_queue queue;
    private final Object lock;
    private final Deque<Pending> pending = new ArrayDeque<>();

    /** @param lock the session, whose monitor every OpenCL call of it holds (OpenClSession) */
    OpenClUploads(cl_command_queue queue, Object lock) {
        this.queue = queue;
        this.lock = lock;
    }

    /** Queues a copy of {@code data} (direct, position to limit) to {@code dst} at byte {@code offset}. */
    void write(cl_mem dst, long offset, ByteBuffer data) {
        synchronized (lock) {
            writeLocked(dst, offset, data);
        }
    }

    private void writeLocked(cl_mem dst, long offset, ByteBuffer data) {
        prune();
        long n = data.remaining();
        if (n == 0) {
            return;
        }
        cl_event e = new cl_event();
        ClCalls.call("clEnqueueWriteBuffer(" + n + " bytes at " + offset + ", non-blocking)", () -> {
            clEnqueueWriteBuffer(queue, dst, CL_FALSE, offset, n, Pointer.to(data), 0, null, e);
        });
        pending.add(new Pending(e, data));
    }

    private void prune() {
        while (!pending.isEmpty()) {
            Pending p = pending.peekFirst();
            int[] status = new int[1];
            ClCalls.call("clGetEventInfo(upload)", () -> {
                clGetEventInfo(p.event(), CL_EVENT_COMMAND_EXECUTION_STATUS, Sizeof.cl_int, Pointer.to(status), null);
            });
            if (status[0] != CL_COMPLETE && status[0] >= 0) {
                return;
            }
            clReleaseEvent(p.event());
            pending.removeFirst();
        }
    }

    /** Waits for every queued copy and drops them. */
    @Override
    public void close() {
        synchronized (lock) {
            closeLocked();
        }
    }

    private void closeLocked() {
        for (Pending p : pending) {
            try {
                clWaitForEvents(1, new cl_event[] {p.event()});
            } finally {
                clReleaseEvent(p.event());
            }
        }
        pending.clear();
    }
}
