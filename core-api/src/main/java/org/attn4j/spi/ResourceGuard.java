package org.attn4j.spi;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.attn4j.error.InvalidArgumentException;

/**
 * Counts the calls in flight on one native resource (a tensor's memory, a plan, a session) so
 * that closing it waits for them instead of freeing memory a call is about to hand to a kernel.
 * A call enters before it touches the resource and exits when its work is queued; a close marks
 * the resource closed (new calls are rejected) and then waits until no call is inside. Work
 * already queued on a device is the backend's to wait for when it frees the memory.
 *
 * <p>Thread-safe. Entering costs two atomic operations; waiting spins briefly, then parks.
 */
public final class ResourceGuard {
    private static final long CLOSED = 1L << 62;
    private final AtomicLong state = new AtomicLong();

    /** An open resource with no call inside. */
    public ResourceGuard() {}

    /**
     * Enters the resource named {@code name}; rejected when it is closed or closing.
     *
     * @param name what the call calls the resource, for the message
     * @throws InvalidArgumentException naming {@code name} when the resource is closed
     */
    public void enter(String name) {
        long s = state.incrementAndGet();
        if ((s & CLOSED) != 0) {
            state.decrementAndGet();
            throw new InvalidArgumentException(name, "is closed");
        }
    }

    /** Leaves the resource entered with {@link #enter}. */
    public void exit() {
        state.decrementAndGet();
    }

    /**
     * Whether a close has begun.
     *
     * @return true once closing
     */
    public boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /**
     * Marks the resource closed and waits until every call inside has left.
     *
     * @return true for the first close, false when it was already closed
     */
    public boolean closeAndAwait() {
        long s;
        do {
            s = state.get();
            if ((s & CLOSED) != 0) {
                return false;
            }
        } while (!state.compareAndSet(s, s | CLOSED));
        int spins = 0;
        while ((state.get() & ~CLOSED) != 0) {
            if (++spins < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(50_000);
            }
        }
        return true;
    }
}
