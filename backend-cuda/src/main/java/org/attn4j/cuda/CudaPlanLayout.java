package org.attn4j.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The arrays of one plan packed into one region of device memory: each at an offset aligned for
 * the widest load, the ones with host data first (one copy carries them all), scratch last.
 */
final class CudaPlanLayout {
    private final long alignment;
    private final List<long[]> entries = new ArrayList<>(); // {offset, bytes}
    private final List<ByteBuffer> data = new ArrayList<>();
    private long total;
    private long uploadEnd = -1;

    CudaPlanLayout(long alignment) {
        this.alignment = alignment;
    }

    /** Adds an array holding {@code bytes} (uploaded); returns its index. */
    int add(ByteBuffer bytes) {
        if (uploadEnd >= 0) {
            throw new IllegalStateException("arrays with data come before scratch");
        }
        return add(bytes, bytes.remaining());
    }

    /** Adds {@code length} bytes of scratch (never uploaded); returns its index. */
    int scratch(long length) {
        if (uploadEnd < 0) {
            uploadEnd = total;
        }
        return add(null, length);
    }

    private int add(ByteBuffer bytes, long length) {
        entries.add(new long[] {total, Math.max(4, length)});
        data.add(bytes);
        total += (Math.max(4, length) + alignment - 1) / alignment * alignment;
        return entries.size() - 1;
    }

    long total() {
        return total;
    }

    long offset(int index) {
        return entries.get(index)[0];
    }

    /** The bytes to upload: every array with data at its offset. */
    ByteBuffer upload() {
        long end = uploadEnd < 0 ? total : uploadEnd;
        ByteBuffer b = ByteBuffer.allocate((int) Math.max(4, end)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < data.size(); i++) {
            ByteBuffer x = data.get(i);
            if (x != null) {
                b.put((int) entries.get(i)[0], x.duplicate(), x.position(), x.remaining());
            }
        }
        return b.limit((int) end).position(0);
    }

    static ByteBuffer ints(int[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putInt(v);
        }
        return b.flip();
    }

    static ByteBuffer floats(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.flip();
    }

    static ByteBuffer longs(long[] values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return b.flip();
    }
}
