package org.attn4j.kv;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Host-side bookkeeping of a paged KV pool, the part every serving loop otherwise writes itself:
 * pages allocated to requests as they grow, freed when they finish, and the CSR page table and
 * append positions for any subset of requests. Not thread-safe: one scheduler owns it.
 */
public final class PageManager {
    private final int numPages;
    private final int pageSize;
    private final Deque<Integer> free = new ArrayDeque<>();
    private final Map<Integer, Sequence> sequences = new LinkedHashMap<>();
    private int nextId;

    private static final class Sequence {
        final List<Integer> pages = new ArrayList<>();
        int length;
    }

    /**
     * A pool of {@code numPages} free pages.
     *
     * @param numPages pages in the pool, at least 1
     * @param pageSize tokens per page, at least 1
     */
    public PageManager(int numPages, int pageSize) {
        if (numPages < 1 || pageSize < 1) {
            throw new IllegalArgumentException("numPages and pageSize must be >= 1, actual " + numPages + ", " + pageSize);
        }
        this.numPages = numPages;
        this.pageSize = pageSize;
        for (int p = 0; p < numPages; p++) {
            free.add(p);
        }
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
     * Pages in the pool.
     *
     * @return free and allocated pages together
     */
    public int numPages() {
        return numPages;
    }

    /**
     * Pages not allocated to any request.
     *
     * @return the free pages
     */
    public int freePages() {
        return free.size();
    }

    /**
     * Registers a new, empty request.
     *
     * @return its id
     */
    public int addRequest() {
        int id = nextId++;
        sequences.put(id, new Sequence());
        return id;
    }

    /**
     * Pages needed to grow {@code request} by {@code tokens}.
     *
     * @param request an active request
     * @param tokens  tokens to add
     * @return pages to allocate beyond those it holds
     */
    public int pagesNeeded(int request, int tokens) {
        Sequence s = sequence(request);
        long after = (long) s.length + tokens;
        return (int) ((after + pageSize - 1) / pageSize) - s.pages.size();
    }

    /**
     * Whether growing {@code request} by {@code tokens} fits the free pages.
     *
     * @param request an active request
     * @param tokens  tokens to add
     * @return true when {@link #grow} would succeed
     */
    public boolean canGrow(int request, int tokens) {
        return pagesNeeded(request, tokens) <= free.size();
    }

    /**
     * Extends {@code request} by {@code tokens}, allocating pages as needed. All or nothing: when
     * the pool is short, nothing changes and an exception says how many pages were missing.
     *
     * @param request an active request
     * @param tokens  tokens to add, non-negative
     * @throws IllegalStateException when the pool has too few free pages
     */
    public void grow(int request, int tokens) {
        if (tokens < 0) {
            throw new IllegalArgumentException("tokens must be >= 0, actual " + tokens);
        }
        Sequence s = sequence(request);
        int need = pagesNeeded(request, tokens);
        if (need > free.size()) {
            throw new IllegalStateException("request " + request + " needs " + need + " more pages for " + tokens
                    + " tokens, " + free.size() + " of " + numPages + " are free");
        }
        for (int i = 0; i < need; i++) {
            s.pages.add(free.poll());
        }
        s.length += tokens;
    }

    /**
     * Frees every page of {@code request} and forgets it.
     *
     * @param request an active request
     */
    public void release(int request) {
        Sequence s = sequences.remove(request);
        if (s == null) {
            throw new IllegalArgumentException("unknown request " + request);
        }
        free.addAll(s.pages);
    }

    /**
     * Tokens {@code request} holds.
     *
     * @param request an active request
     * @return its length
     */
    public int length(int request) {
        return sequence(request).length;
    }

    /**
     * Pages of {@code request}, in token order.
     *
     * @param request an active request
     * @return a copy of its page ids
     */
    public int[] pages(int request) {
        return sequence(request).pages.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Requests added and not released, in the order they were added.
     *
     * @return their ids
     */
    public int[] activeRequests() {
        return sequences.keySet().stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The page table of {@code requests}, in that order.
     *
     * @param requests active requests
     * @return their pages and lengths
     */
    public PageTable pageTable(int... requests) {
        int[][] pages = new int[requests.length][];
        int[] lens = new int[requests.length];
        for (int i = 0; i < requests.length; i++) {
            pages[i] = pages(requests[i]);
            lens[i] = length(requests[i]);
        }
        return PageTable.of(pageSize, pages, lens);
    }

    /**
     * Positions of the last {@code newTokens[i]} tokens of each request (already grown), in the
     * order of {@code requests}: what {@code appendPagedKv} takes with {@link #pageTable}.
     *
     * @param requests  active requests
     * @param newTokens tokens each just grew by
     * @return each new token's index in {@code requests} and its position
     */
    public AppendPositions appendPositions(int[] requests, int[] newTokens) {
        if (newTokens.length != requests.length) {
            throw new IllegalArgumentException("newTokens.length: expected " + requests.length + ", actual "
                    + newTokens.length);
        }
        int[] indptr = new int[requests.length + 1];
        for (int i = 0; i < requests.length; i++) {
            indptr[i + 1] = indptr[i] + newTokens[i];
        }
        return AppendPositions.fromIndptr(indptr, pageTable(requests));
    }

    private Sequence sequence(int request) {
        Sequence s = sequences.get(request);
        if (s == null) {
            throw new IllegalArgumentException("unknown request " + request + "; active: "
                    + Arrays.toString(activeRequests()));
        }
        return s;
    }
}
