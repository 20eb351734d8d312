package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Kernel parameter structs are laid out as the C++ compiler does, whatever their size. */
class StructWriterTest {
    @Test
    void fieldsAreNaturallyAlignedAndTheStructPaddedToEightBytes() {
        byte[] b = new StructWriter(16).i32(1).i64(2).f32(3f).bytes();
        assertEquals(24, b.length);
        ByteBuffer r = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1, r.getInt(0));
        assertEquals(2L, r.getLong(8));
        assertEquals(3f, r.getFloat(16));
    }

    @Test
    void aStructLargerThanTheInitialCapacityGrowsInsteadOfOverflowing() {
        StructWriter w = new StructWriter(16);
        for (int i = 0; i < 100; i++) {
            w.i64(i).i32(-i);
        }
        byte[] b = w.bytes();
        assertEquals(100 * 16, b.length);
        ByteBuffer r = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 100; i++) {
            assertEquals(i, r.getLong(16 * i));
            assertEquals(-i, r.getInt(16 * i + 8));
        }
    }
}
