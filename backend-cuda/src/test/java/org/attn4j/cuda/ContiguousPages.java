package org.attn4j.cuda;

/** Page tables for the tests: each request's pages in a row, request after request, from page 0. */
final class ContiguousPages {
    private ContiguousPages() {}

    /** Page ids of each request of {@code kvLens} keys, at {@code pageSize} keys a page. */
    static int[][] of(int[] kvLens, int pageSize) {
        int[][] pages = new int[kvLens.length][];
        int next = 0;
        for (int b = 0; b < kvLens.length; b++) {
            pages[b] = new int[(kvLens[b] + pageSize - 1) / pageSize];
            for (int i = 0; i < pages[b].length; i++) {
                pages[b][i] = next++;
            }
        }
        return pages;
    }

    /** Pages in all of {@code pages}. */
    static int count(int[][] pages) {
        int n = 0;
        for (int[] p : pages) {
            n += p.length;
        }
        return n;
    }
}
