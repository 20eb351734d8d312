package org.attn4j.kv;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;

/**
 * A CSR page table (spec §2): request {@code b} owns pages
 * {@code indices[indptr[b] .. indptr[b+1])}; its last page holds {@code lastPageLen[b]} tokens.
 * Structure is checked here; page ids against a cache's page count are checked at run.
 *
 * <p>Immutable (arrays are copied in and out) and thread-safe.
 */
public final class PageTable {
    private final int[] indptr;
    private final int[] indices;
    private final int[] lastPageLen;
    private final int pageSize;

    /**
     * A table from its three arrays, checked and copied.
     *
     * @param kvIndptr      each request's first page in {@code kvIndices}: {@code B + 1} entries
     *                      from 0, never decreasing
     * @param kvIndices     page ids, non-negative
     * @param kvLastPageLen tokens in each request's last page, in {@code [1, pageSize]} for requests with pages
     * @param pageSize      tokens per page, at least 1
     * @throws InvalidArgumentException when the arrays do not form a table
     */
    public PageTable(int[] kvIndptr, int[] kvIndices, int[] kvLastPageLen, int pageSize) {
        Args.notNull(kvIndptr, "kvIndptr");
        Args.notNull(kvIndices, "kvIndices");
        Args.notNull(kvLastPageLen, "kvLastPageLen");
        this.indptr = kvIndptr.clone();
        this.indices = kvIndices.clone();
        this.lastPageLen = kvLastPageLen.clone();
        this.pageSize = pageSize;
        validate();
    }

    private void validate() {
        if (pageSize < 1) {
            throw InvalidArgumentException.expected("pageSize", ">= 1", pageSize);
        }
        if (indptr.length < 1) {
            throw InvalidArgumentException.expected("kvIndptr.length", ">= 1 (B + 1)", indptr.length);
        }
        if (indptr[0] != 0) {
            throw InvalidArgumentException.expected("kvIndptr[0]", 0, indptr[0]);
        }
        int batch = indptr.length - 1;
        for (int b = 0; b < batch; b++) {
            if (indptr[b + 1] < indptr[b]) {
                throw new InvalidArgumentException("kvIndptr[" + (b + 1) + "]", "kvIndptr must not decrease: kvIndptr["
                        + (b + 1) + "] = " + indptr[b + 1] + " < kvIndptr[" + b + "] = " + indptr[b]);
            }
        }
        if (indptr[batch] != indices.length) {
            throw InvalidArgumentException.expected("kvIndices.length", "kvIndptr[" + batch + "] = " + indptr[batch],
                    indices.length);
        }
        if (lastPageLen.length != batch) {
            throw InvalidArgumentException.expected("kvLastPageLen.length", "B = " + batch, lastPageLen.length);
        }
        for (int b = 0; b < batch; b++) {
            if (indptr[b + 1] > indptr[b] && (lastPageLen[b] < 1 || lastPageLen[b] > pageSize)) {
                throw new InvalidArgumentException("kvLastPageLen[" + b + "]", "kvLastPageLen[" + b + "] = "
                        + lastPageLen[b] + " is outside [1, " + pageSize + "] (pageSize " + pageSize + ")");
            }
            long len = indptr[b + 1] == indptr[b] ? 0
                    : (long) (indptr[b + 1] - indptr[b] - 1) * pageSize + lastPageLen[b];
            if (len > Integer.MAX_VALUE) {
                throw new InvalidArgumentException("kvIndptr[" + (b + 1) + "]", "request " + b + " has "
                        + (indptr[b + 1] - indptr[b]) + " pages of " + pageSize + " tokens, " + len
                        + " keys, more than " + Integer.MAX_VALUE);
            }
        }
        for (int i = 0; i < indices.length; i++) {
            if (indices[i] < 0) {
                throw InvalidArgumentException.outside("kvIndices[" + i + "]", indices[i], 0, Integer.MAX_VALUE);
            }
        }
    }

