package org.attn4j.opencl;

import org.attn4j.tensor.DType;

/**
 * Compile-time shape of the tensor kernel (attention_mma.cl: NVIDIA Tensor Cores through inline
 * PTX) and what it takes. It runs the units of a tiled shape of 16, 32 or 64 query items and 32
 * keys, one warp per 16 items, with K and V tiles staged in their own 16-bit type through a ring
 * of two stages (the next tile's copies run under this tile's products).
 *
 * @param dmax head dims up to this (a multiple of 16, at most {@link #MAX_HEAD_DIM})
 * @param tm   query items per unit
 * @param tn   keys per step
 */
record TensorTiles(int dmax, int tm, int tn) {
    /** The largest head dim: q's fragments and o's accumulators stay in registers for a whole unit. */
    static final int MAX_HEAD_DIM = 128;
    /**
     * Keys per step: at 32, two stages of K and V tiles fit NVIDIA's 48 KB of local memory per
     * work-group and the kernel needs about 165 registers a work-item, against 213 at 64 keys in
     * one stage, so more work-groups share a multiprocessor.
     */
    static final int KEYS = 32;

    /** Whether q/k and v/o head dims of {@code dqk} and {@code dvo} fit the kernel. */
    static boolean acceptsHeadDims(int dqk, int dvo) {
        return dqk % 8 == 0 && dvo % 8 == 0 && dqk > 0 && dvo > 0 && Math.max(dqk, dvo) <= MAX_HEAD_DIM;
    }

    /**
     * Whether a run in these dtypes fits the kernel: q, K and V all F16 or all BF16. Both null
     * (dtypes left to the run) fits too.
     */
    static boolean acceptsTypes(DType q, DType kv) {
        return q == kv && (q == null || q == DType.F16 || q == DType.BF16);
    }

    /** The tiled shape whose units the kernel runs for {@code items} query items wanted per unit. */
    static TileConfig.Shape shapeFor(int items) {
        int tm = items <= 16 ? 16 : items <= 32 ? 32 : 64;
        return new TileConfig.Shape(tm, KEYS, 4);
    }

    /** The kernel for the units of {@code tiles} at head dims up to {@code headDim}. */
    static TensorTiles of(TileConfig tiles, int headDim) {
        return new TensorTiles((headDim + 15) / 16 * 16, tiles.tm(), tiles.tn());
    }

    int wg() {
        return 2 * tm;
    }

    /** Two stages of K and V tiles of 16-bit elements, rows padded by 8 elements. */
    long localBytes() {
        return 2L * 2 * 2 * tn * (dmax + 8);
    }

    /** Build options for q, K and V of {@code type}; {@code emulated}: the Tensor Core instructions in plain OpenCL. */
    String defines(DType type, boolean emulated) {
        String code = String.valueOf(OpenClTypes.code(type));
        return "-DQT=" + code + " -DKVT=" + code + " -DDMAX=" + dmax + " -DTM=" + tm + " -DTN=" + tn + " -DWG=" + wg()
                + " -DMMA_EMULATED=" + (emulated ? 1 : 0) + " -DASYNC_COPY_PTX=" + (emulated ? 0 : 1);
    }
}
