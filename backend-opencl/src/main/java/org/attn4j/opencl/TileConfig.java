package org.attn4j.opencl;

/**
 * Compile-time shape of the attention kernel (attention.cl): head dim bucket, query items and
 * keys per tile and, for the tiled (GPU) flavour, the work-items that hold them.
 *
 * <p>In the tiled flavour a work-group of {@code tm/rm x tn/4} work-items owns {@code tm} query
 * items and visits {@code tn} keys a step; each work-item keeps an {@code rm x 4} tile of logits
 * and the output columns of its {@code rm} items in registers. Logits are summed over head-dim chunks of
 * {@link #CHUNK} staged in local memory, and V comes through the same buffer in chunks of
 * {@link #valueChunk()} keys, so every head dim up to 256 fits in about 41 KB.
 *
 * @param dmax   head dims up to this (a power of two, at least 32)
 * @param tm     query items per unit (serial: the most a work-item holds)
 * @param tn     keys per step (serial: 16)
 * @param rm     query items per work-item (tiled: 4 or 8; serial: 0)
 * @param wg     work-items per work-group ({@code tm / rm * tn / 4} tiled, 1 serial)
 * @param serial one work-item per unit without local memory (CPU devices)
 */
record TileConfig(int dmax, int tm, int tn, int rm, int wg, boolean serial) {
    /** Local memory budget: fits every current GPU's static limit. */
    static final long LOCAL_BUDGET = 46 * 1024;
    static final int MAX_TM = 64;
    /** Head dims per logit chunk staged in local memory. */
    static final int CHUNK = 32;
    /** Private floats per work-item the serial kernel may hold for q and accumulators. */
    static final int SERIAL_PRIVATE_FLOATS = 2 * 32 * 128;
    /** Output floats a work-item may accumulate for its items (a register budget). */
    private static final int MAX_ACCUMULATORS = 64;

    TileConfig {
        if (!serial && (rm < 1 || tm % rm != 0 || tn < 16 || tn % 16 != 0 || wg != tm / rm * (tn / 4))) {
            throw new IllegalArgumentException("tiled kernel: tm " + tm + ", rm " + rm + " and tn " + tn
                    + " need rm | tm, 16 | tn and wg = tm / rm * tn / 4, actual wg " + wg);
        }
    }

    /** A tiled configuration of {@code tm} items and {@code tn} keys, 4 items per work-item. */
    static TileConfig tiled(int dmax, int tm, int tn) {
        return tiled(dmax, tm, tn, 4);
    }

    /** A tiled configuration of {@code tm} items and {@code tn} keys, {@code rm} items per work-item. */
    static TileConfig tiled(int dmax, int tm, int tn, int rm) {
        return new TileConfig(dmax, tm, tn, rm, tm / rm * (tn / 4), false);
    }

    static TileConfig tiled(int dmax, Shape shape) {
        return tiled(dmax, shape.tm(), shape.tn(), shape.rm());
    }

    /** The tiled shape of this configuration. */
    Shape shape() {
        return new Shape(tm, tn, rm);
    }

    /** Work-items along the items ({@code TY}) and along the keys ({@code TX}). */
    int ty() {
        return tm / rm;
    }

    int tx() {
        return tn / 4;
    }

    /** Keys per V chunk: the most (a power of two, at most tn) whose rows fit the staging buffer. */
    int valueChunk() {
        int stage = (tm + tn) * (CHUNK + 4);
        int vc = tn;
        while (vc > 4 && vc * dmax > stage) {
            vc /= 2;
        }
        return vc;
    }

    long localBytes() {
        if (serial) {
            return 0;
        }
        return 4L * (tm + tn) * (CHUNK + 4) + 4L * tm * (tn + 4) + 4L * tx() * tm + 24L * tn;
    }

    /** Whether a device of these limits runs it with its columns in registers. */
    boolean fits(long maxWg, long deviceLocalBytes) {
        return wg <= maxWg && localBytes() <= Math.min(LOCAL_BUDGET, deviceLocalBytes - 512) && columnsFit();
    }

    /** Whether the output columns of its items fit a work-item's register budget. */
    boolean columnsFit() {
        return rm * 4 * ((dmax / 4 + tx() - 1) / tx()) <= MAX_ACCUMULATORS;
    }

    /**
     * Tiles for head dim {@code headDim} and {@code items} query items wanted per tile. The
     * tiled kernel (GPUs) gets the most items up to {@code items} (16 at least) and 64 keys, or
     * 32, within the device's work-group size and local memory; the serial kernel (CPUs) as many
     * items as its private arrays allow.
     */
    static TileConfig choose(int headDim, int items, long deviceLocalBytes, long maxWg, boolean serial) {
        return choose(headDim, items, deviceLocalBytes, maxWg, serial, null);
    }

