package org.attn4j.spi;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Checks on native handles a caller lends (an OpenCL buffer or queue, a CUDA stream) before a
 * driver sees them. Drivers dereference a handle before they validate it, so a stale or made-up
 * value crashes the process instead of returning an error code. A handle is a pointer to the
 * driver's object: it must be aligned and point to mapped memory, which is read through
 * {@code /proc/self/mem} (Linux), where an unmapped address is an I/O error rather than a fault.
 * Where that file is missing the memory test is skipped and only the value itself is checked.
 *
 * <p>This catches made-up values and handles into unmapped memory; it cannot tell a live object
 * from a released one whose memory is still mapped. Stateless and thread-safe.
 */
public final class NativeHandles {
    private static final Path SELF_MEM = Path.of("/proc/self/mem");

    private NativeHandles() {}

    /**
     * Why {@code handle} cannot be an object a native library handed out, or null when it may be.
     *
     * @param handle the handle's value
     * @return the reason, such as {@code "0x3039 is not aligned to 8 bytes"}, or null
     */
    public static String whyNotAnObject(long handle) {
        if (handle == 0) {
            return "is a null handle";
        }
        if (handle % 8 != 0) {
            return "0x" + Long.toHexString(handle) + " is not aligned to 8 bytes, as an object's address is";
        }
        if (Files.isReadable(SELF_MEM) && wordAt(handle).isEmpty()) {
            return "0x" + Long.toHexString(handle) + " points to no memory of this process";
        }
        return null;
    }

    /**
     * The 8-byte little-endian word at {@code address} of this process's memory, read without
     * touching it directly.
     *
     * @param address an address
     * @return the word, or empty when nothing is mapped there (or the memory cannot be read)
     */
    public static OptionalLong wordAt(long address) {
        if (address <= 0 || address > Long.MAX_VALUE - 8) {
            return OptionalLong.empty();
        }
        try (RandomAccessFile mem = new RandomAccessFile(SELF_MEM.toFile(), "r")) {
            mem.seek(address);
            byte[] b = new byte[8];
            mem.readFully(b);
            long w = 0;
            for (int i = 7; i >= 0; i--) {
                w = (w << 8) | (b[i] & 0xFF);
            }
            return OptionalLong.of(w);
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * Why {@code handle} cannot be an OpenCL object, or null when it may be: besides
     * {@link #whyNotAnObject}, every OpenCL object an installable client driver hands out starts
     * with a pointer to its dispatch table, which must itself point to memory of this process.
     *
     * @param handle the handle's value
     * @return the reason, or null
     */
    public static String whyNotAnOpenClObject(long handle) {
        String why = whyNotAnObject(handle);
        if (why != null || !Files.isReadable(SELF_MEM)) {
            return why;
        }
        long dispatch = wordAt(handle).orElse(0);
        if (dispatch == 0 || dispatch % 8 != 0 || wordAt(dispatch).isEmpty()) {
            return "0x" + Long.toHexString(handle) + " does not start with an OpenCL dispatch table pointer";
        }
        return null;
    }
}
