package org.attn4j.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.parallel.ContextParallelPlan;
import org.attn4j.parallel.ContextShards;
import org.attn4j.parallel.ShardPlacement;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The {@code decode-long-cp} workload: {@code decode-long} (spec §10) as context-parallel decode
 * (spec §12), each request's keys cut into shards. On one device the shards are logical shards of
 * one backend, so the time is the shards' attention run one after another plus the merge; each
 * shard is also timed alone, and what the whole takes beyond the shards' sum is the gather's and
 * merge's share. The unsharded batch decode is timed beside it.
 *
 * <p>Stateless and thread-safe; a measurement uses the backend alone for its duration.
 */
public final class ContextParallelBench {
    /** The workload's name. */
    public static final String NAME = "decode-long-cp";

    private ContextParallelBench() {}

    /**
     * What one measurement found; times in microseconds, medians.
     *
     * <p>Immutable and thread-safe.
     *
     * @param batch   requests
     * @param kvLen   keys of every request
     * @param heads   head counts and dims
     * @param shards  shards per request
     * @param totalUs the context-parallel decode, shards and merge
     * @param shardUs each shard's batch plan alone
     * @param wholeUs the unsharded batch decode
     * @param device  the device, as the backend describes it
     * @param timer   what timed it
     */
    public record Result(int batch, int kvLen, HeadConfig heads, int shards, double totalUs, double[] shardUs,
                         double wholeUs, String device, String timer) {
        /** Copies the shard times. */
        public Result {
            shardUs = shardUs.clone();
        }

        /**
         * Each shard's time alone.
         *
         * @return a copy, one per shard
         */
        @Override
        public double[] shardUs() {
            return shardUs.clone();
        }

        /**
         * The gather's and merge's share of the whole: {@code 1 - Σ shard / total}, at least 0.
         *
         * @return a fraction in [0, 1]
         */
        public double gatherShare() {
            return Math.max(0, 1 - Arrays.stream(shardUs).sum() / totalUs);
        }

        /**
         * The row in the bench table's columns; the per-shard times and the gather's share in the
         * check column.
         *
         * @param backend the backend's id
         * @return the row
         */
        public BenchRow row(String backend) {
            long bytes = 2L * batch * kvLen * heads.numKvHeads() * (heads.headDimQk() + heads.headDimVo());
            double rate = bytes / (totalUs * 1e-6) / 1e12;
            StringBuilder per = new StringBuilder();
            for (double s : shardUs) {
                per.append(per.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, "%.1f", s));
            }
            return new BenchRow(NAME + "[bf16/bf16/NHD]", backend, device, "decode", batch, heads.numQoHeads(),
                    heads.numKvHeads(), heads.headDimQk(), 16, "bf16", "bf16", "NHD", false,
                    kvLen + " x " + shards + " shards", 1.0, totalUs, totalUs, totalUs, 0, 1, bytes, 0, "TB/s",
                    rate, Double.NaN, Double.NaN, String.format(Locale.ROOT, "%d logical shards; per shard [%s] us; "
                            + "gather+merge %.1f%% of %.1f us; unsharded decode %.1f us", shards, per,
                            100 * gatherShare(), totalUs, wholeUs), timer);
        }
    }

    /**
     * Measures context-parallel decode of {@code batch} requests of {@code kvLen} keys over
     * {@code shards} logical shards of {@code backend} (bf16, NHD, page size 16).
     *
     * @param backend the backend
     * @param batch   requests
     * @param kvLen   keys per request
     * @param heads   head counts and dims
     * @param shards  logical shards, at least 1
     * @param reps    timed repetitions of each measurement
     * @return the measurement
     */
    public static Result measure(AttentionBackend backend, int batch, int kvLen, HeadConfig heads, int shards,
                                 int reps) {
        int page = 16;
        int perRequest = (kvLen + page - 1) / page;
        int[][] pages = new int[batch][perRequest];
        int[] lens = new int[batch];
        for (int b = 0; b < batch; b++) {
            for (int p = 0; p < perRequest; p++) {
                pages[b][p] = b * perRequest + p;
            }
            lens[b] = kvLen;
        }
        PageTable table = PageTable.of(page, pages, lens);
        long numPages = (long) batch * perRequest;
        SplittableRandom rng = new SplittableRandom(11);
        try (Tensor k = backend.allocate(DType.BF16, numPages, page, heads.numKvHeads(), heads.headDimQk());
             Tensor v = backend.allocate(DType.BF16, numPages, page, heads.numKvHeads(), heads.headDimVo());
             Tensor q = upload(backend, rng, batch, heads.numQoHeads(), heads.headDimQk());
             Tensor o = backend.allocate(DType.BF16, batch, heads.numQoHeads(), heads.headDimVo());
             Tensor lse = backend.allocate(DType.F32, batch, heads.numQoHeads());
             BatchAttentionPlan whole = backend.planBatchDecode(table, heads, AttentionOptions.DEFAULT, null);
             ContextParallelPlan cp = ContextParallelPlan.decode(ShardPlacement.logical(backend, shards),
                     ContextShards.split(table, shards), heads, AttentionOptions.DEFAULT, null)) {
            PagedKvCache kv = PagedKvCache.separate(k, v, KvLayout.NHD);
            double total = time(backend, reps, () -> cp.run(q, kv, o, lse));
            double[] per = new double[shards];
            for (int s = 0; s < shards; s++) {
                BatchAttentionPlan p = cp.shardPlans().get(s);
                per[s] = time(backend, reps, () -> p.run(q, kv, o, lse));
            }
            double wholeUs = time(backend, reps, () -> whole.run(q, kv, o, lse));
            String method;
            try (DeviceTimer t = backend.newTimer()) {
                method = t.method();
            }
            return new Result(batch, kvLen, heads, shards, total, per, wholeUs, backend.device(), method);
        }
    }

    private static Tensor upload(AttentionBackend backend, SplittableRandom rng, long... shape) {
        float[] x = new float[(int) (shape[0] * shape[1] * shape[2])];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rng.nextDouble(-1, 1);
        }
        try (HostTensor h = HostTensor.of(DType.BF16, x, shape)) {
            return backend.upload(h);
        }
    }

    /** The median of {@code reps} timed runs after one warm-up, in microseconds. */
    private static double time(AttentionBackend backend, int reps, Runnable work) {
        work.run();
        backend.synchronize();
        double[] us = new double[Math.max(1, reps)];
        for (int i = 0; i < us.length; i++) {
            try (DeviceTimer t = backend.newTimer()) {
                t.start();
                work.run();
                t.stop();
                us[i] = t.elapsedMillis() * 1e3;
            }
        }
        Arrays.sort(us);
        return us[us.length / 2];
    }
}
