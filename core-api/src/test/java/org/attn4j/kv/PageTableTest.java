package org.attn4j.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attn4j.error.InvalidArgumentException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** CSR page tables (spec §2): lengths, lookups, and messages that name argument, value and range. */
class PageTableTest {

    private static void assertMessage(Executable call, String... fragments) {
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message '" + e.getMessage() + "' lacks '" + f + "'");
        }
    }

    @Test
    void lengthsAndLookupsFollowTheCsrRules() {
        // Page size 4; request 0: pages 5, 2 with 3 in the last -> kvLen 7; request 1: none; request 2: page 0 full.
        PageTable t = new PageTable(new int[] {0, 2, 2, 3}, new int[] {5, 2, 0}, new int[] {3, 0, 4}, 4);
        assertArrayEquals(new int[] {7, 0, 4}, t.kvLens());
        assertEquals(3, t.batchSize());
        assertEquals(5, t.pageOf(0, 3));
        assertEquals(2, t.pageOf(0, 4));
        assertEquals(2, t.page(0, 1));
        assertEquals(0, t.pageCount(1));
        assertEquals(5, t.maxPageId());
        assertEquals(3, t.totalPages());
    }

    @Test
    void ofBuildsTheTableFromPageListsAndLengths() {
        PageTable t = PageTable.of(3, new int[][] {{4, 1}, {}, {2}}, new int[] {6, 0, 1});
        assertEquals(new PageTable(new int[] {0, 2, 2, 3}, new int[] {4, 1, 2}, new int[] {3, 0, 1}, 3), t);
        assertMessage(() -> PageTable.of(3, new int[][] {{4}}, new int[] {4}), "pagesPerRequest[0].length",
                "expected 2 pages for kvLen 4", "actual 1");
        assertMessage(() -> PageTable.of(3, new int[][] {{}}, new int[] {-2}), "kvLens[0]", "expected >= 0",
                "actual -2");
        assertMessage(() -> PageTable.of(3, new int[][] {{4}, {}}, new int[] {1}), "kvLens.length",
                "pagesPerRequest.length = 2", "actual 1");
    }

    @Test
    void indptrMustStartAtZeroAndNeverDecrease() {
        assertMessage(() -> new PageTable(new int[] {1, 1}, new int[0], new int[] {1}, 4), "kvIndptr[0]",
                "expected 0", "actual 1");
        assertMessage(() -> new PageTable(new int[] {0, 2, 1}, new int[] {0}, new int[] {1, 1}, 4), "kvIndptr[2]",
                "kvIndptr[2] = 1 < kvIndptr[1] = 2");
        assertMessage(() -> new PageTable(new int[0], new int[0], new int[0], 4), "kvIndptr.length", ">= 1",
                "actual 0");
    }

    @Test
    void arrayLengthsMustMatchTheIndptr() {
        assertMessage(() -> new PageTable(new int[] {0, 2}, new int[] {0}, new int[] {1}, 4), "kvIndices.length",
                "kvIndptr[1] = 2", "actual 1");
        assertMessage(() -> new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {1, 1}, 4),
                "kvLastPageLen.length", "B = 1", "actual 2");
    }

    @Test
    void lastPageLengthMustLieInOneToPageSizeWhenTheRequestHasPages() {
        assertMessage(() -> new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {0}, 4), "kvLastPageLen[0]",
                "kvLastPageLen[0] = 0 is outside [1, 4]");
        assertMessage(() -> new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {5}, 4), "kvLastPageLen[0]",
                "kvLastPageLen[0] = 5 is outside [1, 4]");
        // A request without pages may carry any last-page length: it is not used.
        assertEquals(0, new PageTable(new int[] {0, 0}, new int[0], new int[] {9}, 4).kvLen(0));
    }

    @Test
    void negativePageIdsAndPageSizesAreRejected() {
        assertMessage(() -> new PageTable(new int[] {0, 1}, new int[] {-3}, new int[] {1}, 4), "kvIndices[0]",
                "kvIndices[0] = -3 is outside [0, ");
        assertMessage(() -> new PageTable(new int[] {0}, new int[0], new int[0], 0), "pageSize", ">= 1", "actual 0");
    }

    @Test
    void appendPositionsFromAnIndptrAreTheLastTokensOfEachRequest() {
        PageTable t = new PageTable(new int[] {0, 2, 3}, new int[] {0, 1, 2}, new int[] {1, 2}, 4);
        AppendPositions at = AppendPositions.fromIndptr(new int[] {0, 3, 4}, t);
        assertArrayEquals(new int[] {0, 0, 0, 1}, at.batchIndices());
        assertArrayEquals(new int[] {2, 3, 4, 1}, at.positions());
        assertMessage(() -> AppendPositions.fromIndptr(new int[] {0, 6, 6}, t), "appendIndptr[1]",
                "appends 6 tokens", "[0, kvLen = 5]");
        assertMessage(() -> AppendPositions.fromIndptr(new int[] {0, 1}, t), "appendIndptr.length", "B + 1 = 3",
                "actual 2");
    }

    @Test
    void cacheStridesAddressBothLayoutsAndCombinedStorage() {
        // NHD [pages 3, pageSize 4, Hkv 2, D 8]; HND [3, 2, 4, 8]; combined NHD [3, 2, 4, 2, 8].
        PagedKvCache nhd = new PagedKvCache(fakeTensor(3, 4, 2, 8), fakeTensor(3, 4, 2, 8), KvLayout.NHD, 3, 4,
                2, 8, 0, 0, 64, KvScales.ONE);
        assertEquals(2 * 64 + 3 * 16 + 8, nhd.kIndex(2, 3, 1));
        PagedKvCache hnd = PagedKvCache.separate(fakeTensor(3, 2, 4, 8), fakeTensor(3, 2, 4, 8),
                KvLayout.HND);
        assertEquals(4, hnd.pageSize());
        assertEquals(2 * 64 + 1 * 32 + 3 * 8, hnd.kIndex(2, 3, 1));
        org.attn4j.tensor.Tensor both = fakeTensor(3, 2, 4, 2, 8);
        PagedKvCache combined = PagedKvCache.combined(both, KvLayout.NHD);
        assertTrue(combined.isCombined());
        assertEquals(2 * 128 + 3 * 16 + 8, combined.kIndex(2, 3, 1));
        assertEquals(2 * 128 + 64 + 3 * 16 + 8, combined.vIndex(2, 3, 1));
    }

    @Test
    void vPagesHaveTheirOwnHeadDimAndStrides() {
        // K NHD [pages 3, pageSize 4, Hkv 2, Dqk 12], V [3, 4, 2, Dvo 8]: DeepSeek-like shorter V rows.
        PagedKvCache nhd = PagedKvCache.separate(fakeTensor(3, 4, 2, 12), fakeTensor(3, 4, 2, 8), KvLayout.NHD);
        assertEquals(12, nhd.kHeadDim());
        assertEquals(8, nhd.vHeadDim());
        assertEquals(2 * 96 + 3 * 24 + 12, nhd.kIndex(2, 3, 1));
        assertEquals(2 * 64 + 3 * 16 + 8, nhd.vIndex(2, 3, 1));
        PagedKvCache hnd = PagedKvCache.separate(fakeTensor(3, 2, 4, 12), fakeTensor(3, 2, 4, 8), KvLayout.HND);
        assertEquals(2 * 96 + 48 + 3 * 12, hnd.kIndex(2, 3, 1));
        assertEquals(2 * 64 + 32 + 3 * 8, hnd.vIndex(2, 3, 1));
        assertMessage(() -> PagedKvCache.separate(fakeTensor(3, 4, 2, 12), fakeTensor(3, 4, 3, 8), KvLayout.NHD),
                "v.shape", "[3, 4, 2, Dvo]", "actual [3, 4, 3, 8]");
        org.attn4j.options.HeadConfig heads = new org.attn4j.options.HeadConfig(8, 2, 192, 128);
        assertEquals(192, heads.headDimQk());
        assertEquals(128, heads.headDimVo());
        assertEquals(4, heads.groupSize());
        assertTrue(new org.attn4j.options.HeadConfig(8, 2, 64).sameHeadDims());
        assertMessage(() -> new org.attn4j.options.HeadConfig(8, 2, 64, 0), "headDimVo", "actual 0");
    }

    @Test
    void negativeStridesOffsetsAndNullTensorsAreRejected() {
        org.attn4j.tensor.Tensor t = fakeTensor(3, 4, 2, 8);
        assertMessage(() -> new PagedKvCache(t, t, KvLayout.NHD, 3, 4, 2, 8, 0, 0, -64, KvScales.ONE), "kPageStride",
                "expected >= 0", "actual -64");
        assertMessage(() -> new PagedKvCache(t, t, KvLayout.NHD, 3, 4, 2, 8, 0, -1, 64, KvScales.ONE), "vOffset",
                "expected >= 0", "actual -1");
        assertMessage(() -> PagedKvCache.separate(t, null, KvLayout.NHD), "v: tensor is null");
        assertMessage(() -> PagedKvCache.combined(null, KvLayout.NHD), "kv: tensor is null");
    }

    @Test
    void nullArraysAreRejectedByName() {
        assertMessage(() -> new PageTable(new int[] {0}, null, new int[0], 2), "kvIndices: is null");
        assertMessage(() -> new AppendPositions(new int[0], null), "positions: is null");
        assertMessage(() -> AppendPositions.fromIndptr(null, new PageTable(new int[] {0}, new int[0], new int[0], 2)),
                "appendIndptr: is null");
    }

    @Test
    void scalesMustBeFiniteAndPositive() {
        assertMessage(() -> new KvScales(-1f, 1f), "kScale", "a finite value > 0", "actual -1.0");
        assertMessage(() -> new KvScales(1f, Float.POSITIVE_INFINITY), "vScale", "actual Infinity");
    }

    /** A shape-only F16 tensor for stride arithmetic. */
    private static org.attn4j.tensor.Tensor fakeTensor(long... shape) {
        return org.attn4j.spi.FakeMemory.tensor(org.attn4j.tensor.DType.F16, shape);
    }
}