    /**
     * Builds the table from each request's page list and length.
     *
     * @param pageSize        tokens per page
     * @param pagesPerRequest each request's page ids, exactly as many as its length needs
     * @param kvLens          each request's keys
     * @return the table
     */
    public static PageTable of(int pageSize, int[][] pagesPerRequest, int[] kvLens) {
        Args.notNull(pagesPerRequest, "pagesPerRequest");
        Args.notNull(kvLens, "kvLens");
        if (pageSize < 1) {
            throw InvalidArgumentException.expected("pageSize", ">= 1", pageSize);
        }
        int batch = pagesPerRequest.length;
        if (kvLens.length != batch) {
            throw InvalidArgumentException.expected("kvLens.length", "pagesPerRequest.length = " + batch,
                    kvLens.length);
        }
        for (int b = 0; b < batch; b++) {
            if (kvLens[b] < 0) {
                // A negative length would need zero pages and pass as an empty request.
                throw InvalidArgumentException.expected("kvLens[" + b + "]", ">= 0", kvLens[b]);
            }
        }
        int[] indptr = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            Args.notNull(pagesPerRequest[b], "pagesPerRequest[" + b + "]");
            indptr[b + 1] = Args.toInt((long) indptr[b] + pagesPerRequest[b].length, "pagesPerRequest");
        }
        int[] indices = new int[indptr[batch]];
        int[] last = new int[batch];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(pagesPerRequest[b], 0, indices, indptr[b], pagesPerRequest[b].length);
            int n = pagesPerRequest[b].length;
            long needPages = (kvLens[b] + (long) pageSize - 1) / pageSize;
            if (needPages != n) {
                throw InvalidArgumentException.expected("pagesPerRequest[" + b + "].length",
                        needPages + " pages for kvLen " + kvLens[b], n);
            }
            last[b] = n == 0 ? 0 : (int) (kvLens[b] - (long) (n - 1) * pageSize);
        }
        return new PageTable(indptr, indices, last, pageSize);
    }

    /**
     * The number of requests.
     *
     * @return B
     */
    public int batchSize() {
        return indptr.length - 1;
    }

    /**
     * Tokens per page.
     *
     * @return the page size
     */
    public int pageSize() {
        return pageSize;
    }

    /**
     * Pages {@code request} owns.
     *
     * @param request a request index
     * @return its page count
     */
    public int pageCount(int request) {
        return indptr[request + 1] - indptr[request];
    }

    /**
     * Page id of the {@code i}-th page of {@code request}.
     *
     * @param request a request index
     * @param i       the page's index within the request
     * @return the page id
     */
    public int page(int request, int i) {
        return indices[indptr[request] + i];
    }

    /**
     * Keys {@code request} holds.
     *
     * @param request a request index
     * @return its length (0 without pages)
     */
    public int kvLen(int request) {
        int n = pageCount(request);
        return n == 0 ? 0 : (n - 1) * pageSize + lastPageLen[request];
    }

    /**
     * Keys each request holds.
     *
     * @return one length per request
     */
    public int[] kvLens() {
        int[] out = new int[batchSize()];
        for (int b = 0; b < out.length; b++) {
            out[b] = kvLen(b);
        }
        return out;
    }

    /**
     * Page id holding token {@code position} of {@code request}.
     *
     * @param request  a request index
     * @param position a token position within the request
     * @return the page id
     */
    public int pageOf(int request, int position) {
        return indices[indptr[request] + position / pageSize];
    }

    /**
     * Page ids in the table, over all requests.
     *
     * @return the length of {@code indices}
     */
    public int totalPages() {
        return indices.length;
    }

    /**
     * Each request's first page in {@link #indices()}, and one past the last.
     *
     * @return a copy
     */
    public int[] indptr() {
        return indptr.clone();
    }

    /**
     * The page ids, request after request.
     *
     * @return a copy
     */
    public int[] indices() {
        return indices.clone();
    }

    /**
     * Tokens in each request's last page.
     *
     * @return a copy
     */
    public int[] lastPageLen() {
        return lastPageLen.clone();
    }

    /**
     * Largest page id referenced.
     *
     * @return the id, or -1 for a table without pages
     */
    public int maxPageId() {
        int max = -1;
        for (int p : indices) {
            max = Math.max(max, p);
        }
        return max;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PageTable t && pageSize == t.pageSize && Arrays.equals(indptr, t.indptr)
                && Arrays.equals(indices, t.indices) && Arrays.equals(lastPageLen, t.lastPageLen);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(indptr) * 31 + Arrays.hashCode(indices);
    }

    @Override
    public String toString() {
        return "PageTable[pageSize=" + pageSize + ", indptr=" + Arrays.toString(indptr) + ", indices="
                + Arrays.toString(indices) + ", lastPageLen=" + Arrays.toString(lastPageLen) + "]";
    }
}
