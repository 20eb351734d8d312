package org.attn4j.cuda;

import org.attn4j.spi.AttentionProblem;

/**
 * How a batch attention is cut into blocks, decided on the host from the page table alone.
 *
 * <p>A work item is one request's slice of query items ({@code (row, head of the GQA group)}
 * pairs, {@link BlockShape#itemsPerBlock} of them) against one slice of its keys; the grid runs
 * every work item for every KV head. A request whose keys are cut in several splits writes its
 * partial states to a workspace, and a merge pass combines them per query row.
 *
 * @param shape          the kernel family and block shape
 * @param work           {@link #WORK_INTS} ints per work item: request, first item, first key,
 *                       end key, partial base (-1: writes the output directly)
 * @param mergeRows      5 ints per merged row: output row, row in request, partial base,
 *                       splits, items of the request
 * @param partialSlots   states the workspace holds (each {@code D} floats and one LSE)
 * @param splitChunk     keys per split (Integer.MAX_VALUE: no split)
 */
record AttentionSchedule(BlockShape shape, int[] work, int[] mergeRows, long partialSlots, int splitChunk) {
    static final int WORK_INTS = 5;
    static final int MERGE_INTS = 5;
    /** Split size of deterministic plans unless the caller caps it: fixed, so batch-invariant. */
    static final int DETERMINISTIC_CHUNK = 2048;
    /** Below this many keys a split costs more than it spreads. */
    static final int MIN_CHUNK = 256;
    /** A device's multiprocessor count and the shared memory one multiprocessor offers blocks. */
    record Device(int multiprocessors, int sharedPerSm) {
        /** An H100/H200-like device, for tests. */
        static final Device HOPPER = new Device(132, 227 * 1024);
    }

    int workItems() {
        return work.length / WORK_INTS;
    }

    int mergedRows() {
        return mergeRows.length / MERGE_INTS;
    }

    /** The shape a problem runs with on the CUDA-core kernel. */
    static BlockShape genericShape(AttentionProblem p) {
        return BlockShape.generic(sizingItems(p));
    }

    /** The shape a problem runs with on the Tensor Core kernel. */
    static BlockShape tensorCoreShape(AttentionProblem p) {
        return sizingItems(p) <= BlockShape.TC_DECODE.itemsPerBlock ? BlockShape.TC_DECODE : BlockShape.TC_PREFILL;
    }

    /** Largest query item count of a request; deterministic prefill ignores it so batches cannot change blocks. */
    private static int sizingItems(AttentionProblem p) {
        if (p.plan().deterministic() && !p.decode()) {
            return Integer.MAX_VALUE;
        }
        int max = 0;
        for (int b = 0; b < p.batchSize(); b++) {
            max = Math.max(max, p.qoLen(b) * p.heads().groupSize());
        }
        return max;
    }

    static AttentionSchedule of(AttentionProblem p, BlockShape shape, Device device, int kvBytes) {
        return build(p, shape, splitChunk(p, p.kvLens(), shape, device, kvBytes));
    }

    /**
     * The streaming decode kernels' schedule: {@code residentBlocks} of them fit on one
     * multiprocessor, and the grid aims at {@code waves} rounds of resident blocks (see
     * {@link #streamChunk}).
     */
    static AttentionSchedule stream(AttentionProblem p, Device device, int residentBlocks, int waves) {
        int[] kvLen = p.kvLens();
        int cap = p.plan().maxSplitChunk() > 0 ? roundUp(p.plan().maxSplitChunk()) : Integer.MAX_VALUE;
        int chunk = p.plan().deterministic() ? Math.min(cap, DETERMINISTIC_CHUNK)
                : Math.min(cap, streamChunk(p, kvLen, device, (long) waves * residentBlocks));
        return build(p, BlockShape.STREAM_DECODE, chunk);
    }

