package org.attn4j.bench;

/**
 * How rows are measured.
 *
 * <p>Immutable and thread-safe.
 *
 * @param scale        length factor for every row
 * @param cpuScale     further factor for named workloads on a CPU backend (the reference, PoCL); shapes typed
 *                     on the command line never get it
 * @param minReps      fewest timed repetitions
 * @param maxReps      most timed repetitions
 * @param seconds      target timed seconds per row (repetitions are chosen to fill it)
 * @param warmupRuns   untimed runs first; -1 chooses from the first run's time
 * @param rotateBytes  on GPUs, input copies are added until they exceed this many bytes
 * @param maxSetBytes  never allocate more than this for input copies
 * @param checkRows    rows compared with the reference (0: no check)
 * @param bwCeiling    bytes/s a decode row is compared with (NaN: none)
 * @param flopsCeiling FLOP/s a prefill row is compared with (NaN: none)
 * @param ceilingOnCpu compare CPU backends with the ceilings too (off: they are GPU figures)
 * @param seed         input data seed
 */
public record BenchSettings(double scale, double cpuScale, int minReps, int maxReps, double seconds, int warmupRuns,
                            long rotateBytes, long maxSetBytes, int checkRows, double bwCeiling, double flopsCeiling,
                            boolean ceilingOnCpu, long seed) {
    /**
     * Defaults, the same as the command line's: full lengths (1/32 on CPUs), 5 to 100 repetitions
     * filling 2 s, 128 MiB of rotated inputs (24 GiB at most), 8 checked rows, the H200 ceilings,
     * seed 42.
     */
    public static final BenchSettings DEFAULT = new BenchSettings(1.0, 1.0 / 32, 5, 100, 2.0, -1, 128L << 20,
            24L << 30, 8, 4.49e12, 790e12, false, 42);

    /**
     * The settings as bench.json writes them: snake_case keys, null for "none".
     *
     * @return a new map, in component order
     */
    public java.util.Map<String, Object> asMap() {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("scale", scale);
        m.put("cpu_scale", cpuScale);
        m.put("min_reps", minReps);
        m.put("max_reps", maxReps);
        m.put("seconds", seconds);
        m.put("warmup_runs", warmupRuns < 0 ? null : warmupRuns);
        m.put("rotate_bytes", rotateBytes);
        m.put("max_set_bytes", maxSetBytes);
        m.put("check_rows", checkRows);
        m.put("bw_ceiling", bwCeiling);
        m.put("flops_ceiling", flopsCeiling);
        m.put("ceiling_on_cpu", ceilingOnCpu);
        m.put("seed", seed);
        return m;
    }
}
