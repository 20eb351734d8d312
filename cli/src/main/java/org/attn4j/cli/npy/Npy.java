package org.attn4j.cli.npy;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/**
 * Reads and writes NumPy {@code .npy} files (format versions 1, 2 and 3; little-endian; C order)
 * as {@link HostTensor}s. NumPy has no bfloat16 or FP8, so those travel as raw bits, {@code <u2}
 * and {@code |u1}, with the dtype named by the caller.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final int CHUNK = 1 << 26;
    /** Longest header read; NumPy's own headers are a few hundred bytes. */
    private static final int MAX_HEADER = 1 << 20;

    private Npy() {}

    /** The NumPy descriptor attn4j writes for {@code dtype}. */
    public static String descr(DType dtype) {
        return switch (dtype) {
            case F32 -> "<f4";
            case F16 -> "<f2";
            case I32 -> "<i4";
            case BF16 -> "<u2";
            case FP8_E4M3, FP8_E5M2 -> "|u1";
        };
    }

    /**
     * The dtype a descriptor holds without further information, or null when it is raw bits
     * ({@code <u2} may be bf16 or f16, {@code |u1} either FP8) or unknown.
     */
    public static DType infer(String descr) {
        return switch (descr.replace('=', '<')) {
            case "<f4" -> DType.F32;
            case "<f2" -> DType.F16;
            case "<i4" -> DType.I32;
            default -> null;
        };
    }

    /** Whether a file of descriptor {@code descr} can hold {@code dtype}. */
    static boolean compatible(String descr, DType dtype) {
        String d = descr.replace('=', '<');
        return switch (dtype) {
            case F32 -> d.equals("<f4");
            case F16 -> d.equals("<f2") || d.equals("<u2") || d.equals("<i2");
            case BF16 -> d.equals("<u2") || d.equals("<i2") || d.equals("<V2");
            case FP8_E4M3, FP8_E5M2 -> d.equals("|u1") || d.equals("|i1") || d.equals("<u1") || d.equals("|V1");
            case I32 -> d.equals("<i4");
        };
    }

    /** Reads only the header. */
    public static NpyHeader header(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return readHeader(ch, file.toString());
        }
    }

    /**
     * The data bytes {@code h} declares for elements of {@code itemSize} bytes, checked against
     * what the file holds after its header before anything is allocated: a header may claim any
     * shape, the file's length may not.
     */
    static long checkedDataBytes(NpyHeader h, int itemSize, FileChannel ch, Path file) throws IOException {
        long need;
        try {
            need = Math.multiplyExact(h.elementCount(), (long) itemSize);
        } catch (ArithmeticException e) {
            throw new NpyException(file + ": shape " + Arrays.toString(h.shape()) + " of '" + h.descr()
                    + "' has more elements than any file can hold");
        }
        long have = ch.size() - ch.position();
        if (have != need) {
            throw new NpyException(file + ": shape " + Arrays.toString(h.shape()) + " of '" + h.descr() + "' needs "
                    + need + " data bytes, the file has " + have
                    + (have > need ? " (one array per .npy file; np.savez writes .npz)" : ""));
        }
        return need;
    }

    /** Reads {@code file} as a tensor of {@code dtype}; the file's descriptor must be able to hold it. */
    public static HostTensor read(Path file, DType dtype) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = readHeader(ch, file.toString());
            if (!compatible(h.descr(), dtype)) {
                throw new NpyException(file + ": holds '" + h.descr() + "', which cannot be read as " + dtype
                        + " (expected '" + descr(dtype) + "')");
            }
            long need = checkedDataBytes(h, dtype.byteSize(), ch, file);
            HostTensor t;
            try {
                t = HostTensor.allocate(dtype, h.shape());
            } catch (OutOfMemoryError e) {
                throw new NpyException(file + ": cannot allocate " + need + " bytes of host memory for shape "
                        + Arrays.toString(h.shape()));
            }
            try {
                readFully(ch, t.segment(), file);
            } catch (IOException | RuntimeException e) {
                t.close(); // off-heap memory the caller never receives
                throw e;
            }
            return t;
        }
    }

    /** Reads an integer file ({@code <i4} or {@code <i8}, values within int range) as an int array. */
    public static int[] readInts(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = readHeader(ch, file.toString());
            String d = h.descr().replace('=', '<');
            if (!d.equals("<i4") && !d.equals("<i8")) {
                throw new NpyException(file + ": expected integers ('<i4' or '<i8'), found '" + h.descr() + "'");
            }
            int width = d.equals("<i4") ? 4 : 8;
            long bytes = checkedDataBytes(h, width, ch, file);
            int n = arrayLength(h, file);
            ByteBuffer buf = readAll(ch, bytes, file);
            int[] out = new int[n];
            for (int i = 0; i < n; i++) {
                long v = width == 4 ? buf.getInt() : buf.getLong();
                if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                    throw new NpyException(file + ": element " + i + " = " + v + " does not fit 32 bits");
                }
                out[i] = (int) v;
            }
            return out;
        }
    }

    /** Reads a float32 file ({@code <f4}), any shape, as a flat float array (per-head sinks, ALiBi slopes). */
    public static float[] readFloats(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = readHeader(ch, file.toString());
            if (!h.descr().replace('=', '<').equals("<f4")) {
                throw new NpyException(file + ": expected float32 ('<f4'), found '" + h.descr() + "'");
            }
            long bytes = checkedDataBytes(h, 4, ch, file);
            int n = arrayLength(h, file);
            ByteBuffer buf = readAll(ch, bytes, file);
            float[] out = new float[n];
            for (int i = 0; i < n; i++) {
                out[i] = buf.getFloat();
            }
            return out;
        }
    }

    /** Reads a boolean file ({@code |b1} or {@code |u1}, non-zero is true). */
    public static boolean[] readBooleans(Path file) throws IOException {
        byte[] bytes = readBytes(file, "booleans ('|b1' or '|u1')", "|b1", "|u1", "|i1");
        boolean[] out = new boolean[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            out[i] = bytes[i] != 0;
        }
        return out;
    }

    /** Reads a byte file ({@code |u1}, {@code |i1} or {@code |b1}), such as a bit-packed mask from {@code np.packbits}. */
    public static byte[] readBytes(Path file) throws IOException {
        return readBytes(file, "bytes ('|u1')", "|u1", "|i1", "|b1");
    }

    private static byte[] readBytes(Path file, String expected, String... descrs) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = readHeader(ch, file.toString());
            String d = h.descr().replace('<', '|').replace('=', '|');
            if (!Arrays.asList(descrs).contains(d)) {
                throw new NpyException(file + ": expected " + expected + ", found '" + h.descr() + "'");
            }
            long bytes = checkedDataBytes(h, 1, ch, file);
            arrayLength(h, file);
            return readAll(ch, bytes, file).array();
        }
    }

    /** The element count as a Java array length, or a message saying it is too long for one. */
    private static int arrayLength(NpyHeader h, Path file) {
        long n = h.elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new NpyException(file + ": " + n + " elements are more than an index or mask array may have ("
                    + (Integer.MAX_VALUE - 8) + ")");
        }
        return (int) n;
    }

    private static ByteBuffer readAll(FileChannel ch, long bytes, Path file) throws IOException {
        if (bytes > Integer.MAX_VALUE - 8) {
            throw new NpyException(file + ": " + bytes + " data bytes are more than an index or mask array may have");
        }
        ByteBuffer buf = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        readExactly(ch, buf, file.toString(), "the data");
        buf.flip();
        return buf;
    }

    /** Writes {@code t} in format version 1 (version 2 when the header needs more than 65535 bytes). */
    public static void write(Path file, HostTensor t) throws IOException {
        NpyHeader h = new NpyHeader(descr(t.dtype()), false, t.shape());
        byte[] dict = h.toText().getBytes(StandardCharsets.ISO_8859_1);
        int version = dict.length + 1 + 10 > 65535 ? 2 : 1;
        int prefix = MAGIC.length + 2 + (version == 1 ? 2 : 4);
        int total = prefix + dict.length + 1;
        int padded = (total + 63) / 64 * 64; // data starts 64-byte aligned, as NumPy writes it
        ByteBuffer head = ByteBuffer.allocate(padded).order(ByteOrder.LITTLE_ENDIAN);
        head.put(MAGIC).put((byte) version).put((byte) 0);
        int headerLen = padded - prefix;
        if (version == 1) {
            head.putShort((short) headerLen);
        } else {
            head.putInt(headerLen);
        }
        head.put(dict);
        while (head.position() < padded - 1) {
            head.put((byte) ' ');
        }
        head.put((byte) '\n');
        head.flip();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            while (head.hasRemaining()) {
                ch.write(head);
            }
            MemorySegment seg = t.segment();
            for (long off = 0; off < seg.byteSize(); off += CHUNK) {
                ByteBuffer b = seg.asSlice(off, Math.min(CHUNK, seg.byteSize() - off)).asByteBuffer();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
        }
    }

    private static NpyHeader readHeader(FileChannel ch, String file) throws IOException {
        ByteBuffer pre = ByteBuffer.allocate(MAGIC.length + 2).order(ByteOrder.LITTLE_ENDIAN);
        readExactly(ch, pre, file, "the magic string");
        for (int i = 0; i < MAGIC.length; i++) {
            if (pre.get(i) != MAGIC[i]) {
                throw new NpyException(file + ": not a .npy file (the magic string \\x93NUMPY is missing)");
            }
        }
        int major = pre.get(6) & 0xFF;
        if (major < 1 || major > 3) {
            throw new NpyException(file + ": .npy format version " + major + "." + (pre.get(7) & 0xFF)
                    + " is not supported (1, 2 and 3 are)");
        }
        ByteBuffer len = ByteBuffer.allocate(major == 1 ? 2 : 4).order(ByteOrder.LITTLE_ENDIAN);
        readExactly(ch, len, file, "the header length");
        long headerLen = major == 1 ? len.getShort(0) & 0xFFFF : len.getInt(0) & 0xFFFFFFFFL;
        if (headerLen > MAX_HEADER) {
            throw new NpyException(file + ": header length " + headerLen + " is implausible");
        }
        ByteBuffer text = ByteBuffer.allocate((int) headerLen);
        readExactly(ch, text, file, "the header");
        String s = new String(text.array(), major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        NpyHeader h = NpyHeader.parse(s, file);
        if (h.descr().startsWith(">") && !h.descr().endsWith("1")) {
            throw new NpyException(file + ": big-endian data ('" + h.descr() + "') is not supported; "
                    + "save with dtype.newbyteorder('<')");
        }
        if (h.fortranOrder() && h.shape().length > 1) {
            throw new NpyException(file + ": Fortran-order data is not supported; save np.ascontiguousarray(x)");
        }
        return h;
    }

    private static void readExactly(FileChannel ch, ByteBuffer buf, String file, String what) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new NpyException(file + ": truncated while reading " + what);
            }
        }
    }

    private static void readFully(FileChannel ch, MemorySegment seg, Path file) throws IOException {
        for (long off = 0; off < seg.byteSize(); off += CHUNK) {
            ByteBuffer b = seg.asSlice(off, Math.min(CHUNK, seg.byteSize() - off)).asByteBuffer();
            while (b.hasRemaining()) {
                if (ch.read(b) < 0) {
                    throw new NpyException(file + ": truncated data");
                }
            }
        }
    }
}
