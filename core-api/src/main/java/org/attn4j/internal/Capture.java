package org.attn4j.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.GraphRecorder;
import org.attn4j.spi.KernelGraph;
import org.attn4j.spi.ResourceGuard;

/**
 * A backend's graph capture: which thread is capturing, and every tensor and plan the captured
 * calls hold (a replay needs them open). While one thread captures, calls from other threads are
 * rejected, and calls that cannot be recorded (allocation, planning, host copies, waits) are
 * rejected on the capturing thread. Thread-safe: one per backend.
 */
public final class Capture {
    private volatile Thread thread;
    private List<Object> held;

    /** What a capture recorded: the graph, and the tensors and plans its calls held, in order. */
    public record Recording(KernelGraph graph, List<Object> used) {}

    /**
     * Opens one call's scope: rejects another thread's call during a capture; during this
     * thread's capture the scope reports what it holds to the recording.
     */
    public CallScope open(BackendSession session, ResourceGuard sessionGuard, String operation) {
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            throw new InvalidArgumentException(operation, "the backend is capturing a graph on thread '" + t.getName()
                    + "'; calls from other threads wait until the capture ends");
        }
        Consumer<Object> recorder = t == null ? null : held::add;
        return new CallScope(session, sessionGuard, recorder);
    }

    /** Whether the calling thread is capturing. */
    public boolean active() {
        return thread == Thread.currentThread();
    }

    /** Rejects, on the capturing thread, work that cannot be recorded in a graph. */
    public void rejectDuring(String operation) {
        reject(active(), operation);
    }

    /** Rejects work that cannot be recorded in a graph when {@code capturing}. */
    public static void reject(boolean capturing, String operation) {
        if (capturing) {
            throw new InvalidArgumentException(operation, "cannot be captured in a graph: it allocates, copies from "
                    + "the host or waits; do it before captureGraph");
        }
    }

    /**
     * Records the device work {@code work} queues on {@code session} without running it. Only one
     * capture at a time; whatever {@code work} throws ends the capture and is rethrown.
     */
    public Recording record(BackendSession session, Runnable work) {
        synchronized (this) {
            if (thread != null) {
                throw new InvalidArgumentException("captureGraph", "a capture is already in progress");
            }
            held = new ArrayList<>();
            thread = Thread.currentThread();
        }
        GraphRecorder recorder;
        try {
            recorder = session.beginCapture();
        } catch (RuntimeException e) {
            end();
            throw e;
        }
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            end();
            recorder.abort();
            throw e;
        }
        List<Object> used = end();
        return new Recording(recorder.end(), used);
    }

    private synchronized List<Object> end() {
        List<Object> used = held;
        held = null;
        thread = null;
        return used;
    }
}
