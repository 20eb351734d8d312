package org.attn4j.spi;

import java.io.IOException;
import java.io.RandomAccessFile;
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
 * from a released one whose memory is still mapped. Thread-safe: the file is opened once, on
 * first use, and its reads take turns (a check costs a few microseconds, so engines may wrap
 * their buffers on every step). It is a {@link RandomAccessFile}, not a {@code FileChannel}: an
 * interrupted thread would close a channel for every later check.
 */
public final class NativeHandles {
    private NativeHandles() {}

    /** This process's memory as a file, opened on first use; null where the system has none. */
    private static final class SelfMemory {
        static final RandomAccessFile FILE = open();

        private static RandomAccessFile open() {
            try {
                return new RandomAccessFile("/proc/self/mem", "r");
            } catch (IOException | RuntimeException e) {
                return null;
            }
        }
    }

    /**
     * Why {@code handle} cannot be an object a native library handed out, or null when it may be.
     *
     * @param handle the handle's value
     * @return the reason, such as {@code "0x3039 is not aligned to 8 bytes"}, or null
     */
    public static String whyNotAnObject(long handle) {
        String why = whyNotAPointer(handle);
        if (why == null && SelfMemory.FILE != null && wordAt(handle).isEmpty()) {
            return unmapped(handle);
        }
        return why;
    }

    private static String whyNotAPointer(long handle) {
        if (handle == 0) {
            return "is a null handle";
        }
        if (handle % 8 != 0) {
            return "0x" + Long.toHexString(handle) + " is not aligned to 8 bytes, as an object's address is";
        }
        return null;
    }

    private static String unmapped(long handle) {
        return "0x" + Long.toHexString(handle) + " points to no memory of this process";
    }

    /**
     * The 8-byte little-endian word at {@code address} of this process's memory, read without
     * touching it directly.
     *
     * @param address an address
     * @return the word, or empty when nothing is mapped there (or the memory cannot be read)
     */
    public static OptionalLong wordAt(long address) {
        RandomAccessFile mem = SelfMemory.FILE;
        if (mem == null || address <= 0 || address > Long.MAX_VALUE - 8) {
            return OptionalLong.empty();
        }
        byte[] b = new byte[8];
        try {
            synchronized (mem) {
                mem.seek(address);
                mem.readFully(b);
            }
        } catch (IOException | RuntimeException e) {
            return OptionalLong.empty();
        }
        long w = 0;
        for (int i = 7; i >= 0; i--) {
            w = (w << 8) | (b[i] & 0xFF);
        }
        return OptionalLong.of(w);
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
        String why = whyNotAPointer(handle);
        if (why != null || SelfMemory.FILE == null) {
            return why;
        }
        OptionalLong first = wordAt(handle);
        if (first.isEmpty()) {
            return unmapped(handle);
        }
        long dispatch = first.getAsLong();
        if (dispatch == 0 || dispatch % 8 != 0 || wordAt(dispatch).isEmpty()) {
            return "0x" + Long.toHexString(handle) + " does not start with an OpenCL dispatch table pointer";
        }
        return null;
    }
}
