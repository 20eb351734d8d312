package org.attn4j.opencl;

/**
 * Compile-time shape of the attention kernel: head dim bucket, query items and keys per tile,
 * work-group size and how its threads split the output accumulators ({@code tmy x td}).
 *
 * @param dmax head dims up to this (a power of two, at least 32)
 * @param tm   query items (row, head of the group) per work-group
 * @param tn   keys per tile
 * @param wg   work-items per work-group
 */
record TileConfig(int dmax, int tm, int tn, int wg) {
    /** Local memory budget: fits every current GPU's static limit, and keeps CPU tiles in cache. */
    static final long LOCAL_BUDGET = 46 * 1024;
    static final int MAX_TM = 32;

    /** Rows of the accumulator grid: threads sharing a head-dim slice. */
    int tmy() {
        return Math.min(tm, Math.max(1, wg / 16));
    }

    int td() {
        return wg / tmy();
    }

    long localBytes() {
        return 4L * ((long) tm * (dmax + 1) + 2L * dmax * tn + (long) tm * tn + 3L * tm) + 8L * tn;
    }

    /**
     * The largest tiles that fit local memory for head dim {@code headDim}, {@code items} query
     * items wanted per tile, and at most {@code maxWg} work-items.
     */
    static TileConfig choose(int headDim, int items, long deviceLocalBytes, long maxWg) {
        int dmax = Math.max(32, ceilPow2(headDim));
        int tm = Math.min(MAX_TM, ceilPow2(Math.max(1, items)));
        int wg = (int) Math.min(128, Long.highestOneBit(Math.max(1, maxWg)));
        long budget = Math.min(LOCAL_BUDGET, deviceLocalBytes - 512);
        int tn = 64;
        TileConfig c = new TileConfig(dmax, tm, tn, wg);
        while (c.localBytes() > budget) {
            if (tn > 16) {
                tn /= 2;
            } else if (tm > 8) {
                tm /= 2;
            } else if (tn > 4) {
                tn /= 2;
            } else if (tm > 1) {
                tm /= 2;
            } else {
                break;
            }
            c = new TileConfig(dmax, tm, tn, wg);
        }
        return c;
    }

    TileConfig withWorkGroup(int newWg) {
        return new TileConfig(dmax, tm, tn, newWg);
    }

    String defines() {
        return "-DDMAX=" + dmax + " -DTM=" + tm + " -DTN=" + tn + " -DWG=" + wg + " -DTMY=" + tmy() + " -DTD=" + td();
    }

    static int ceilPow2(int x) {
        return x <= 1 ? 1 : Integer.highestOneBit(x - 1) << 1;
    }
}
