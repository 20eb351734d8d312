package org.attn4j.spi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.PageTable;
import org.junit.jupiter.api.Test;

/** A problem is handed out by plans, so neither its creator nor its readers may change it. */
class AttentionProblemTest {
    private static final PageTable TABLE = new PageTable(new int[] {0, 1, 2}, new int[] {0, 1}, new int[] {2, 1}, 2);

    @Test
    void arraysAreCopiedInAndOut() {
        int[] qoIndptr = {0, 2, 3};
        long[] offsets = {0, 4};
        AttentionProblem p = new AttentionProblem(new HeadConfig(1, 1, 2), qoIndptr, TABLE, null,
                AttentionOptions.DEFAULT, CustomMask.fromBooleans(new boolean[5]), offsets, false, PlanOptions.DEFAULT,
                null, null, PlanOptions.DEFAULT_ALIGNMENT);
        qoIndptr[1] = 7;
        offsets[1] = 9;
        p.qoIndptr()[2] = 8;
        p.maskOffsets()[0] = 5;
        assertArrayEquals(new int[] {0, 2, 3}, p.qoIndptr());
        assertArrayEquals(new long[] {0, 4}, p.maskOffsets());
        assertEquals(3, p.totalQ());
        assertEquals(2, p.qoStart(1));
        assertEquals(1, p.qoLen(1));
        assertEquals(4, p.maskOffset(1));
    }
}
