package org.attn4j.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.CapturedGraph;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The {@code engine-step} workload: one decode step of a serving engine's attention block, for
 * every layer RoPE on q and k, append of k and v, and decode, over views of one fused QKV buffer
 * and a page table in device memory, the lengths growing by one token per step. Where the backend
 * captures graphs the step is captured once and replayed; the new positions and page table go in
 * by {@link AttentionBackend#uploadAsync} before each replay, as an engine writes them.
 *
 * <p>Reported: the per-step time of steps queued back to back, and the sum of the same calls'
 * own device times (each call replayed {@value #REPEATS} times from a graph of its own, so launch
 * gaps are not counted), whose ratio says how much of the step is launch and host overhead. The
 * layers cycle over {@link Shape#pools} KV pools: each holds about a gigabyte, far more than the
 * L2 cache, so every layer reads its keys from device memory as separate pools would.
 *
 * <p>Stateless and thread-safe; a measurement uses the backend alone for its duration.
 */
public final class EngineStepBench {
    /** Repetitions of one call in the graph that times it alone. */
    static final int REPEATS = 16;

    private EngineStepBench() {}

    /**
     * The step's shape.
     *
     * <p>Immutable and thread-safe.
     *
     * @param batch    requests, one new token each per step
     * @param kvLen    keys of every request before the first step
     * @param layers   attention layers per step
     * @param pools    distinct KV pools the layers cycle over
     * @param steps    timed steps (after as many warm-up steps)
     * @param heads    head counts and dim of every layer
     * @param pageSize tokens per KV page
     */
    public record Shape(int batch, int kvLen, int layers, int pools, int steps, HeadConfig heads, int pageSize) {
        int maxLen() {
            return kvLen + 2 * steps + 2;
        }

        int pagesPerRequest() {
            return (maxLen() + pageSize - 1) / pageSize;
        }

        /** KV bytes a step reads (every layer, every request's keys and values, bf16). */
        long bytesRead(int len) {
            return 2L * layers * batch * len * heads.numKvHeads() * (heads.headDimQk() + heads.headDimVo());
        }
    }

    /**
     * What one measurement found. Times are in microseconds.
     *
     * <p>Immutable and thread-safe.
     *
     * @param shape     the shape measured
     * @param graph     whether the step was captured once and replayed (else run eagerly)
     * @param stepUs    time per step of steps queued back to back
     * @param kernelsUs the calls' own device times summed over a step: layers x (RoPE + append + decode)
     * @param ropeUs    one RoPE call's own device time
     * @param appendUs  one append call's own device time
     * @param decodeUs  one decode call's own device time
     * @param replan    what re-planning from a host page table costs
     * @param device    the device, as the backend describes it
     * @param check     "ok graph = eager", or "FAIL ..." naming the first differing element; empty
     *                  without a graph
     */
    public record Result(Shape shape, boolean graph, double stepUs, double kernelsUs, double ropeUs,
                         double appendUs, double decodeUs, Replan replan, String device, String check) {
        /**
         * How much longer a step takes than its calls' own device time: launch and host overhead.
         *
         * @return {@code stepUs / kernelsUs}, 1 when there is none
         */
        public double ratio() {
            return stepUs / kernelsUs;
        }

        /**
         * The row in the bench table's columns: TB/s of KV read per step, the component times in
         * the check column.
         *
         * @param backend   the backend's id
         * @param bwCeiling bytes/s the rate is compared with; NaN for none
         * @return the row
         */
        public BenchRow row(String backend, double bwCeiling) {
            long bytes = shape.bytesRead(shape.kvLen + shape.steps);
            double rate = bytes / (stepUs * 1e-6) / 1e12;
            return new BenchRow("engine-step[bf16/bf16/NHD]", backend, device, "engine-step", shape.batch,
                    shape.heads.numQoHeads(), shape.heads.numKvHeads(), shape.heads.headDimQk(), shape.pageSize,
                    "bf16", "bf16", "NHD", false, shape.kvLen + "+1/step x " + shape.layers + " layers", 1.0, stepUs,
                    stepUs, stepUs, shape.steps, shape.pools, bytes, 0, "TB/s", rate, bwCeiling,
                    Double.isNaN(bwCeiling) ? Double.NaN : 100.0 * rate * 1e12 / bwCeiling,
                    String.format(Locale.ROOT, "%s; %s; calls' own device time %.1f us (rope %.1f, append %.1f, "
                            + "decode %.1f per layer); step/calls %.3f; re-plan %.1f us host, %d device allocations",
                            graph ? check : "eager", graph ? "graph replay" : "no graph", kernelsUs, ropeUs, appendUs,
                            decodeUs, ratio(), replan.medianUs(), replan.deviceAllocations()), "events");
        }
    }

    /**
     * Re-planning the step's batch from a host page table, as a serving loop does when it does not
     * keep its metadata on the device: the median host time of plan + close, and the device
     * allocations the timed plans made after warm-up (spec §6: none).
     *
     * <p>Immutable and thread-safe.
     *
     * @param medianUs          median host time of one plan and close, in microseconds
     * @param deviceAllocations device allocations the timed plans made
     */
    public record Replan(double medianUs, long deviceAllocations) {}

    /**
     * Measures {@code shape} on {@code backend} (bf16 q and KV, NHD, page table in device memory).
     * Allocates the shape's pools and buffers on the device and frees them before it returns.
     *
     * @param backend the backend; it must keep metadata in device memory
     * @param shape   the step's shape
     * @return what the measurement found
     * @throws IllegalArgumentException if the backend has no device-resident metadata
     */
    public static Result measure(AttentionBackend backend, Shape shape) {
        boolean graphs = backend.capabilities().has(Feature.GRAPH_CAPTURE);
        if (!backend.capabilities().has(Feature.DEVICE_METADATA)) {
            throw new IllegalArgumentException(backend.id() + " has no device-resident metadata, which the engine "
                    + "step needs");
        }
        HeadConfig h = shape.heads();
        int b = shape.batch();
        int hq = h.numQoHeads();
        int hkv = h.numKvHeads();
        // The engine step models a model with one head dim: q, k and v come from one fused projection.
        if (!h.sameHeadDims()) {
            throw new IllegalArgumentException("heads: the engine step needs headDimVo = headDimQk, actual "
                    + h.headDimVo() + " and " + h.headDimQk());
        }
        int d = h.headDimQk();
        int heads = hq + 2 * hkv;
        int pagesPer = shape.pagesPerRequest();
        long[] poolShape = {(long) b * pagesPer, shape.pageSize(), hkv, d};
        RopeOptions rope = RopeOptions.DEFAULT.withTheta(500000);
        try (Resources r = new Resources()) {
            Tensor fused = r.add(backend.allocate(DType.BF16, b, heads, d));
            Tensor q = fused.view(0, new long[] {b, hq, d}, new long[] {(long) heads * d, d, 1});
            Tensor k = fused.view((long) hq * d, new long[] {b, hkv, d}, new long[] {(long) heads * d, d, 1});
            Tensor v = fused.view((long) (hq + hkv) * d, new long[] {b, hkv, d}, new long[] {(long) heads * d, d, 1});
            Tensor positions = r.add(backend.allocate(DType.I32, b));
            int[] bi = new int[b];
            for (int i = 0; i < b; i++) {
                bi[i] = i;
            }
            Tensor batchIndices;
            try (HostTensor hb = HostTensor.ofInts(bi, b)) {
                batchIndices = r.add(backend.upload(hb));
            }
            DevicePageTable table = new DevicePageTable(r.add(backend.allocate(DType.I32, b + 1)),
                    r.add(backend.allocate(DType.I32, (long) b * pagesPer)), r.add(backend.allocate(DType.I32, b)),
                    shape.pageSize(), shape.maxLen());
            PagedKvCache[] pools = new PagedKvCache[shape.pools()];
            try (HostTensor random = randomBf16(poolShape, 7)) {
                for (int p = 0; p < pools.length; p++) {
                    Tensor kc = r.add(backend.upload(random));
                    Tensor vc = r.add(backend.upload(random));
                    pools[p] = PagedKvCache.separate(kc, vc, KvLayout.NHD);
                }
            }
            Tensor[] outs = new Tensor[shape.layers()];
            for (int l = 0; l < outs.length; l++) {
                outs[l] = r.add(backend.allocate(DType.BF16, b, hq, d));
            }
            try (StepInputs in = new StepInputs(backend, shape, fused, positions, table);
                 BatchAttentionPlan plan = backend.planBatchDecode(table, h, AttentionOptions.DEFAULT,
                    PlanOptions.DEFAULT.withDtypes(DType.BF16, DType.BF16))) {
                in.write(0);
                Runnable step = () -> {
                    for (int l = 0; l < shape.layers(); l++) {
                        PagedKvCache cache = pools[l % pools.length];
                        backend.applyRope(q, k, positions, rope);
                        backend.appendPagedKv(k, v, batchIndices, positions, cache, table);
                        plan.run(q, cache, outs[l], null);
                    }
                };
                step.run(); // the first step uploads what a capture cannot record (RoPE frequencies)
                CapturedGraph graph = graphs ? backend.captureGraph(step) : null;
                try {
                    String check = graph == null ? "" : replayMatchesEager(backend, step, graph, in,
                            outs[outs.length - 1]);
                    Runnable ropeCall = () -> backend.applyRope(q, k, positions, rope);
                    Runnable appendCall = () -> backend.appendPagedKv(k, v, batchIndices, positions, pools[0], table);
                    Runnable decodeCall = () -> plan.run(q, pools[0], outs[0], null);
                    double ropeUs = ownTime(backend, ropeCall, graphs);
                    double appendUs = ownTime(backend, appendCall, graphs);
                    double decodeUs = ownTime(backend, decodeCall, graphs);
                    double kernelsUs = shape.layers() * (ropeUs + appendUs + decodeUs);
                    Runnable run = graph != null ? graph::replay : step;
                    for (int s = 0; s < shape.steps(); s++) { // warm-up
                        in.write(1 + s);
                        run.run();
                    }
                    backend.synchronize();
                    double stepUs;
                    try (DeviceTimer t = backend.newTimer()) {
                        t.start();
                        for (int s = 0; s < shape.steps(); s++) {
                            in.write(1 + shape.steps() + s);
                            run.run();
                        }
                        t.stop();
                        stepUs = t.elapsedMillis() * 1000.0 / shape.steps();
                    }
                    backend.synchronize();
                    Replan replan = replan(backend, shape);
                    return new Result(shape, graph != null, stepUs, kernelsUs, ropeUs, appendUs, decodeUs, replan,
                            backend.device(), check);
                } finally {
                    if (graph != null) {
                        graph.close();
                    }
                }
            }
        }
    }

    private static Replan replan(AttentionBackend backend, Shape shape) {
        int b = shape.batch();
        int ps = shape.pageSize();
        int pagesPer = shape.pagesPerRequest();
        PlanOptions options = PlanOptions.DEFAULT.withDtypes(DType.BF16, DType.BF16);
        int warmUp = 20;
        int timed = 200;
        double[] us = new double[timed];
        long allocationsBefore = 0;
        for (int i = 0; i < warmUp + timed; i++) {
            int len = shape.kvLen() + 1 + i % shape.steps(); // new lengths every step
            int n = (len + ps - 1) / ps;
            int[][] pages = new int[b][n];
            int[] lens = new int[b];
            for (int r = 0; r < b; r++) {
                for (int j = 0; j < n; j++) {
                    pages[r][j] = r * pagesPer + j;
                }
                lens[r] = len;
            }
            PageTable table = PageTable.of(ps, pages, lens);
            if (i == warmUp) {
                backend.synchronize();
                allocationsBefore = backend.deviceAllocations();
            }
            long t0 = System.nanoTime();
            backend.planBatchDecode(table, shape.heads(), AttentionOptions.DEFAULT, options).close();
            if (i >= warmUp) {
                us[i - warmUp] = (System.nanoTime() - t0) / 1e3;
            }
        }
        Arrays.sort(us);
        return new Replan(us[timed / 2], backend.deviceAllocations() - allocationsBefore);
    }

    /**
     * The check before timing: step 0 run eagerly and replayed from the graph, from the same
     * inputs, gives the same last-layer output bit for bit ("ok graph = eager"), or names the first
     * element that differs ("FAIL ..."). The decode itself is checked against the oracle by the
     * conformance suite's graph property.
     */
    private static String replayMatchesEager(AttentionBackend backend, Runnable step, CapturedGraph graph,
                                             StepInputs in, Tensor out) {
        in.write(0);
        step.run();
        float[] eager;
        try (HostTensor h = backend.download(out)) {
            eager = h.toFloatArray();
        }
        in.write(0);
        graph.replay();
        try (HostTensor h = backend.download(out)) {
            for (int i = 0; i < eager.length; i++) {
                float replayed = h.getFloat(i);
                if (Float.floatToRawIntBits(replayed) != Float.floatToRawIntBits(eager[i])) {
                    return String.format(Locale.ROOT, "FAIL replay differs from eager at element %d: %s vs %s", i,
                            replayed, eager[i]);
                }
            }
        }
        return "ok graph = eager";
    }

    /** One call's device time: replayed {@value #REPEATS} times from a graph of its own (or queued so, eagerly). */
    private static double ownTime(AttentionBackend backend, Runnable call, boolean graphs) {
        Runnable repeated = () -> {
            for (int i = 0; i < REPEATS; i++) {
                call.run();
            }
        };
        CapturedGraph g = graphs ? backend.captureGraph(repeated) : null;
        try {
            Runnable run = g != null ? g::replay : repeated;
            for (int i = 0; i < 3; i++) {
                run.run();
            }
            double best = Double.MAX_VALUE;
            try (DeviceTimer t = backend.newTimer()) {
                for (int i = 0; i < 5; i++) {
                    t.start();
                    run.run();
                    t.stop();
                    best = Math.min(best, t.elapsedMillis() * 1000.0 / REPEATS);
                }
            }
            return best;
        } finally {
            if (g != null) {
                g.close();
            }
        }
    }

    /**
     * The fused projection output, positions and page table of step {@code s}, written without
     * waiting. The projection outputs are drawn ahead (a few, used in turn) so that drawing them
     * does not load the host while steps are timed.
     */
    private static final class StepInputs implements AutoCloseable {
        private static final int DISTINCT_PROJECTIONS = 4;
        private final AttentionBackend backend;
        private final Shape shape;
        private final Tensor fused;
        private final Tensor positions;
        private final DevicePageTable table;
        private final HostTensor[] projections = new HostTensor[DISTINCT_PROJECTIONS];

        StepInputs(AttentionBackend backend, Shape shape, Tensor fused, Tensor positions, DevicePageTable table) {
            this.backend = backend;
            this.shape = shape;
            this.fused = fused;
            this.positions = positions;
            this.table = table;
            for (int i = 0; i < projections.length; i++) {
                projections[i] = randomBf16(fused.shape(), i);
            }
        }

        void write(int s) {
            int b = shape.batch();
            int ps = shape.pageSize();
            int pagesPer = shape.pagesPerRequest();
            int len = shape.kvLen() + s + 1;
            int[] pos = new int[b];
            int[] indptr = new int[b + 1];
            int[] last = new int[b];
            int[] indices = new int[b * pagesPer];
            int n = (len + ps - 1) / ps;
            for (int r = 0; r < b; r++) {
                pos[r] = len - 1;
                for (int i = 0; i < n; i++) {
                    indices[indptr[r] + i] = r * pagesPer + i;
                }
                indptr[r + 1] = indptr[r] + n;
                last[r] = len - (n - 1) * ps;
            }
            try (HostTensor hp = HostTensor.ofInts(pos, b);
                 HostTensor hi = HostTensor.ofInts(indptr, b + 1);
                 HostTensor hx = HostTensor.ofInts(indices, indices.length);
                 HostTensor hl = HostTensor.ofInts(last, b)) {
                backend.uploadAsync(projections[s % projections.length], fused);
                backend.uploadAsync(hp, positions);
                backend.uploadAsync(hi, table.indptr());
                backend.uploadAsync(hx, table.indices());
                backend.uploadAsync(hl, table.lastPageLen());
            }
        }

        @Override
        public void close() {
            for (HostTensor p : projections) {
                p.close();
            }
        }
    }

    /** Bf16 values uniform in (-1, 1), their bits written directly (a gigabyte takes about a second). */
    static HostTensor randomBf16(long[] shape, long seed) {
        HostTensor t = HostTensor.allocate(DType.BF16, shape);
        SplittableRandom rng = new SplittableRandom(seed);
        long n = t.elementCount();
        for (long i = 0; i < n; i++) {
            int bits = Float.floatToRawIntBits((float) (rng.nextDouble() * 2 - 1)) >>> 16;
            t.setBits(i, bits);
        }
        return t;
    }

    /** Tensors closed together. */
    private static final class Resources implements AutoCloseable {
        private final java.util.List<Tensor> tensors = new java.util.ArrayList<>();

        Tensor add(Tensor t) {
            tensors.add(t);
            return t;
        }

        @Override
        public void close() {
            for (int i = tensors.size() - 1; i >= 0; i--) {
                tensors.get(i).close();
            }
        }
    }
}
