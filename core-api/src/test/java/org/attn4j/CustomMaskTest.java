package org.attn4j;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.CustomMask;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Custom masks: little-endian bit packing and per-request offsets, derived or given. */
class CustomMaskTest {

    @Test
    void booleansPackLittleEndianWithinEachByte() {
        boolean[] bits = new boolean[10];
        bits[0] = true;
        bits[3] = true;
        bits[9] = true;
        CustomMask m = CustomMask.fromBooleans(bits);
        assertArrayEquals(new byte[] {0b0000_1001, 0b0000_0010}, m.packed());
        assertTrue(m.bit(9));
        assertFalse(m.bit(8));
        assertEquals(10, m.bitCount());
        assertNull(m.givenOffsets());
    }

    @Test
    void derivedOffsetsAreTheRunningSumOfQoLenTimesKvLen() {
        CustomMask m = CustomMask.fromPacked(new byte[4], 2 * 3 + 0 + 4 * 5);
        assertArrayEquals(new long[] {0, 6, 6}, m.resolveOffsets(new int[] {2, 1, 4}, new int[] {3, 0, 5}));
    }

    @Test
    void derivedOffsetsNeedTheExactLength() {
        CustomMask m = CustomMask.fromBooleans(new boolean[7]);
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> m.resolveOffsets(new int[] {2}, new int[] {3}));
        assertTrue(e.getMessage().contains("mask.length") && e.getMessage().contains("expected 6 bits")
                && e.getMessage().contains("actual 7"), e.getMessage());
    }

    @Test
    void givenOffsetsMayLeaveGapsButMustFitTheMask() {
        CustomMask m = CustomMask.fromPacked(new byte[2], 16, new long[] {10, 0});
        assertArrayEquals(new long[] {10, 0}, m.resolveOffsets(new int[] {2, 1}, new int[] {3, 4}));
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> m.resolveOffsets(new int[] {3, 1}, new int[] {3, 4}));
        assertTrue(e.getMessage().contains("mask.offsets[0]") && e.getMessage().contains("[10, 19)")
                && e.getMessage().contains("[0, 16)"), e.getMessage());
        InvalidArgumentException count = assertThrows(InvalidArgumentException.class,
                () -> m.resolveOffsets(new int[] {1}, new int[] {1}));
        assertTrue(count.getMessage().contains("mask.offsets.length"), count.getMessage());
    }

    @Test
    void packedBytesMustHoldTheBitCount() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                () -> CustomMask.fromPacked(new byte[1], 9));
        assertTrue(e.getMessage().contains("at least 2 bytes for 9 bits") && e.getMessage().contains("1 bytes"),
                e.getMessage());
    }

    @Test
    void nullArraysAreRejectedByName() {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> CustomMask.fromBooleans(null));
        assertEquals("mask: is null", e.getMessage());
        e = assertThrows(InvalidArgumentException.class, () -> CustomMask.fromPacked(new byte[1], 8, null));
        assertEquals("requestOffsets: is null", e.getMessage());
    }
}
