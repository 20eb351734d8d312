package org.attn4j.kv;

import org.attn4j.error.InvalidArgumentException;

/**
 * One level of a cascade: entry {@code e} covers query rows {@code qoIndptr[e] .. qoIndptr[e+1])}
 * and attends to the pages of {@code pageTable}'s request {@code e}. Level 0 holds the most
 * shared prefix; the last level has one entry per request, with that request's own suffix.
 *
 * <p>Immutable (the indptr is copied in and out) and thread-safe.
 *
 * @param qoIndptr  each entry's query rows, one more than the entries
 * @param pageTable each entry's pages and lengths
 */
public record CascadeLevel(int[] qoIndptr, PageTable pageTable) {
    /**
     * Copies the indptr.
     *
     * @throws InvalidArgumentException when either argument is null
     */
    public CascadeLevel {
        if (qoIndptr == null || pageTable == null) {
            throw new InvalidArgumentException(qoIndptr == null ? "qoIndptr" : "pageTable", "is null");
        }
        qoIndptr = qoIndptr.clone();
    }

    /**
     * Each entry's query rows.
     *
     * @return a copy
     */
    @Override
    public int[] qoIndptr() {
        return qoIndptr.clone();
    }
}
