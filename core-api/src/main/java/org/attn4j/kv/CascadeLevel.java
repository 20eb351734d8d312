package org.attn4j.kv;

import org.attn4j.error.InvalidArgumentException;

/**
 * One level of a cascade: entry {@code e} covers query rows {@code qoIndptr[e] .. qoIndptr[e+1])}
 * and attends to the pages of {@code pageTable}'s request {@code e}. Level 0 holds the most
 * shared prefix; the last level has one entry per request, with that request's own suffix.
 */
public record CascadeLevel(int[] qoIndptr, PageTable pageTable) {
    public CascadeLevel {
        if (qoIndptr == null || pageTable == null) {
            throw new InvalidArgumentException(qoIndptr == null ? "qoIndptr" : "pageTable", "is null");
        }
        qoIndptr = qoIndptr.clone();
    }

    @Override
    public int[] qoIndptr() {
        return qoIndptr.clone();
    }
}
