package org.attn4j.cli.npy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

public class NpyTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(DType.class)
    void roundTripKeepsEveryBitAndTheShape(DType dtype) throws IOException {
        SplittableRandom rnd = new SplittableRandom(dtype.ordinal());
        try (HostTensor t = HostTensor.allocate(dtype, 3, 5, 7)) {
            for (long i = 0; i < t.elementCount(); i++) {
                t.setBits(i, rnd.nextInt());
            }
            Path f = dir.resolve(dtype + ".npy");
            Npy.write(f, t);
            assertEquals(0, (Files.size(f) - t.byteSize()) % 64, "data starts 64-byte aligned");
            try (HostTensor back = Npy.read(f, dtype)) {
                assertArrayEquals(t.shape(), back.shape());
                for (long i = 0; i < t.elementCount(); i++) {
                    assertEquals(t.getBits(i), back.getBits(i), "element " + i);
                }
            }
            assertEquals(Npy.descr(dtype), Npy.header(f).descr());
        }
    }

    @Test
    void writesTheHeaderNumpyWrites() throws IOException {
        try (HostTensor t = HostTensor.allocate(DType.F32, 4)) {
            Path f = dir.resolve("a.npy");
            Npy.write(f, t);
            byte[] bytes = Files.readAllBytes(f);
            int headerLen = (bytes[8] & 0xFF) | (bytes[9] & 0xFF) << 8;
            assertEquals(bytes.length - 16, 10 + headerLen, "header then 16 data bytes");
            String head = new String(bytes, 10, headerLen, StandardCharsets.ISO_8859_1);
            assertTrue(head.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"), head);
            assertTrue(head.endsWith("\n"));
        }
    }

    @Test
    void readsVersion2HeadersAndScalars() throws IOException {
        Path f = dir.resolve("v2.npy");
        writeRaw(f, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new byte[] {0, 0, (byte) 0x80, 0x3f});
        try (HostTensor t = Npy.read(f, DType.F32)) {
            assertEquals(0, t.rank());
            assertEquals(1.0f, t.getFloat(0));
        }
    }

    @Test
    void readsInt64IndexFilesAndBooleans() throws IOException {
        Path f = dir.resolve("i8.npy");
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(0).putLong(3).putLong(7);
        writeRaw(f, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", b.array());
        assertArrayEquals(new int[] {0, 3, 7}, Npy.readInts(f));
        Path m = dir.resolve("mask.npy");
        writeRaw(m, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", new byte[] {1, 0, 0, 1});
        assertArrayEquals(new boolean[] {true, false, false, true}, Npy.readBooleans(m));
    }

    @Test
    void rejectsMalformedAndMismatchedFilesWithTheirNames() throws IOException {
        Path notNpy = dir.resolve("text.npy");
        Files.writeString(notNpy, "hello, this is not numpy");
        assertTrue(assertThrows(NpyException.class, () -> Npy.read(notNpy, DType.F32)).getMessage()
                .contains("text.npy: not a .npy file"));

        Path big = dir.resolve("big.npy");
        writeRaw(big, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", new byte[4]);
        assertTrue(assertThrows(NpyException.class, () -> Npy.read(big, DType.F32)).getMessage()
                .contains("big-endian"));

        Path fortran = dir.resolve("f.npy");
        writeRaw(fortran, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", new byte[16]);
        assertTrue(assertThrows(NpyException.class, () -> Npy.read(fortran, DType.F32)).getMessage()
                .contains("Fortran"));

        Path shortData = dir.resolve("short.npy");
        writeRaw(shortData, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", new byte[8]);
        String msg = assertThrows(NpyException.class, () -> Npy.read(shortData, DType.F32)).getMessage();
        assertTrue(msg.contains("needs 16 data bytes, the file has 8"), msg);

        Path f4 = dir.resolve("f4.npy");
        try (HostTensor t = HostTensor.allocate(DType.F32, 2)) {
            Npy.write(f4, t);
        }
        msg = assertThrows(NpyException.class, () -> Npy.read(f4, DType.BF16)).getMessage();
        assertTrue(msg.contains("'<f4'") && msg.contains("BF16"), msg);

        Path badShape = dir.resolve("shape.npy");
        writeRaw(badShape, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", new byte[8]);
        assertTrue(assertThrows(NpyException.class, () -> Npy.header(badShape)).getMessage().contains("bad dimension"));
    }

    @Test
    void headersThatClaimMoreThanTheFileHoldsFailBeforeAnyAllocation() throws IOException {
        Path huge = dir.resolve("huge.npy");
        writeRaw(huge, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (300000000, 4), }", new byte[900]);
        long t0 = System.nanoTime();
        String msg = assertThrows(NpyException.class, () -> Npy.read(huge, DType.F32)).getMessage();
        assertTrue(msg.contains("huge.npy: shape [300000000, 4] of '<f4' needs 4800000000 data bytes, the file has 900"),
                msg);
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "rejected from the header, not after allocating");

        Path overflow = dir.resolve("overflow.npy");
        writeRaw(overflow, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
                new byte[16]);
        msg = assertThrows(NpyException.class, () -> Npy.read(overflow, DType.F32)).getMessage();
        assertTrue(msg.contains("more elements than any file can hold"), msg);
        assertThrows(NpyException.class, () -> Npy.readInts(overflow));

        Path ints = dir.resolve("ints.npy");
        writeRaw(ints, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }", new byte[8]);
        msg = assertThrows(NpyException.class, () -> Npy.readInts(ints)).getMessage();
        assertTrue(msg.contains("needs 8000000000000 data bytes, the file has 8"), msg);

        Path bools = dir.resolve("bools.npy");
        writeRaw(bools, 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (3000000000,), }", new byte[3]);
        msg = assertThrows(NpyException.class, () -> Npy.readBooleans(bools)).getMessage();
        assertTrue(msg.contains("needs 3000000000 data bytes, the file has 3"), msg);

        Path trailing = dir.resolve("trailing.npy");
        writeRaw(trailing, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", new byte[12]);
        msg = assertThrows(NpyException.class, () -> Npy.read(trailing, DType.F32)).getMessage();
        assertTrue(msg.contains("needs 8 data bytes, the file has 12"), msg);

        Path dims = dir.resolve("dims.npy");
        writeRaw(dims, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, ".repeat(80) + "), }",
                new byte[4]);
        msg = assertThrows(NpyException.class, () -> Npy.header(dims)).getMessage();
        assertTrue(msg.contains("more than 64 dimensions"), msg);

        Path empty = dir.resolve("empty.npy");
        writeRaw(empty, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (9223372036854775807, 0), }",
                new byte[0]);
        try (HostTensor t = Npy.read(empty, DType.F32)) {
            assertEquals(0, t.elementCount());
        }
    }

    /** A file with a hand-written header, padded as NumPy pads. */
    public static void writeRaw(Path f, int version, String dict, byte[] data) throws IOException {
        int prefix = 6 + 2 + (version == 1 ? 2 : 4);
        int total = (prefix + dict.length() + 1 + 63) / 64 * 64;
        ByteBuffer b = ByteBuffer.allocate(total + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
        if (version == 1) {
            b.putShort((short) (total - prefix));
        } else {
            b.putInt(total - prefix);
        }
        b.put(dict.getBytes(StandardCharsets.ISO_8859_1));
        while (b.position() < total - 1) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n').put(data);
        Files.write(f, b.array());
    }
}
