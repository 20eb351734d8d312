package org.attn4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Host tensors: element conversions, views of caller memory, and addressing past 2^31 elements. */
class HostTensorTest {

    @Test
    void valuesAreStoredRoundedAndReadBack() {
        try (HostTensor t = HostTensor.of(DType.F16, new float[] {1 + 0x1p-11f, -2.5f, 65520f}, 3)) {
            assertArrayEquals(new float[] {1f, -2.5f, Float.POSITIVE_INFINITY}, t.toFloatArray());
            assertEquals(0x3C00, t.getBits(0));
            assertEquals(6, t.byteSize());
        }
    }

    @Test
    void wrongValueCountIsRejectedWithBothCounts() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HostTensor.of(DType.F32, new float[5], 2, 3));
        assertTrue(e.getMessage().contains("5 elements") && e.getMessage().contains("needs 6"), e.getMessage());
    }

    @Test
    void wrapViewsTheCallersSegmentWithoutCopying() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(16);
            HostTensor t = HostTensor.wrap(seg, DType.F32, 2, 2);
            t.setFloat(3, 2.5f);
            assertEquals(2.5f, seg.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 12));
            t.close(); // a view: the arena still owns the memory
            assertEquals(2.5f, t.getFloat(3));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> HostTensor.wrap(seg, DType.F32, 5));
            assertTrue(e.getMessage().contains("holds 16 bytes") && e.getMessage().contains("needs 20"),
                    e.getMessage());
        }
    }

    @Test
    void intsAndBitsAreStoredExactly() {
        try (HostTensor i = HostTensor.ofInts(new int[] {-1, Integer.MAX_VALUE}, 2);
             HostTensor h = HostTensor.allocate(DType.BF16, 1)) {
            assertEquals(-1, i.getInt(0));
            assertEquals(Integer.MAX_VALUE, i.getInt(1));
            h.setBits(0, 0xFF81);
            assertEquals(0xFF81, h.getBits(0));
            assertThrows(IllegalStateException.class, () -> h.getInt(0));
        }
    }

    /** Enough free memory for a tensor of a bit over 2 GiB, from /proc/meminfo where there is one. */
    private static boolean roomForTwoGiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    long kib = Long.parseLong(line.replaceAll("\\D", ""));
                    return kib > 6L * 1024 * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return false;
        }
        return false;
    }

    @Test
    void elementsPastTwoToThe31AreAddressed() {
        assumeTrue(roomForTwoGiB(), "needs about 6 GiB of available memory for a 2.1 GiB tensor");
        long n = (1L << 31) + 100_000_000L; // 2.25e9 one-byte elements, about 2.1 GiB
        try (HostTensor t = HostTensor.allocate(DType.FP8_E4M3, n)) {
            long past = (1L << 31) + 7;
            t.setFloat(past, 448f);
            t.setFloat(n - 1, -0.5f);
            t.setFloat(Integer.MAX_VALUE, 1f);
            assertEquals(448f, t.getFloat(past));
            assertEquals(-0.5f, t.getFloat(n - 1));
            assertEquals(1f, t.getFloat(Integer.MAX_VALUE));
            assertEquals(0f, t.getFloat(past + 1), "neighbours stay zero");
            assertEquals(0f, t.getFloat(past - 1 - (1L << 31)), "no wrap-around to low indices");
            assertEquals(n, t.elementCount());
            assertEquals(n, t.byteSize());
            assertThrows(IllegalStateException.class, t::toFloatArray);
        }
    }

    @Test
    void f16ByteOffsetsPastTwoGiBAreAddressed() {
        assumeTrue(roomForTwoGiB(), "needs about 6 GiB of available memory for a 2.1 GiB tensor");
        long n = (1L << 30) + 50_000_000L; // 2 bytes each: about 2.1 GiB
        try (HostTensor t = HostTensor.allocate(DType.F16, n)) {
            t.setFloat(n - 1, 3.5f);
            t.setFloat((1L << 30) + 1, -1f); // byte offset past 2^31
            assertEquals(3.5f, t.getFloat(n - 1));
            assertEquals(-1f, t.getFloat((1L << 30) + 1));
            assertEquals(0f, t.getFloat(1), "byte offset 2 unaffected");
        }
    }
}
