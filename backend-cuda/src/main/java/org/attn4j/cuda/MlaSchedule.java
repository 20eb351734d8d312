package org.attn4j.cuda;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.MlaProblem;

/**
 * The work of the MLA Tensor Core kernel ({@code attention/mla.cuh}), decided on the host: a work
 * item per block of {@link #ITEMS} (row, head) items of one request and one chunk of its keys,
 * and a merge entry per request whose keys were split. A request's items are its rows times its
 * heads, row-major, so a block of a decode request holds 64 of its heads.
 *
 * <p>Keys are split only when the unsplit blocks leave most multiprocessors idle (the kernel
 * runs one block per multiprocessor): then into chunks that make about two waves. A
 * deterministic plan splits every request longer than {@link #DETERMINISTIC_CHUNK} keys at the
 * same fixed chunk, whatever the rest of the batch, so its results do not depend on the batch.
 *
 * @param work       {@code 5} ints per work item: request, first item, first key, end key, and the
 *                   partial slot of the item 0 of the request's split, or -1 to write o directly
 * @param merge      {@code 4} ints per split request: request, first partial slot, splits, items
 * @param slots      partial states the split requests need
 * @param splitChunk keys per split, or {@link Integer#MAX_VALUE} when nothing is split
 * @param maxMergeItems the most items a split request has (the merge grid's height)
 */
record MlaSchedule(int[] work, int[] merge, long slots, int splitChunk, int maxMergeItems) {
    /** (row, head) items per block: MLA_ITEMS in attention/mla.cuh. */
    static final int ITEMS = 64;
    /** Keys per staged tile: MLA_KEYS. */
    static final int KEYS = 32;
    /** Key tiles in flight: MLA_STAGES. */
    static final int STAGES = 3;
    static final int WORK_INTS = 5;
    static final int MERGE_INTS = 4;
    /** Splits make chunks of at least this many keys: shorter ones cost more in merging than they gain. */
    static final int MIN_CHUNK = 256;
    /** The chunk of deterministic plans. */
    static final int DETERMINISTIC_CHUNK = 1024;

    MlaSchedule {
        work = work.clone();
        merge = merge.clone();
    }

    @Override
    public int[] work() {
        return work.clone();
    }

    @Override
    public int[] merge() {
        return merge.clone();
    }

    int workItems() {
        return work.length / WORK_INTS;
    }

    int mergedRequests() {
        return merge.length / MERGE_INTS;
    }

    /**
     * The schedule of {@code p} on a device of {@code multiprocessors}.
     *
     * @param p               the problem
     * @param multiprocessors the device's multiprocessors (one block each)
     * @return the schedule
     */
    static MlaSchedule of(MlaProblem p, int multiprocessors) {
        int batch = p.batchSize();
        int heads = p.heads().numHeads();
        int[] kvLens = p.pageTable().kvLens();
        long blocks = 0;
        int maxKv = 0;
        for (int b = 0; b < batch; b++) {
            long items = (long) p.qoLen(b) * heads;
            blocks += (items + ITEMS - 1) / ITEMS;
            if (items > 0) {
                maxKv = Math.max(maxKv, kvLens[b]);
            }
        }
        int chunk = Integer.MAX_VALUE;
        if (p.deterministic()) {
            chunk = DETERMINISTIC_CHUNK;
        } else if (blocks > 0 && blocks < multiprocessors * 4L / 5) {
            long splits = (2L * multiprocessors + blocks - 1) / blocks;
            long keys = (maxKv + splits - 1) / splits;
            chunk = (int) Math.max(MIN_CHUNK, (keys + KEYS - 1) / KEYS * KEYS);
        }
        IntList work = new IntList();
        IntList merge = new IntList();
        long slots = 0;
        int maxMergeItems = 0;
        boolean anySplit = false;
        for (int b = 0; b < batch; b++) {
            int items = Math.multiplyExact(p.qoLen(b), heads);
            if (items == 0) {
                continue;
            }
            int kvLen = kvLens[b];
            int splits = kvLen <= chunk ? 1 : (int) ((kvLen + (long) chunk - 1) / chunk);
            long base = -1;
            if (splits > 1) {
                anySplit = true;
                base = slots;
                slots += (long) splits * items;
                if (slots > Integer.MAX_VALUE) {
                    throw InvalidArgumentException.expected("pageTable", "at most 2^31 - 1 split partial states "
                            + "(splits x rows x heads) on the CUDA backend", slots);
                }
                merge.add(b, (int) base, splits, items);
                maxMergeItems = Math.max(maxMergeItems, items);
            }
            for (int s = 0; s < splits; s++) {
                int from = splits == 1 ? 0 : s * chunk;
                int to = splits == 1 ? kvLen : (int) Math.min(kvLen, (long) (s + 1) * chunk);
                int partial = splits == 1 ? -1 : (int) (base + (long) s * items);
                for (int i = 0; i < items; i += ITEMS) {
                    work.add(b, i, from, to, partial);
                }
            }
        }
        return new MlaSchedule(work.toArray(), merge.toArray(), slots, anySplit ? chunk : Integer.MAX_VALUE,
                maxMergeItems);
    }

    /** A growing int array. */
    private static final class IntList {
        private int[] values = new int[64];
        private int size;

        void add(int... v) {
            if (size + v.length > values.length) {
                values = Arrays.copyOf(values, Math.max(values.length * 2, size + v.length));
            }
            System.arraycopy(v, 0, values, size, v.length);
            size += v.length;
        }

        int[] toArray() {
            return Arrays.copyOf(values, size);
        }
    }
}
