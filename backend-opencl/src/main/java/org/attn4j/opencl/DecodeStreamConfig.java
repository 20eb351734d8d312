package org.attn4j.opencl;

import org.attn4j.spi.AttentionProblem;

/**
 * Compile-time shape of the streaming decode kernel ({@code decode_stream.cl}): work-items of a
 * row group share one key row, 8 elements each; the work-group streams {@link #rowGroups()} keys
 * at a time, {@code keysPerStep} per row group per step.
 *
 * @param dmax        head dims up to this (a power of two, at least 32)
 * @param tm          query heads of one KV head per work-group
 * @param keysPerStep keys a row group loads before it computes (independent loads in flight)
 * @param wg          work-items per work-group
 */
record DecodeStreamConfig(int dmax, int tm, int keysPerStep, int wg) {
    static final int MAX_TM = 8;
    static final int WORK_GROUP = 128;
    /** Work-groups wanted per compute unit: resident groups times waves, so splits fill the device. */
    static final int GROUPS_PER_COMPUTE_UNIT = 16;

    /**
     * Whether the streaming kernel can take {@code p}'s requests of at most one query row: head
     * dim a multiple of 8, no RoPE (the tiled kernel takes the other problems and requests).
     */
    static boolean accepts(AttentionProblem p, long maxWg) {
        return p.options().rope() == null && p.heads().headDim() % 8 == 0
                && Math.min(WORK_GROUP, maxWg) >= lanes(p.heads().headDim());
    }

    static DecodeStreamConfig choose(int headDim, int group, long maxWg) {
        int dmax = Math.max(32, TileConfig.ceilPow2(headDim));
        int tm = Math.min(MAX_TM, TileConfig.ceilPow2(group));
        // About 16 (key, head) dot products per step: enough loads in flight, small local arrays.
        int keys = Math.max(2, Math.min(4, 16 / tm));
        int wg = (int) Math.min(WORK_GROUP, Long.highestOneBit(Math.max(1, maxWg)));
        return new DecodeStreamConfig(dmax, tm, keys, wg);
    }

    private static int lanes(int headDim) {
        return Math.max(32, TileConfig.ceilPow2(headDim)) / 8;
    }

    int lanes() {
        return dmax / 8;
    }

    int rowGroups() {
        return wg / lanes();
    }

    /** Split chunks are a multiple of this: whole steps for every row group. */
    int keyQuantum() {
        return rowGroups() * keysPerStep;
    }

    String defines() {
        return "-DDMAX=" + dmax + " -DTM=" + tm + " -DU=" + keysPerStep + " -DWG=" + wg;
    }

    String describe() {
        return "streaming decode, " + tm + " query heads per group, " + rowGroups() + " row groups of " + lanes()
                + " work-items, " + keysPerStep + " keys per step, head dims up to " + dmax;
    }
}
