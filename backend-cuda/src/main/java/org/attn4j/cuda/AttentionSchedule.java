package org.attn4j.cuda;

import org.attn4j.spi.AttentionProblem;

/**
 * How a batch attention is cut into blocks, decided on the host from the page table alone.
 *
 * <p>A work item is one request's slice of query items ({@code (row, head of the GQA group)}
 * pairs, {@code itemsPerBlock} of them) against one slice of its keys; the grid runs every work
 * item for every KV head. A request whose keys are cut in several splits writes its partial
 * states to a workspace, and a merge pass combines them per query row.
 *
 * @param itemsPerWarp   1, 2 or 4: query items each warp carries (kernel specialisation)
 * @param work           {@link #WORK_INTS} ints per work item: request, first item, first key,
 *                       end key, partial base (-1: writes the output directly)
 * @param mergeRows      5 ints per merged row: output row, row in request, partial base,
 *                       splits, items of the request
 * @param partialSlots   states the workspace holds (each {@code D} floats and one LSE)
 * @param splitChunk     keys per split (Integer.MAX_VALUE: no split)
 */
record AttentionSchedule(int itemsPerWarp, int[] work, int[] mergeRows, long partialSlots, int splitChunk) {
    static final int WARPS = 8;
    static final int TILE_KEYS = 32;
    static final int WORK_INTS = 5;
    static final int MERGE_INTS = 5;
    /** Split size of deterministic plans unless the caller caps it: fixed, so batch-invariant. */
    static final int DETERMINISTIC_CHUNK = 2048;
    /** Below this many keys a split costs more than it spreads. */
    static final int MIN_CHUNK = 256;

    int itemsPerBlock() {
        return itemsPerWarp * WARPS;
    }

    int workItems() {
        return work.length / WORK_INTS;
    }

    int mergedRows() {
        return mergeRows.length / MERGE_INTS;
    }

    /** Dynamic shared memory of the attention kernel: q items, K tile (padded rows), V tile, as floats. */
    int sharedBytes(int headDim) {
        return 4 * (itemsPerBlock() * headDim + TILE_KEYS * (headDim + 1) + TILE_KEYS * headDim);
    }

    static AttentionSchedule of(AttentionProblem p, int multiprocessors) {
        int g = p.heads().groupSize();
        int hkv = p.heads().numKvHeads();
        int batch = p.batchSize();
        int[] kvLen = p.pageTable().kvLens();
        int maxItems = 0;
        for (int b = 0; b < batch; b++) {
            maxItems = Math.max(maxItems, p.qoLen(b) * g);
        }
        // Deterministic plans must not let other requests change a request's blocks.
        int sizing = p.plan().deterministic() && !p.decode() ? Integer.MAX_VALUE : maxItems;
        int ipw = sizing <= WARPS ? 1 : sizing <= 2 * WARPS ? 2 : 4;
        int ipb = ipw * WARPS;
        int chunk = splitChunk(p, kvLen, ipb, hkv, multiprocessors);

        int[] nsplit = new int[batch];
        int workCount = 0;
        int mergeCount = 0;
        for (int b = 0; b < batch; b++) {
            int items = p.qoLen(b) * g;
            if (items == 0) {
                continue;
            }
            nsplit[b] = kvLen[b] <= chunk ? 1 : (int) ((kvLen[b] + (long) chunk - 1) / chunk);
            workCount += ((items + ipb - 1) / ipb) * nsplit[b];
            if (nsplit[b] > 1) {
                mergeCount += p.qoLen(b);
            }
        }
        int[] work = new int[workCount * WORK_INTS];
        int[] merge = new int[mergeCount * MERGE_INTS];
        long partial = 0;
        int w = 0;
        int mr = 0;
        for (int b = 0; b < batch; b++) {
            int items = p.qoLen(b) * g;
            if (items == 0) {
                continue;
            }
            long base = partial;
            if (nsplit[b] > 1) {
                partial += (long) nsplit[b] * hkv * items;
                if (partial > Integer.MAX_VALUE) {
                    throw new IllegalStateException("split-KV workspace of " + partial + " states is too large");
                }
                for (int i = 0; i < p.qoLen(b); i++) {
                    merge[mr++] = p.qoIndptr()[b] + i;
                    merge[mr++] = i;
                    merge[mr++] = (int) base;
                    merge[mr++] = nsplit[b];
                    merge[mr++] = items;
                }
            }
            for (int start = 0; start < items; start += ipb) {
                for (int s = 0; s < nsplit[b]; s++) {
                    work[w++] = b;
                    work[w++] = start;
                    work[w++] = nsplit[b] == 1 ? 0 : s * chunk;
                    work[w++] = nsplit[b] == 1 ? kvLen[b] : (int) Math.min(kvLen[b], (long) (s + 1) * chunk);
                    work[w++] = nsplit[b] == 1 ? -1 : (int) (base + (long) s * hkv * items);
                }
            }
        }
        return new AttentionSchedule(ipw, work, merge, partial, chunk);
    }

    private static int splitChunk(AttentionProblem p, int[] kvLen, int ipb, int hkv, int multiprocessors) {
        int cap = p.plan().maxSplitChunk() > 0 ? roundUp(p.plan().maxSplitChunk()) : Integer.MAX_VALUE;
        if (p.plan().deterministic()) {
            return Math.min(cap, DETERMINISTIC_CHUNK);
        }
        long blocks = 0;
        long keyBlocks = 0;
        for (int b = 0; b < kvLen.length; b++) {
            long tiles = ((long) p.qoLen(b) * p.heads().groupSize() + ipb - 1) / ipb;
            blocks += tiles * hkv;
            keyBlocks += tiles * hkv * kvLen[b];
        }
        long target = 2L * Math.max(1, multiprocessors);
        if (blocks >= target || keyBlocks == 0) {
            return cap;
        }
        long chunk = Math.max(MIN_CHUNK, roundUp((keyBlocks + target - 1) / target));
        return (int) Math.min(cap, Math.min(chunk, Integer.MAX_VALUE - TILE_KEYS));
    }

    private static int roundUp(long keys) {
        return (int) Math.min(Integer.MAX_VALUE - TILE_KEYS, (keys + TILE_KEYS - 1) / TILE_KEYS * TILE_KEYS);
    }
}
