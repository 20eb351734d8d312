package org.attn4j.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The host-side page pool: growth page by page, release, exhaustion, and the tables it builds. */
class PageManagerTest {

    @Test
    void growingAllocatesAPageOnlyWhenTheLastOneIsFull() {
        PageManager m = new PageManager(4, 3);
        int r = m.addRequest();
        assertEquals(1, m.pagesNeeded(r, 1));
        m.grow(r, 2);
        assertArrayEquals(new int[] {0}, m.pages(r));
        m.grow(r, 1); // fills page 0 exactly
        assertEquals(1, m.pages(r).length);
        m.grow(r, 1);
        assertArrayEquals(new int[] {0, 1}, m.pages(r));
        assertEquals(4, m.length(r));
        assertEquals(2, m.freePages());
    }

    @Test
    void runningOutOfPagesChangesNothingAndSaysHowManyWereMissing() {
        PageManager m = new PageManager(2, 4);
        int r = m.addRequest();
        m.grow(r, 5);
        assertFalse(m.canGrow(r, 4));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.grow(r, 4));
        assertTrue(e.getMessage().contains("needs 1 more pages") && e.getMessage().contains("0 of 2 are free"),
                e.getMessage());
        assertEquals(5, m.length(r));
        assertEquals(2, m.pages(r).length);
    }

    @Test
    void releasedPagesAreReusedByLaterRequests() {
        PageManager m = new PageManager(3, 2);
        int a = m.addRequest();
        int b = m.addRequest();
        m.grow(a, 3); // pages 0, 1
        m.grow(b, 1); // page 2
        m.release(a);
        assertEquals(2, m.freePages());
        assertArrayEquals(new int[] {b}, m.activeRequests());
        int c = m.addRequest();
        m.grow(c, 4);
        assertArrayEquals(new int[] {0, 1}, m.pages(c));
        assertThrows(IllegalArgumentException.class, () -> m.release(a));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> m.length(a));
        assertTrue(unknown.getMessage().contains("unknown request " + a), unknown.getMessage());
    }

    @Test
    void pageTableAndAppendPositionsFollowTheRequestOrderGiven() {
        PageManager m = new PageManager(8, 2);
        int a = m.addRequest();
        int b = m.addRequest();
        m.grow(a, 3); // pages 0, 1
        m.grow(b, 2); // page 2
        m.grow(a, 1); // fills page 1
        PageTable t = m.pageTable(b, a);
        assertEquals(new PageTable(new int[] {0, 1, 3}, new int[] {2, 0, 1}, new int[] {2, 2}, 2), t);
        AppendPositions at = m.appendPositions(new int[] {b, a}, new int[] {1, 2});
        assertArrayEquals(new int[] {0, 1, 1}, at.batchIndices());
        assertArrayEquals(new int[] {1, 2, 3}, at.positions());
    }

    @Test
    void badArgumentsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new PageManager(0, 4));
        PageManager m = new PageManager(2, 2);
        int r = m.addRequest();
        assertThrows(IllegalArgumentException.class, () -> m.grow(r, -1));
        assertThrows(IllegalArgumentException.class, () -> m.appendPositions(new int[] {r}, new int[0]));
    }
}
