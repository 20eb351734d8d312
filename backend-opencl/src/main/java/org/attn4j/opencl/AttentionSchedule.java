package org.attn4j.opencl;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import org.attn4j.spi.AttentionProblem;

/**
 * The host-side schedule of one attention problem: the work-units (request, query-item tile,
 * key chunk) of the kernel grid and, for requests whose keys are split into chunks, where their
 * partial states go and how they are merged.
 *
 * <p>Split policy: without the deterministic option, a request is split only when the grid has
 * fewer work-groups than the caller's target (the tiled kernel: 4 per compute unit, and as many
 * chunks as keep the grid within it, at least 2; the streaming decode: enough chunks for several
 * waves), each of at least {@link #MIN_CHUNK} keys. With it, the chunk is a
 * constant ({@link #DETERMINISTIC_CHUNK} or {@code maxSplitChunk}), so a request's arithmetic
 * never depends on its batch.
 *
 * @param units       4 ints per unit: request, first query item, first key, end key
 * @param unitTmpRow  per unit: first workspace row of its chunk, or -1 to write o/lse directly
 * @param mergeRows   4 ints per merged row: output row, first workspace row, chunks, rows between chunks
 * @param tmpRows     workspace rows
 * @param chunk       keys per chunk (0 when nothing is split)
 * @param splitRequests requests split into chunks
 */
record AttentionSchedule(int[] units, int[] unitTmpRow, int[] mergeRows, int tmpRows, int chunk, int splitRequests) {
    static final int MIN_CHUNK = 256;
    static final int DETERMINISTIC_CHUNK = 1024;
    /** The tiled and tensor kernels' target: work-groups per compute unit below which requests split. */
    static final int TILED_GROUPS_PER_COMPUTE_UNIT = 4;

    /** How a split grid meets its target number of work-groups. */
    enum Fill {
        /** At least the target: many short work-groups in several waves (the streaming decode). */
        AT_LEAST,
        /**
         * At most the target: work-groups that hold a compute unit for a long time (the tiled and
         * tensor kernels), where a grid just past a whole number of waves leaves most of the machine
         * idle for one more wave.
         */
        AT_MOST
    }

    int unitCount() {
        return unitTmpRow.length;
    }

    int mergeRowCount() {
        return mergeRows.length / 4;
    }

    static AttentionSchedule of(AttentionProblem p, TileConfig tiles, int computeUnits) {
        return of(p, tiles, computeUnits, b -> true);
    }

    /** The units of the tiled and tensor kernels for {@code requests}, split by their policy. */
    static AttentionSchedule of(AttentionProblem p, TileConfig tiles, int computeUnits, IntPredicate requests) {
        return of(p, tiles.tm(), tiles.tn(), (long) TILED_GROUPS_PER_COMPUTE_UNIT * Math.max(1, computeUnits),
                Fill.AT_MOST, requests);
    }

    /**
     * @param itemsPerUnit query items per unit
     * @param keyQuantum   split chunks are a multiple of this many keys
     * @param targetGroups work-groups below which requests are split
     * @param fill         whether a split grid reaches the target or stays within it
     * @param requests     the requests this schedule computes (another kernel takes the rest)
     */
    static AttentionSchedule of(AttentionProblem p, int itemsPerUnit, int keyQuantum, long targetGroups, Fill fill,
                                IntPredicate requests) {
        int batch = p.batchSize();
        int g = p.heads().groupSize();
        int hkv = p.heads().numKvHeads();
        int[] kvLens = p.kvLens();
        long tiles0 = 0;
        int maxKv = 0;
        for (int b = 0; b < batch; b++) {
            if (requests.test(b)) {
                tiles0 += ceilDiv((long) p.qoLen(b) * g, itemsPerUnit);
                maxKv = Math.max(maxKv, kvLens[b]);
            }
        }
        int chunk = chunk(p, keyQuantum, targetGroups, fill, tiles0 * hkv, maxKv);

        List<int[]> units = new ArrayList<>();
        List<Integer> tmpRow = new ArrayList<>();
        List<int[]> merge = new ArrayList<>();
        int tmpRows = 0;
        int split = 0;
        for (int b = 0; b < batch; b++) {
            int qoLen = p.qoLen(b);
            if (qoLen == 0 || !requests.test(b)) {
                continue;
            }
            int items = qoLen * g;
            int kvLen = kvLens[b];
            int chunks = chunk > 0 && kvLen > chunk ? ceilDiv(kvLen, chunk) : 1;
            int base = chunks > 1 ? tmpRows : -1;
            for (int c = 0; c < chunks; c++) {
                int kvStart = chunks > 1 ? c * chunk : 0;
                int kvEnd = chunks > 1 ? Math.min(kvLen, kvStart + chunk) : kvLen;
                for (int item = 0; item < items; item += itemsPerUnit) {
                    units.add(new int[] {b, item, kvStart, kvEnd});
                    tmpRow.add(chunks > 1 ? base + c * qoLen : -1);
                }
            }
            if (chunks > 1) {
                split++;
                for (int i = 0; i < qoLen; i++) {
                    merge.add(new int[] {p.qoIndptr()[b] + i, base + i, chunks, qoLen});
                }
                tmpRows += chunks * qoLen;
            }
        }
        int[] u = new int[units.size() * 4];
        for (int i = 0; i < units.size(); i++) {
            System.arraycopy(units.get(i), 0, u, 4 * i, 4);
        }
        int[] m = new int[merge.size() * 4];
        for (int i = 0; i < merge.size(); i++) {
            System.arraycopy(merge.get(i), 0, m, 4 * i, 4);
        }
        return new AttentionSchedule(u, tmpRow.stream().mapToInt(Integer::intValue).toArray(), m, tmpRows,
                split > 0 ? chunk : 0, split);
    }

    /** Keys per chunk, or 0 for no split. */
    private static int chunk(AttentionProblem p, int keyQuantum, long target, Fill fill, long workGroups, int maxKv) {
        int cap = p.plan().maxSplitChunk();
        if (p.plan().deterministic()) {
            return cap > 0 ? cap : DETERMINISTIC_CHUNK;
        }
        int chosen = 0;
        if (workGroups > 0 && workGroups < target && maxKv > 2 * MIN_CHUNK) {
            long splits = fill == Fill.AT_LEAST ? ceilDiv(target, workGroups) : Math.max(2, target / workGroups);
            long c = Math.max(MIN_CHUNK, ceilDiv(maxKv, splits));
            chosen = (int) (ceilDiv(c, keyQuantum) * keyQuantum);
        }
        if (cap > 0) {
            chosen = chosen == 0 ? cap : Math.min(chosen, cap);
        }
        return chosen;
    }

    String describe() {
        return unitCount() + " work-units" + (splitRequests == 0 ? ", no KV split"
                : ", " + splitRequests + " requests split into chunks of " + chunk + " keys");
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}
