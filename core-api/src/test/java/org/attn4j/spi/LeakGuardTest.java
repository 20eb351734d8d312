package org.attn4j.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The backstop frees what was forgotten, once, and never frees twice what was closed. */
class LeakGuardTest {
    @Test
    void aForgottenOwnerIsFreedAfterCollection() throws InterruptedException {
        AtomicInteger frees = new AtomicInteger();
        register(frees);
        assertTrue(awaitCollection(frees, 1, 10_000), "the forgotten owner's free never ran");
        assertEquals(1, frees.get());
    }

    @Test
    void anExplicitCloseFreesOnceAndTheBackstopNeverAgain() throws InterruptedException {
        AtomicInteger frees = new AtomicInteger();
        Object owner = new Object();
        LeakGuard.Registration r = LeakGuard.register(owner, "a test resource", frees::incrementAndGet);
        r.run();
        r.run();
        assertEquals(1, frees.get());
        owner = null;
        awaitCollection(frees, 2, 500); // gives the cleaner its chance; it must not run the action again
        assertEquals(1, frees.get());
    }

    /** Registers a free action for an owner that is unreachable once this returns. */
    private static void register(AtomicInteger frees) {
        LeakGuard.register(new Object(), "a test resource", frees::incrementAndGet);
    }

    /** Collects garbage until {@code count} reaches {@code target}, for at most {@code millis}. */
    static boolean awaitCollection(AtomicInteger count, int target, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (count.get() < target && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        return count.get() >= target;
    }
}
