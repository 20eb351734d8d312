package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.spi.LeakGuard;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * Tensors a caller forgets to close give their OpenCL buffers back once collected, and say so in
 * the log, instead of holding device memory until the process ends.
 */
class ForgottenTensorTest {
    @Test
    void aForgottenBufferIsReleasedAndLogged() throws InterruptedException {
        Probe p = new OpenClBackendProvider().probe();
        assumeTrue(p.available(), () -> "no OpenCL device here: " + p.reasons());
        Logger log = Logger.getLogger(LeakGuard.class.getName());
        List<String> messages = new CopyOnWriteArrayList<>();
        Handler capture = new Handler() {
            @Override
            public void publish(LogRecord r) {
                Object[] params = r.getParameters();
                messages.add(params != null && params.length > 0 ? String.valueOf(params[0]) : r.getMessage());
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        Level before = log.getLevel();
        log.setLevel(Level.ALL);
        log.addHandler(capture);
        // A size no other test allocates, so the log line is this test's.
        long elements = 262_147;
        String expected = "an OpenCL buffer of " + elements * 4 + " bytes";
        try (AttentionBackend backend = Backends.open("opencl")) {
            for (int i = 0; i < 8; i++) {
                backend.allocate(DType.F32, elements); // forgotten
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (messages.stream().noneMatch(m -> m.contains(expected)) && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(20);
            }
        } finally {
            log.removeHandler(capture);
            log.setLevel(before);
        }
        assertTrue(messages.stream().anyMatch(m -> m.contains(expected)),
                "no forgotten buffer was freed by the backstop; log: " + messages);
    }
}
