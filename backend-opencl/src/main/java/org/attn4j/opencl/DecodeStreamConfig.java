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
 * @param prefetch    whether a step's K/V loads are issued during the step before
 */
record DecodeStreamConfig(int dmax, int tm, int keysPerStep, int wg, boolean prefetch) {
    static final int MAX_TM = 8;
    /**
     * Defaults, measured on an H100 through NVIDIA's OpenCL (decode-llama8b / decode-long, µs):
     * 1 key per step in 128 work-items 900 / 1792; 4 keys, loads a step ahead, 64 work-items
     * 575 / 1079. Issuing the next step's loads before this step's barriers pays only with
     * several keys a step (alone it cost 4%), and smaller groups leave more of them resident.
     */
    static final int WORK_GROUP = 64;
    static final int KEYS_PER_STEP = 4;
    static final boolean PREFETCH_DEFAULT = true;
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
        int keys = tuning.keysPerStep() > 0 ? tuning.keysPerStep() : KEYS_PER_STEP;
        int wg = (int) Math.min(tuning.workGroup() > 0 ? tuning.workGroup() : WORK_GROUP,
                Long.highestOneBit(Math.max(1, maxWg)));
        boolean prefetch = tuning.prefetch() != null ? tuning.prefetch() : PREFETCH_DEFAULT;
        return new DecodeStreamConfig(dmax, tm, keys, Math.max(wg, dmax / 8), prefetch);
    }

    /**
     * Overrides for measuring on a device (0 keeps the default): options {@code streamKeys} /
     * {@code attn4j.opencl.streamKeys} (keys per row-group step, 1 to 16) and
     * {@code streamGroup} / {@code attn4j.opencl.streamGroup} (work-items per group, a power of
     * two from 32 to 1024) and {@code streamPrefetch} / {@code attn4j.opencl.streamPrefetch}
     * ({@code on} or {@code off}: issue each step's loads a step ahead; null keeps the default).
     */
    record Tuning(int keysPerStep, int workGroup, Boolean prefetch) {
        static final Tuning AUTO = new Tuning(0, 0, null);

        Tuning {
            if (keysPerStep < 0 || keysPerStep > 16) {
                throw new IllegalArgumentException("opencl option streamKeys: expected 1 to 16, actual " + keysPerStep);
            }
            if (workGroup != 0 && (workGroup < 32 || workGroup > 1024 || Integer.bitCount(workGroup) != 1)) {
                throw new IllegalArgumentException(
                        "opencl option streamGroup: expected a power of two from 32 to 1024, actual " + workGroup);
            }
        }

        static Tuning parse(String keys, String group, String prefetch) {
            Boolean p = null;
            if (prefetch != null && !prefetch.isBlank() && !prefetch.trim().equalsIgnoreCase("auto")) {
                p = switch (prefetch.trim().toLowerCase(java.util.Locale.ROOT)) {
                    case "on", "true" -> true;
                    case "off", "false" -> false;
                    default -> throw new IllegalArgumentException(
                            "opencl option streamPrefetch: expected auto, on or off, actual '" + prefetch + "'");
                };
            }
            return new Tuning(parseInt("streamKeys", keys), parseInt("streamGroup", group), p);
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
        return new DecodeStreamConfig(dmax, tm, keysPerStep, newWg, prefetch);
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
        return "-DDMAX=" + dmax + " -DTM=" + tm + " -DU=" + keysPerStep + " -DWG=" + wg + " -DPREFETCH="
                + (prefetch ? 1 : 0);
    }

    String describe() {
        return "streaming decode, " + tm + " query heads per group, " + rowGroups() + " row groups of " + lanes()
                + " work-items, " + keysPerStep + " keys per step" + (prefetch ? ", loaded a step ahead" : "")
                + ", head dims up to " + dmax;
    }
}
