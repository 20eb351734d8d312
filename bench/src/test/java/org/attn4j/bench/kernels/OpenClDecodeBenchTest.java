package org.attn4j.bench.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.error.BackendUnavailableException;
import org.junit.jupiter.api.Test;

/**
 * The OpenCL decode bench's harness without OpenCL: two reference backends stand in for the
 * baseline and the OpenCL side (this module's tests have no OpenCL backend on the class path).
 */
class OpenClDecodeBenchTest {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    @Test
    void sameInputsOnTwoBackendsCompareAndTime() {
        OpenClDecodeBench.Shape shape = new OpenClDecodeBench.Shape(3, 37, 4, 2, 32, 5);
        try (AttentionBackend a = Backends.open("reference"); AttentionBackend b = Backends.open("reference")) {
            assertTrue(new OpenClDecodeBench(out, 2).compareAndTime(shape, a, "reference", b, "opencl tiled"), text());
        }
        String report = text();
        assertTrue(report.contains("decode B 3 kvLen 37 Hq 4 Hkv 2 D 32 bf16 page 5, 2 rounds"), report);
        assertTrue(report.matches("(?s).*  reference: +median [0-9.]+ ms \\(.+\\), [0-9.]+ GB/s of KV\n.*"), report);
        assertTrue(report.matches("(?s).*  opencl tiled: median [0-9.]+ ms \\(.+\\), [0-9.]+ GB/s of KV, "
                + "max \\|diff\\| 0\\.00+\n.*"), report);
        assertTrue(report.contains("PASS opencl tiled against reference: 0 of 384 outputs outside tolerance"), report);
    }

    @Test
    void theDefaultShapeIsTheOneTheBenchAlwaysRan() {
        OpenClDecodeBench.Shape d = OpenClDecodeBench.Shape.DEFAULT;
        assertEquals(new OpenClDecodeBench.Shape(8, 1024, 32, 8, 128, 16), d);
        assertEquals(2L * 8 * 1024 * 8 * 128 * 2, d.kvBytes());
        assertEquals(new OpenClDecodeBench.Shape(64, 4096, 32, 8, 128, 16), d.withLengths(64, 4096));
    }

    @Test
    void countsAndRoundsMustBePositive() {
        var e = assertThrows(IllegalArgumentException.class, () -> OpenClDecodeBench.Shape.DEFAULT.withLengths(8, 0));
        assertEquals("kvLen: expected at least 1, actual 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new OpenClDecodeBench(out, 0));
        assertEquals("rounds: expected at least 1, actual 0", e.getMessage());
    }

    @Test
    void withoutOpenClTheBenchSaysSo() {
        var e = assertThrows(BackendUnavailableException.class, () -> new OpenClDecodeBench(out, 1)
                .run(OpenClDecodeBench.Shape.DEFAULT.withLengths(1, 16), OpenClDecodeBench.REFERENCE, null));
        assertTrue(e.getMessage().contains("'opencl'"), e.getMessage());
    }

    private String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }
}
