package org.attn4j.opencl;

/**
 * Compile-time shape of the attention kernel: head dim bucket, query items and keys per tile,
 * work-group size and how its threads split the output accumulators ({@code tmy x td}).
 *
 * @param dmax   head dims up to this (a power of two, at least 32)
 * @param tm     query items (row, head of the group) per work-group
 * @param tn     keys per tile
 * @param wg     work-items per work-group
 * @param serial one work-item per unit without local memory (CPU devices)
 */
record TileConfig(int dmax, int tm, int tn, int wg, boolean serial) {
    /** Local memory budget: fits every current GPU's static limit. */
    static final long LOCAL_BUDGET = 46 * 1024;
    static final int MAX_TM = 32;
    /** Private floats per work-item the serial kernel may hold for q and accumulators. */
    static final int SERIAL_PRIVATE_FLOATS = 2 * 32 * 128;

    /** Rows of the accumulator grid: threads sharing a head-dim slice. */
    int tmy() {
        return Math.min(tm, Math.max(1, wg / 16));
    }

    int td() {
        return wg / tmy();
    }

    long localBytes() {
        return 4L * ((long) tm * (dmax + 4) + (long) tn * (dmax + 4) + (long) tn * dmax + (long) tm * tn + 4L * tm)
                + 8L * tn;
    }

    /**
     * Tiles for head dim {@code headDim} and {@code items} query items wanted per tile. The
     * tiled kernel (GPUs) gets 128 work-items per group (fewer if {@code maxWg} says so) and
     * tiles that fit local memory; the serial kernel (CPUs) as many items as its private
     * arrays allow.
     */
    static TileConfig choose(int headDim, int items, long deviceLocalBytes, long maxWg, boolean serial) {
        int dmax = Math.max(32, ceilPow2(headDim));
        int tm = Math.min(MAX_TM, ceilPow2(Math.max(1, items)));
        if (serial) {
            // Capacity, not work: a unit holds up to tm items, so one build serves every group size.
            return new TileConfig(dmax, SERIAL_PRIVATE_FLOATS / (2 * dmax), 16, 1, true);
        }
        int wg = (int) Math.min(128, Long.highestOneBit(Math.max(1, maxWg)));
        long budget = Math.min(LOCAL_BUDGET, deviceLocalBytes - 512);
        int tn = 64;
        TileConfig c = new TileConfig(dmax, tm, tn, wg, false);
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
            c = new TileConfig(dmax, tm, tn, wg, false);
        }
        return c;
    }

    TileConfig withWorkGroup(int newWg) {
        return new TileConfig(dmax, tm, tn, newWg, serial);
    }

    String defines() {
        return serial ? "-DSERIAL=1 -DDMAX=" + dmax + " -DTM=" + tm
                : "-DSERIAL=0 -DDMAX=" + dmax + " -DTM=" + tm + " -DTN=" + tn + " -DWG=" + wg + " -DTMY=" + tmy()
                        + " -DTD=" + td();
    }

    String describe() {
        return serial ? tm + " query items per work-item, keys in blocks of 16, head dims up to " + dmax
                : tm + " query items x " + tn + " keys per tile, head dims up to " + dmax + ", " + wg
                        + " work-items per group";
    }

    static int ceilPow2(int x) {
        return x <= 1 ? 1 : Integer.highestOneBit(x - 1) << 1;
    }
}
