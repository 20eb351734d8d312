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
     * dim a multiple of 8, no RoPE, V rows as long as K rows (its lanes read a K and a V row at
     * one offset; the tiled and serial kernels take the other problems and requests).
     */
    static boolean accepts(AttentionProblem p, long maxWg) {
        return p.options().rope() == null && p.heads().sameHeadDims() && p.heads().headDimQk() % 8 == 0
                && Math.min(WORK_GROUP, maxWg) >= lanes(p.heads().headDimQk());
    }

    static DecodeStreamConfig choose(int headDim, int group, long maxWg) {
        return choose(headDim, group, maxWg, Tuning.AUTO);
    }

    /** As {@link #choose(int, int, long)}, with the tuning's non-zero values in place of the defaults. */
    static DecodeStreamConfig choose(int headDim, int group, long maxWg, Tuning tuning) {
        int dmax = Math.max(32, TileConfig.ceilPow2(headDim));
        int tm = Math.min(MAX_TM, TileConfig.ceilPow2(group));
        // One key per step: on an H200 (decode-llama8b, 4 heads) a step of 1 took 0.65 ms where
        // 2 took 0.81 and 4 1.05; longer steps' private arrays cost more occupancy than they gain.
        int keys = tuning.keysPerStep() > 0 ? tuning.keysPerStep() : 1;
        int wg = (int) Math.min(tuning.workGroup() > 0 ? tuning.workGroup() : WORK_GROUP,
                Long.highestOneBit(Math.max(1, maxWg)));
        return new DecodeStreamConfig(dmax, tm, keys, Math.max(wg, dmax / 8));
    }

    /**
     * Overrides for measuring on a device (0 keeps the default): options {@code streamKeys} /
     * {@code attn4j.opencl.streamKeys} (keys per row-group step, 1 to 16) and
     * {@code streamGroup} / {@code attn4j.opencl.streamGroup} (work-items per group, a power of
     * two from 32 to 1024).
     */
    record Tuning(int keysPerStep, int workGroup) {
        static final Tuning AUTO = new Tuning(0, 0);

        Tuning {
            if (keysPerStep < 0 || keysPerStep > 16) {
                throw new IllegalArgumentException("opencl option streamKeys: expected 1 to 16, actual " + keysPerStep);
            }
            if (workGroup != 0 && (workGroup < 32 || workGroup > 1024 || Integer.bitCount(workGroup) != 1)) {
                throw new IllegalArgumentException(
                        "opencl option streamGroup: expected a power of two from 32 to 1024, actual " + workGroup);
            }
        }

        static Tuning parse(String keys, String group) {
            return new Tuning(parseInt("streamKeys", keys), parseInt("streamGroup", group));
        }

        private static int parseInt(String name, String value) {
            if (value == null || value.isBlank() || value.trim().equals("auto")) {
                return 0;
            }
            try {
                return Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("opencl option " + name + ": expected a number, actual '" + value
                        + "'", e);
            }
        }
    }

    private static int lanes(int headDim) {
        return Math.max(32, TileConfig.ceilPow2(headDim)) / 8;
    }

    /** The same shape with {@code newWg} work-items per group (fewer row groups). */
    DecodeStreamConfig withWorkGroup(int newWg) {
        return new DecodeStreamConfig(dmax, tm, keysPerStep, newWg);
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