    private static AttentionSchedule build(AttentionProblem p, BlockShape shape, int chunk) {
        int g = p.heads().groupSize();
        int hkv = p.heads().numKvHeads();
        int batch = p.batchSize();
        int[] kvLen = p.kvLens();
        int ipb = shape.itemsPerBlock;

        int[] nsplit = new int[batch];
        int workCount = 0;
        int mergeCount = 0;
        for (int b = 0; b < batch; b++) {
            int items = p.qoLen(b) * g;
            if (items == 0) {
                continue;
            }
            nsplit[b] = splits(kvLen[b], chunk);
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
        return new AttentionSchedule(shape, work, merge, partial, chunk);
    }

    /** Fewest keys a query-tiled prefill split gets: below this a split costs more than it spreads. */
    static final int MIN_PREFILL_CHUNK = 512;
    /** Most splits of one request in a query-tiled prefill. */
    static final int MAX_PREFILL_SPLITS = 32;

    /**
     * The query-tiled prefill kernels' work list (FA2, wgmma): one item per (request, tile of the
     * shape's {@link BlockShape#itemsPerBlock} query rows, query head, key split), as
     * {@link #WORK_INTS} ints: request, first row, query head, split index, partial base (-1:
     * unsplit, writes the output). Items are ordered by keys visited, most first (ties keep
     * request, tile, head order, so the heads of one tile run side by side over the same K/V), so
     * the grid ends on short tiles.
     *
     * <p>When the unsplit grid is smaller than {@code residentBlocks} per multiprocessor (few
     * query rows against many keys: a cascade's shared prefix, a chunked prefill over a long
     * cache), every request is cut into key chunks (a multiple of 128, at least
     * {@link #MIN_PREFILL_CHUNK}) whose partial states a merge pass combines. Deterministic plans
     * never split, so a request's arithmetic does not depend on its batch.
     */
    static AttentionSchedule queryTiles(AttentionProblem p, BlockShape shape, Device device, int residentBlocks) {
        int hq = p.heads().numQoHeads();
        int hkv = p.heads().numKvHeads();
        int g = p.heads().groupSize();
        int[] kvLen = p.kvLens();
        int rows = shape.itemsPerBlock;
        long tiles = 0;
        int maxLen = 0;
        for (int b = 0; b < p.batchSize(); b++) {
            tiles += (p.qoLen(b) + rows - 1) / rows;
            maxLen = Math.max(maxLen, kvLen[b]);
        }
        long unsplit = tiles * hq;
        long target = (long) residentBlocks * Math.max(1, device.multiprocessors());
        int chunk = Integer.MAX_VALUE;
        if (!p.plan().deterministic() && unsplit > 0 && unsplit < target) {
            long pieces = Math.min(MAX_PREFILL_SPLITS, (target + unsplit - 1) / unsplit);
            long c = Math.max(MIN_PREFILL_CHUNK, (maxLen + pieces - 1) / pieces);
            c = (c + 127) / 128 * 128;
            if (c < maxLen) {
                chunk = (int) c;
            }
        }
        if (p.plan().maxSplitChunk() > 0 && !p.plan().deterministic()) {
            chunk = Math.min(chunk, Math.max(128, p.plan().maxSplitChunk() / 128 * 128));
        }

        boolean causal = p.options().causal();
        int window = p.options().windowLeft();
        java.util.List<int[]> items = new java.util.ArrayList<>(); // WORK_INTS ints, then the keys visited
        java.util.List<Integer> merge = new java.util.ArrayList<>();
        long partial = 0;
        for (int b = 0; b < p.batchSize(); b++) {
            int qoLen = p.qoLen(b);
            int nsplit = splits(kvLen[b], chunk);
            long base = -1;
            if (nsplit > 1 && qoLen > 0) {
                base = partial;
                partial += (long) nsplit * hkv * qoLen * g;
                if (partial > Integer.MAX_VALUE) {
                    throw new IllegalStateException("split-KV workspace of " + partial + " states is too large");
                }
                for (int i = 0; i < qoLen; i++) {
                    merge.addAll(java.util.List.of(p.qoIndptr()[b] + i, i, (int) base, nsplit, qoLen * g));
                }
            }
            for (int start = 0; start < qoLen; start += rows) {
                int last = Math.min(qoLen, start + rows) - 1;
                int pqLo = start + kvLen[b] - qoLen;
                int pqHi = last + kvLen[b] - qoLen;
                int end = causal ? Math.min(kvLen[b], pqHi + 1) : kvLen[b];
                int begin = window >= 0 ? Math.max(0, pqLo - window) : 0;
                for (int s = 0; s < nsplit; s++) {
                    long lo = nsplit == 1 ? begin : Math.max(begin, (long) s * chunk);
                    long hi = nsplit == 1 ? end : Math.min(end, (long) (s + 1) * chunk);
                    int keys = (int) Math.max(0, hi - lo);
                    int partialBase = nsplit == 1 ? -1 : (int) (base + (long) s * hkv * qoLen * g);
                    for (int h = 0; h < hq; h++) {
                        items.add(new int[] {b, start, h, nsplit == 1 ? 0 : s, partialBase, keys});
                    }
                }
            }
        }
        items.sort((x, y) -> Integer.compare(y[5], x[5])); // stable: equal costs keep their order
        int[] work = new int[items.size() * WORK_INTS];
        int w = 0;
        for (int[] item : items) {
            System.arraycopy(item, 0, work, w, WORK_INTS);
            w += WORK_INTS;
        }
        int[] mergeRows = merge.stream().mapToInt(Integer::intValue).toArray();
        return new AttentionSchedule(shape, work, mergeRows, partial, chunk);
    }

    private static int splits(int kvLen, int chunk) {
        return kvLen <= chunk ? 1 : (int) ((kvLen + (long) chunk - 1) / chunk);
    }

    /**
     * Keys per split. Deterministic: fixed. Otherwise no split when the unsplit grid already
     * fills the device; else the smallest chunk whose grid still fits in one wave of resident
     * blocks, so that no multiprocessor runs a lone second wave.
     */
    private static int splitChunk(AttentionProblem p, int[] kvLen, BlockShape shape, Device device, int kvBytes) {
        int cap = p.plan().maxSplitChunk() > 0 ? roundUp(p.plan().maxSplitChunk()) : Integer.MAX_VALUE;
        if (p.plan().deterministic()) {
            return Math.min(cap, DETERMINISTIC_CHUNK);
        }
        int ipb = shape.itemsPerBlock;
        long[] tiles = new long[kvLen.length];
        int maxLen = 0;
        for (int b = 0; b < kvLen.length; b++) {
            tiles[b] = ((long) p.qoLen(b) * p.heads().groupSize() + ipb - 1) / ipb * p.heads().numKvHeads();
            maxLen = Math.max(maxLen, kvLen[b]);
        }
        int perSm = shape.tensorCores()
                ? Math.max(1, Math.min(8, device.sharedPerSm()
                        / (shape.sharedBytes(p.heads().headDimQk(), p.heads().headDimVo(), kvBytes) + 1024)))
                : 2;
        long slots = (long) perSm * Math.max(1, device.multiprocessors());
        if (blocks(tiles, kvLen, Integer.MAX_VALUE) >= slots || maxLen <= MIN_CHUNK) {
            return cap;
        }
        int lo = MIN_CHUNK;
        int hi = roundUp(maxLen);
        while (lo < hi) { // smallest chunk (multiple of 32) whose grid fits the slots
            int mid = roundUp(lo + (long) (hi - lo) / 2);
            if (mid >= hi) {
                mid = lo;
            }
            if (blocks(tiles, kvLen, mid) <= slots) {
                hi = mid;
            } else {
                lo = mid + 32;
            }
        }
        return Math.min(cap, hi);
    }

    /**
     * Keys per split for the streaming decode kernels: the largest chunk (a multiple of 32, at
     * least {@link #MIN_CHUNK}) whose grid still has {@code blocksPerSm} blocks for every
     * multiprocessor, so that each keeps bytes in flight to the end.
     */
    private static int streamChunk(AttentionProblem p, int[] kvLen, Device device, long blocksPerSm) {
        long[] tiles = new long[kvLen.length];
        int maxLen = 0;
        for (int b = 0; b < kvLen.length; b++) {
            tiles[b] = p.qoLen(b) > 0 ? p.heads().numKvHeads() : 0;
            maxLen = Math.max(maxLen, kvLen[b]);
        }
        long target = blocksPerSm * Math.max(1, device.multiprocessors());
        if (blocks(tiles, kvLen, Integer.MAX_VALUE) >= target || maxLen <= MIN_CHUNK) {
            return Integer.MAX_VALUE;
        }
        int lo = MIN_CHUNK;
        int hi = roundUp(maxLen);
        while (lo < hi) { // largest chunk whose grid still reaches the target
            int mid = roundUp(lo + (long) (hi - lo + 1) / 2);
            if (mid > hi) {
                mid = hi;
            }
            if (blocks(tiles, kvLen, mid) >= target) {
                lo = mid;
            } else {
                hi = mid - 32;
            }
        }
        // Same split count for the longest request, pieces of equal size (no short last piece).
        int pieces = splits(maxLen, lo);
        return Math.max(MIN_CHUNK, roundUp((maxLen + (long) pieces - 1) / pieces));
    }

    private static long blocks(long[] tiles, int[] kvLen, int chunk) {
        long n = 0;
        for (int b = 0; b < kvLen.length; b++) {
            n += tiles[b] * splits(kvLen[b], chunk);
        }
        return n;
    }

    private static int roundUp(long keys) {
        return (int) Math.min(Integer.MAX_VALUE - 32, (keys + 31) / 32 * 32);
    }
}
