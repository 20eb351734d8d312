package org.attn4j.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Builds the bytes of a kernel parameter struct passed by value. Fields are written in
 * declaration order with natural alignment, as the C++ compiler lays them out.
 */
final class StructWriter {
    private ByteBuffer buf;

    /** A writer whose buffer starts at {@code capacity} bytes and grows as fields are added. */
    StructWriter(int capacity) {
        buf = ByteBuffer.allocate(Math.max(capacity, 16)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Room for one more field and its padding: structs gain fields, a fixed size would overflow. */
    private void ensure(int bytes) {
        if (buf.remaining() < bytes) {
            ByteBuffer grown = ByteBuffer.allocate(2 * buf.capacity() + bytes).order(ByteOrder.LITTLE_ENDIAN);
            grown.put(buf.flip());
            buf = grown;
        }
    }

    private void align(int n) {
        ensure(2 * n);
        while (buf.position() % n != 0) {
            buf.put((byte) 0);
        }
    }

    StructWriter ptr(long address) {
        return i64(address);
    }

    StructWriter i64(long v) {
        align(8);
        buf.putLong(v);
        return this;
    }

    StructWriter i32(int v) {
        align(4);
        buf.putInt(v);
        return this;
    }

    StructWriter f32(float v) {
        align(4);
        buf.putFloat(v);
        return this;
    }

    /** The struct, padded to a multiple of 8 bytes. */
    byte[] bytes() {
        align(8);
        byte[] out = new byte[buf.position()];
        buf.get(0, out);
        return out;
    }
}
