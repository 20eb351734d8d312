package org.attn4j.spi;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The backstop for native resources a caller forgot to close: a shared {@link Cleaner} frees them
 * once their owner is unreachable, and the first such free of the process is logged as a
 * warning (later ones at debug level), since it means memory stayed allocated until a garbage
 * collection. Closing a resource explicitly runs the same action once and suppresses the log.
 *
 * <p>Thread-safe: a registration's action runs once, whether a close or the cleaner gets there first.
 */
public final class LeakGuard {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final System.Logger LOG = System.getLogger(LeakGuard.class.getName());
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private LeakGuard() {}

    /**
     * A registered free action: {@link #run()} once, explicitly or by the cleaner. Thread-safe: the
     * action runs once whoever calls first.
     */
    public interface Registration {
        /** Runs the free action now (at most once), as an explicit close. */
        void run();
    }

    /**
     * Registers {@code free} to run when {@code owner} becomes unreachable. {@code free} must not
     * reference {@code owner}, or it is never collected.
     *
     * @param owner the object users hold (a tensor, a plan)
     * @param what  what the resource is, for the log ("a CUDA tensor of 4096 bytes")
     * @param free  frees the native resource
     * @return the registration, whose {@link Registration#run()} is the explicit close
     */
    public static Registration register(Object owner, String what, Runnable free) {
        AtomicBoolean explicit = new AtomicBoolean();
        Cleaner.Cleanable c = CLEANER.register(owner, () -> {
            if (!explicit.get()) {
                if (WARNED.compareAndSet(false, true)) {
                    LOG.log(System.Logger.Level.WARNING, "attn4j: {0} was not closed; freed after garbage collection. "
                            + "Close tensors, plans and backends (try-with-resources) to free device memory "
                            + "promptly; later cases are logged at debug level", what);
                } else {
                    LOG.log(System.Logger.Level.DEBUG, "attn4j: {0} was not closed; freed after garbage collection",
                            what);
                }
            }
            try {
                free.run();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "attn4j: freeing " + what + " failed: " + e.getMessage());
            }
        });
        return () -> {
            explicit.set(true);
            c.clean();
        };
    }
}
