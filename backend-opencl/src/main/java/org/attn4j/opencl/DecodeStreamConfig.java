package org.attn4j.opencl;

import org.attn4j.spi.AttentionProblem;
import org.attn4j.tensor.DType;

/**
 * Compile-time shape of the streaming decode kernel ({@code decode_stream.cl}): work-items of a
 * row group share one key row, 8 elements each; the work-group streams {@link #rowGroups()} keys
 * at a time, {@code keysPerStep} per row group per step.
 *
 * @param dmax        head dims up to this (a power of two, at least 32)
 * @param tm          query heads of one KV head per work-group
 * @param keysPerStep keys a row group loads before it computes (independent loads in flight)
 * @param wg          work-items per work-group
 * @param prefetch    whether a step's K/V loads are issued during the step before (for a run the
 *                    ring cannot take)
 * @param ringStages  0, or the steps of the local-memory ring each work-item copies its K/V
 *                    vectors through (16-bit K/V whose rows start on 8 elements)
 * @param ringAsync   whether the ring's copies are asynchronous ({@code cp.async}: NVIDIA, compute
 *                    capability 8.0 and newer) rather than plain loads and stores
 */
record DecodeStreamConfig(int dmax, int tm, int keysPerStep, int wg, boolean prefetch, int ringStages,
                          boolean ringAsync) {
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
    /**
     * Steps of the ring at most: at 4 keys a step, three steps in flight are 384 bytes a
     * work-item where registers hold one step (128 bytes). An option, not the default: on an H100
     * the ring took 3-7% longer than registers (docs/performance.md, 2026-12-07).
     */
    static final int RING_STAGES = 4;

    /** How a step's K/V rows reach the work-items, as the {@code streamPrefetch} option names them. */
    enum Loads {
        /** Loaded in the step that uses them. */
        DIRECT,
        /** Loaded into registers a step ahead. */
        PREFETCH,
        /** Copied into a local-memory ring several steps ahead (a step ahead in registers where it cannot run). */
        RING
    }
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
        return choose(headDim, group, maxWg, 48 * 1024, false, Tuning.AUTO);
    }

    /**
     * As {@link #choose(int, int, long)} on a device of {@code localBytes} of local memory,
     * {@code asyncCopies} where it has {@code cp.async} (the ring's copies are asynchronous
     * there), with the tuning's non-zero values in place of the defaults.
     */
    static DecodeStreamConfig choose(int headDim, int group, long maxWg, long localBytes, boolean asyncCopies,
                                     Tuning tuning) {
        int dmax = Math.max(32, TileConfig.ceilPow2(headDim));
        int tm = Math.min(MAX_TM, TileConfig.ceilPow2(group));
        int keys = tuning.keysPerStep() > 0 ? tuning.keysPerStep() : KEYS_PER_STEP;
        int wg = (int) Math.min(tuning.workGroup() > 0 ? tuning.workGroup() : WORK_GROUP,
                Long.highestOneBit(Math.max(1, maxWg)));
        wg = Math.max(wg, dmax / 8);
        Loads loads = tuning.loads() != null ? tuning.loads() : PREFETCH_DEFAULT ? Loads.PREFETCH : Loads.DIRECT;
        DecodeStreamConfig c = new DecodeStreamConfig(dmax, tm, keys, wg, loads != Loads.DIRECT, 0, asyncCopies);
        return loads == Loads.RING ? c.withRing(localBytes) : c;
    }

    /** This shape with the most ring steps (up to {@link #RING_STAGES}) that fit beside its other local memory. */
    private DecodeStreamConfig withRing(long localBytes) {
        long budget = Math.min(TileConfig.LOCAL_BUDGET, localBytes - 512) - localBytesBesideRing();
        long perStage = (long) keysPerStep * (wg * 32L + rowGroups() * 8L);
        int stages = (int) Math.min(RING_STAGES, Math.max(0, budget) / perStage);
        return new DecodeStreamConfig(dmax, tm, keysPerStep, wg, prefetch, stages >= 2 ? stages : 0, ringAsync);
    }

    /** The kernel's local arrays other than the ring (decode_stream.cl), in bytes. */
    long localBytesBesideRing() {
        int rows = rowGroups();
        int ug = keysPerStep * tm;
        return 4L * (rows * lanes() * (ug + 1) + rows * ug + 2L * rows * tm + 3L * tm + (long) tm * dmax);
    }

    /**
     * Overrides for measuring on a device (0 keeps the default): options {@code streamKeys} /
     * {@code attn4j.opencl.streamKeys} (keys per row-group step, 1 to 16) and
     * {@code streamGroup} / {@code attn4j.opencl.streamGroup} (work-items per group, a power of
     * two from 32 to 1024) and {@code streamPrefetch} / {@code attn4j.opencl.streamPrefetch}
     * ({@code on}: each step's loads a step ahead in registers; {@code off}: in the step;
     * {@code ring}: through a local-memory ring several steps ahead; null keeps the default).
     */
    record Tuning(int keysPerStep, int workGroup, Loads loads) {
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
            Loads p = null;
            if (prefetch != null && !prefetch.isBlank() && !prefetch.trim().equalsIgnoreCase("auto")) {
                p = switch (prefetch.trim().toLowerCase(java.util.Locale.ROOT)) {
                    case "on", "true" -> Loads.PREFETCH;
                    case "off", "false" -> Loads.DIRECT;
                    case "ring" -> Loads.RING;
                    default -> throw new IllegalArgumentException(
                            "opencl option streamPrefetch: expected auto, on, off or ring, actual '" + prefetch + "'");
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

    /** The same shape with K/V loaded a step ahead in registers instead of through a ring. */
    DecodeStreamConfig withoutRing() {
        return new DecodeStreamConfig(dmax, tm, keysPerStep, wg, true, 0, ringAsync);
    }

    /** The same shape with {@code newWg} work-items per group (fewer row groups; a smaller ring). */
    DecodeStreamConfig withWorkGroup(int newWg) {
        return new DecodeStreamConfig(dmax, tm, keysPerStep, newWg, prefetch, ringStages, ringAsync);
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

    /** Whether a run whose K/V are {@code kvType}, rows starting on 8 elements where {@code aligned8}, takes the ring. */
    boolean ringRuns(DType kvType, boolean aligned8) {
        return ringStages > 0 && aligned8 && (kvType == DType.F16 || kvType == DType.BF16);
    }

    /** Build options; {@code ring}: the run takes the ring ({@link #ringRuns}). */
    String defines(boolean ring) {
        return "-DDMAX=" + dmax + " -DTM=" + tm + " -DU=" + keysPerStep + " -DWG=" + wg + " -DPREFETCH="
                + (prefetch ? 1 : 0) + " -DRING=" + (ring ? 1 : 0) + " -DSTAGES=" + Math.max(1, ringStages)
                + " -DASYNC_COPY_PTX=" + (ring && ringAsync ? 1 : 0);
    }

    String describe() {
        String ring = ringStages == 0 ? ""
                : ", 16-bit K/V through a ring of " + ringStages + " steps in local memory ("
                        + (ringAsync ? "cp.async" : "plain copies") + "), other K/V";
        return "streaming decode, " + tm + " query heads per group, " + rowGroups() + " row groups of " + lanes()
                + " work-items, " + keysPerStep + " keys per step" + ring + (prefetch ? ", loaded a step ahead" : "")
                + ", head dims up to " + dmax;
    }
}
