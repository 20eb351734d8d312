package org.attn4j.kv;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;

/**
 * Where each appended token goes: token {@code t} belongs to request {@code batchIndices[t]} at
 * position {@code positions[t]}.
 *
 * <p>Immutable (arrays are copied in and out) and thread-safe.
 *
 * @param batchIndices each new token's request
 * @param positions    each new token's position in its request, as many as {@code batchIndices}
 */
public record AppendPositions(int[] batchIndices, int[] positions) {
    /**
     * Copies both arrays.
     *
     * @throws InvalidArgumentException when either is null or their lengths differ
     */
    public AppendPositions {
        Args.notNull(batchIndices, "batchIndices");
        Args.notNull(positions, "positions");
        batchIndices = batchIndices.clone();
        positions = positions.clone();
        if (batchIndices.length != positions.length) {
            throw InvalidArgumentException.expected("positions.length", "batchIndices.length = " + batchIndices.length,
                    positions.length);
        }
    }

    /**
     * Each new token's request.
     *
     * @return a copy
     */
    @Override
    public int[] batchIndices() {
        return batchIndices.clone();
    }

    /**
     * Each new token's position in its request.
     *
     * @return a copy
     */
    @Override
    public int[] positions() {
        return positions.clone();
    }

    /**
     * The number of new tokens.
     *
     * @return the tokens appended
     */
    public int size() {
        return positions.length;
    }

    /**
     * From an append indptr ({@code appendIndptr[b+1] - appendIndptr[b]} new tokens of request b)
     * and the page table that already counts them: the new tokens are the last ones of each request.
     *
     * @param appendIndptr new tokens per request, {@code B + 1} entries from 0
     * @param pageTable    the page table, its lengths including the new tokens
     * @return each new token's request and position
     */
    public static AppendPositions fromIndptr(int[] appendIndptr, PageTable pageTable) {
        Args.notNull(appendIndptr, "appendIndptr");
        Args.notNull(pageTable, "pageTable");
        int batch = pageTable.batchSize();
        if (appendIndptr.length != batch + 1) {
            throw InvalidArgumentException.expected("appendIndptr.length", "B + 1 = " + (batch + 1), appendIndptr.length);
        }
        if (appendIndptr[0] != 0) {
            throw InvalidArgumentException.expected("appendIndptr[0]", 0, appendIndptr[0]);
        }
        // Every count is checked before anything is allocated, so a hostile indptr costs nothing.
        for (int b = 0; b < batch; b++) {
            long count = (long) appendIndptr[b + 1] - appendIndptr[b];
            int kvLen = pageTable.kvLen(b);
            if (count < 0 || count > kvLen) {
                throw new InvalidArgumentException("appendIndptr[" + (b + 1) + "]", "request " + b + " appends "
                        + count + " tokens, expected within [0, kvLen = " + kvLen + "]");
            }
        }
        int n = appendIndptr[batch];
        int[] bi = new int[n];
        int[] pos = new int[n];
        for (int b = 0; b < batch; b++) {
            int count = appendIndptr[b + 1] - appendIndptr[b];
            int kvLen = pageTable.kvLen(b);
            for (int i = 0; i < count; i++) {
                bi[appendIndptr[b] + i] = b;
                pos[appendIndptr[b] + i] = kvLen - count + i;
            }
        }
        return new AppendPositions(bi, pos);
    }
}