    /**
     * As {@link #choose(int, int, long, long, boolean)}, with the tiled kernel's shape forced to
     * {@code forced} where it fits the device and the head dim (else chosen as there).
     */
    static TileConfig choose(int headDim, int items, long deviceLocalBytes, long maxWg, boolean serial,
                             Shape forced) {
        int dmax = Math.max(32, ceilPow2(headDim));
        if (serial) {
            // Capacity, not work: a unit holds up to tm items, so one build serves every group size.
            return new TileConfig(dmax, SERIAL_PRIVATE_FLOATS / (2 * dmax), 16, 0, 1, true);
        }
        long budget = Math.min(LOCAL_BUDGET, deviceLocalBytes - 512);
        if (forced != null && tiled(dmax, forced).fits(maxWg, deviceLocalBytes)) {
            return tiled(dmax, forced);
        }
        int want = Math.min(MAX_TM, Math.max(16, ceilPow2(Math.max(1, items))));
        // The largest accepted shape within the items wanted, else the smallest above them; a
        // device too small for every shape with its columns in registers gets one that spills.
        for (boolean registersFit : new boolean[] {true, false}) {
            TileConfig fallback = null;
            for (Shape shape : Shape.ALL) {
                TileConfig c = tiled(dmax, shape);
                if (c.wg() <= maxWg && c.localBytes() <= budget && (c.columnsFit() || !registersFit)) {
                    if (shape.tm() <= want) {
                        return c;
                    }
                    fallback = c;
                }
            }
            if (fallback != null) {
                return fallback;
            }
        }
        return tiled(dmax, 4, 16);
    }

    /**
     * The same items with half the keys per step, for a build that allows fewer work-items than
     * {@link #wg()} (the schedule's units keep their items); null when no accepted shape has them.
     */
    TileConfig smaller() {
        Shape half = new Shape(tm, tn / 2, rm);
        return serial || !Shape.ALL.contains(half) ? null : tiled(dmax, half);
    }

    String defines() {
        return serial ? "-DSERIAL=1 -DDMAX=" + dmax + " -DTM=" + tm
                : "-DSERIAL=0 -DDMAX=" + dmax + " -DTM=" + tm + " -DTN=" + tn + " -DWG=" + wg + " -DTY=" + ty()
                        + " -DTX=" + tx() + " -DRM=" + rm + " -DDC=" + CHUNK + " -DVC=" + valueChunk();
    }

    String describe() {
        return serial ? tm + " query items per work-item, keys in blocks of 16, head dims up to " + dmax
                : tm + " query items x " + tn + " keys per tile, head dims up to " + dmax + ", " + wg
                        + " work-items per group, " + rm + " items each";
    }

    /**
     * A tiled kernel shape, {@code tm} query items by {@code tn} keys per tile with {@code rm}
     * items per work-item, as the option {@code tiles} ({@code attn4j.opencl.tiles}) names it:
     * {@code TMxTN} for 4 items per work-item, {@code TMxTN/RM} otherwise; one of {@link #ALL}.
     */
    record Shape(int tm, int tn, int rm) {
        /**
         * The shapes the kernel is built and tested in; without tuning, the first that fits the
         * items wanted. On an H100 (prefill, head dim 128, bf16) 64x64 took 0.91 ms of the tuner's
         * prefill, 64x64/8 1.21 (its eight items' registers cost more than their loads save),
         * 32x64 1.10, 16x64 1.23, 16x32 2.06.
         */
        static final java.util.List<Shape> ALL = java.util.List.of(new Shape(64, 64, 4), new Shape(64, 64, 8),
                new Shape(32, 64, 4), new Shape(16, 64, 4), new Shape(16, 32, 4));

        /** The shape {@code text} names, or null for null, empty or {@code auto}. */
        static Shape parse(String text) {
            if (text == null || text.isBlank() || text.trim().equalsIgnoreCase("auto")) {
                return null;
            }
            String t = text.trim().toLowerCase(java.util.Locale.ROOT);
            int slash = t.indexOf('/');
            String[] parts = (slash < 0 ? t : t.substring(0, slash)).split("x");
            if (parts.length == 2) {
                try {
                    int rm = slash < 0 ? 4 : Integer.parseInt(t.substring(slash + 1).trim());
                    Shape s = new Shape(Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim()), rm);
                    if (ALL.contains(s)) {
                        return s;
                    }
                } catch (NumberFormatException e) {
                    // reported below
                }
            }
            throw new IllegalArgumentException("opencl option tiles: expected auto or one of " + ALL + ", actual '"
                    + text + "'");
        }

        @Override
        public String toString() {
            return tm + "x" + tn + (rm == 4 ? "" : "/" + rm);
        }
    }

    static int ceilPow2(int x) {
        return x <= 1 ? 1 : Integer.highestOneBit(x - 1) << 1;
    }
}
