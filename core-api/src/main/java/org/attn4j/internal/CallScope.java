package org.attn4j.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.attn4j.error.BackendException;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.ResourceGuard;
import org.attn4j.tensor.Tensor;

/**
 * One public call: validates each tensor it names and holds it (and the session, and any plan)
 * open until the call's work is queued, so a concurrent close waits instead of freeing memory the
 * call is handing to a kernel. Not thread-safe: one scope per call.
 */
public final class CallScope implements AutoCloseable {
    private final BackendSession session;
    private final ResourceGuard sessionGuard;
    private final Consumer<Object> recorder;
    private final List<Object> held = new ArrayList<>(8);

    /**
     * @param recorder told of every tensor and guard the call holds (a graph capture keeps them), or null
     */
    public CallScope(BackendSession session, ResourceGuard sessionGuard, Consumer<Object> recorder) {
        this.session = session;
        this.sessionGuard = sessionGuard;
        this.recorder = recorder;
        sessionGuard.enter("backend");
    }

    /** Validates {@code t} as a tensor of this session and holds it open for the call. */
    public BackendTensor tensor(String name, Tensor t) {
        BackendTensor bt = Validation.tensor(session, name, t);
        bt.enter(name);
        held.add(bt);
        if (recorder != null) {
            recorder.accept(bt);
        }
        return bt;
    }

    /** As {@link #tensor}, or null for a null tensor. */
    public BackendTensor optional(String name, Tensor t) {
        return t == null ? null : tensor(name, t);
    }

    /** Holds a plan (or other resource) open for the call; rejected by {@code name} when closed. */
    public void hold(ResourceGuard guard, String name) {
        guard.enter(name);
        held.add(guard);
        if (recorder != null) {
            recorder.accept(guard);
        }
    }

    public BackendSession session() {
        return session;
    }

    @Override
    public void close() {
        for (int i = held.size() - 1; i >= 0; i--) {
            Object o = held.get(i);
            if (o instanceof BackendTensor t) {
                t.exit();
            } else {
                ((ResourceGuard) o).exit();
            }
        }
        held.clear();
        sessionGuard.exit();
    }

    /**
     * An {@link Error} thrown inside a call (out of memory, a stack overflow, a native library
     * that failed to link) as the exception a public call may throw.
     */
    public static RuntimeException failure(String backend, String operation, Error e) {
        String what = e instanceof OutOfMemoryError ? "out of memory" : e.getClass().getSimpleName();
        return new BackendException(backend, operation + " failed: " + what
                + (e.getMessage() == null ? "" : ": " + e.getMessage()), e);
    }
}
