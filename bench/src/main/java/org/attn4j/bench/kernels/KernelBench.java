package org.attn4j.bench.kernels;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.bench.BenchRunner;
import org.attn4j.bench.Stats;
import org.attn4j.bench.Traffic;
import org.attn4j.bench.Workloads;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The CUDA backend's candidate kernels against its Tensor Core attention kernel ({@code tc}), through
 * the public API only: the baseline and each candidate are a backend of their own, opened with the
 * kernel setting that forces them ({@code decodeKernel} or {@code prefillKernel}). Every case's
 * inputs are drawn once on the host and uploaded to both; the outputs are compared (o within
 * 1.6e-2 + 1.6e-2 |ref|, LSE within 1e-3 (1 + |ref|), equal values such as two -inf passing), and
 * the spec §10 workloads are then timed with each backend's device timer (median of
 * {@code iterations} samples after warm-up, each sample {@link BenchRunner#QUEUED_CALLS} runs
 * queued back to back) and reported in TB/s (decode) or TFLOP/s (prefill). Every timed decode reads
 * at least 1 GB of distinct K/V, far beyond the L2 cache, so inputs are not rotated. Option cases
 * check what the candidates honour: window, soft cap, scales, custom mask, odd lengths, empty
 * requests, page sizes 1, 5 and 7, HND, f16, head dims 64 and 256, groups 1 to 8.
 *
 * <p>Not thread-safe: one bench runs on one thread.
 */
public final class KernelBench {
    /** The backend whose kernels are compared. */
    public static final String BACKEND = "cuda";
    /** The kernel every candidate is compared with. */
    public static final String BASELINE = "tc";
    static final double O_TOLERANCE = 1.6e-2;
    static final double LSE_TOLERANCE = 1e-3;

    /** A family of kernels, the setting that forces one, and the cases it runs. */
    public enum Family {
        /** Batch decode kernels, forced by {@code decodeKernel}: {@code stream} and {@code mma}. */
        DECODE("decodeKernel", List.of("stream", "mma"), 5, Map.of(BASELINE, "Tensor Core attention",
                "stream", "CUDA-core streaming decode", "mma", "Tensor Core streaming decode")),
        /** Batch prefill kernels, forced by {@code prefillKernel}: {@code fa2} and {@code wgmma}. */
        PREFILL("prefillKernel", List.of("fa2", "wgmma"), 3, Map.of(BASELINE, "Tensor Core attention",
                "fa2", "FA2 prefill", "wgmma", "wgmma prefill"));

        private final String setting;
        private final List<String> defaultCandidates;
        private final int warmUp;
        /** How each kernel's plans describe themselves ({@link BatchAttentionPlan#describe()}). */
        private final Map<String, String> descriptions;

        Family(String setting, List<String> defaultCandidates, int warmUp, Map<String, String> descriptions) {
            this.setting = setting;
            this.defaultCandidates = defaultCandidates;
            this.warmUp = warmUp;
            this.descriptions = descriptions;
        }

        /**
         * The backend setting that forces this family's kernel.
         *
         * @return the setting's key
         */
        public String setting() {
            return setting;
        }

        /**
         * The candidates compared when none are named.
         *
         * @return the candidates' setting values
         */
        public List<String> defaultCandidates() {
            return defaultCandidates;
        }

        /**
         * The cases: spec §10's workloads of this operation (timed), then option cases (compared only).
         *
         * @return new cases, in the order they run
         */
        public List<KernelCase> cases() {
            var named = Workloads.named();
            int[] mixed = {0, 1, 17, 300, 1000, 4097, 5000, 9001};
            // Causal decode over an empty request is rejected (qoLen 1 > kvLen 0), so no empty one there.
            int[] nonEmpty = {1, 2, 17, 300, 1000, 4097, 5000, 9001};
            return switch (this) {
                case DECODE -> List.of(
                        KernelCase.timed(named.get("decode-llama8b")),
                        KernelCase.timed(named.get("decode-mha")),
                        KernelCase.timed(named.get("decode-long")),
                        KernelCase.decode("opts-window-cap-scales", DType.BF16, mixed, 32, 8, 128, 16, KvLayout.NHD,
                                AttentionOptions.DEFAULT.withWindowLeft(700).withLogitsSoftCap(30f),
                                new KvScales(0.5f, 2f)),
                        KernelCase.decode("opts-f16-d64-g2-page5", DType.F16, nonEmpty, 16, 8, 64, 5, KvLayout.NHD,
                                AttentionOptions.DEFAULT.withCausal(true), KvScales.ONE),
                        KernelCase.decode("opts-hnd-g8-page1", DType.BF16, mixed, 64, 8, 128, 1, KvLayout.HND,
                                AttentionOptions.DEFAULT.withSmScale(0.2f), KvScales.ONE),
                        KernelCase.decode("opts-mha-d64", DType.BF16, mixed, 8, 8, 64, 16, KvLayout.HND,
                                AttentionOptions.DEFAULT, KvScales.ONE),
                        KernelCase.decode("opts-sinks-alibi-cap-g4", DType.BF16, mixed, 32, 8, 128, 16, KvLayout.NHD,
                                sinksAndAlibi(32).withLogitsSoftCap(30f), KvScales.ONE),
                        KernelCase.decode("opts-sinks-alibi-mha-d64-window", DType.BF16, mixed, 8, 8, 64, 16,
                                KvLayout.NHD, sinksAndAlibi(8).withWindowLeft(700), KvScales.ONE));
                case PREFILL -> List.of(
                        KernelCase.timed(named.get("prefill-causal-8k")),
                        KernelCase.timed(named.get("prefill-batch-paged")),
                        KernelCase.prefill("opts-page1-noncausal-f16-d64", DType.F16, new int[] {0, 1, 63, 65, 300},
                                new int[] {7, 0, 100, 65, 1000}, 8, 2, 64, 1, KvLayout.NHD, AttentionOptions.DEFAULT,
                                false, KvScales.ONE),
                        KernelCase.prefill("opts-page7-hnd-window-cap", DType.BF16, new int[] {300, 1, 129, 1000},
                                new int[] {300, 50, 500, 1777}, 32, 8, 128, 7, KvLayout.HND,
                                AttentionOptions.DEFAULT.withCausal(true).withWindowLeft(100).withLogitsSoftCap(30f),
                                false, KvScales.ONE),
                        KernelCase.prefill("opts-causal-prefix-g4", DType.BF16, new int[] {100, 257, 1, 64},
                                new int[] {1000, 300, 4000, 64}, 16, 4, 128, 16, KvLayout.NHD,
                                AttentionOptions.DEFAULT.withCausal(true), false, KvScales.ONE),
                        KernelCase.prefill("opts-mask-scales-mha-d64", DType.BF16, new int[] {17, 64, 200},
                                new int[] {40, 64, 333}, 4, 4, 64, 16, KvLayout.HND,
                                AttentionOptions.DEFAULT.withSmScale(0.2f), true, new KvScales(0.5f, 2f)),
                        KernelCase.prefill("opts-causal-d256-g4", DType.BF16, new int[] {300, 64, 1000, 1},
                                new int[] {300, 500, 1000, 77}, 8, 2, 256, 16, KvLayout.NHD,
                                AttentionOptions.DEFAULT.withCausal(true), false, KvScales.ONE),
                        KernelCase.prefill("opts-sinks-alibi-causal-window", DType.BF16, new int[] {300, 1, 129, 1000},
                                new int[] {300, 50, 500, 1777}, 32, 8, 128, 16, KvLayout.NHD,
                                sinksAndAlibi(32).withCausal(true).withWindowLeft(400), false, KvScales.ONE),
                        KernelCase.prefill("opts-sinks-alibi-cap-d64", DType.BF16, new int[] {0, 1, 63, 65, 300},
                                new int[] {7, 0, 100, 65, 1000}, 8, 2, 64, 16, KvLayout.NHD,
                                sinksAndAlibi(8).withLogitsSoftCap(20f), false, KvScales.ONE),
                        KernelCase.timedPrefill("prefill-causal-4k-d256", 4096, 16, 8, 256));
            };
        }

        /** Sink logits from -2 to 2 over the heads and the standard ALiBi slopes for {@code heads}. */
        private static AttentionOptions sinksAndAlibi(int heads) {
            float[] sinks = new float[heads];
            for (int h = 0; h < heads; h++) {
                sinks[h] = (h % 5) - 2f;
            }
            return AttentionOptions.DEFAULT.withSinks(AttentionSinks.of(sinks))
                    .withAlibiSlopes(AlibiSlopes.standard(heads));
        }

        /**
         * Whether {@code kernel} runs {@code c} at all: head dim 256 prefill is wgmma's alone (the
         * others give way to {@code tc}, which would compare the baseline with itself).
         */
        boolean runs(String kernel, KernelCase c) {
            return this != PREFILL || c.headDim() <= 128 || kernel.equals("wgmma");
        }

        /**
         * Whether a plan of {@code kernel} must say it chose that kernel: prefill candidates must (a
         * case they cannot run is a failure of the bench's cases); a streaming decode may give way
         * to the Tensor Core kernel when a chunk's page ids do not fit beside its rings.
         */
        boolean mustChoose() {
            return this == PREFILL;
        }
    }

    private final PrintStream out;
    private final int iterations;

    /**
     * A bench that reports to {@code out}.
     *
     * @param out        where the report goes
     * @param iterations timed samples per kernel and workload
     * @throws IllegalArgumentException if {@code iterations} is below 1
     */
    public KernelBench(PrintStream out, int iterations) {
        if (iterations < 1) {
            throw new IllegalArgumentException("iterations: expected at least 1, actual " + iterations);
        }
        this.out = out;
        this.iterations = iterations;
    }

    /**
     * Compares and times each of {@code candidates} against the baseline on the family's cases.
     *
     * @param family     the kernels' family
     * @param candidates the kernels to compare, as the family's setting names them
     * @return true when every comparison passed
     * @throws org.attn4j.error.BackendUnavailableException when the CUDA backend is unavailable
     * @throws IllegalArgumentException the backend's, when it does not know a candidate
     */
    public boolean run(Family family, List<String> candidates) {
        boolean ok = true;
        try (AttentionBackend baseline = open(family, BASELINE)) {
            out.println(family.name().toLowerCase(java.util.Locale.ROOT) + " kernels on " + baseline.device()
                    + ": " + candidates + " against " + BASELINE);
            for (String kernel : candidates) {
                try (AttentionBackend candidate = open(family, kernel)) {
                    for (KernelCase c : family.cases()) {
                        if (family.runs(kernel, c)) {
                            ok &= compareAndTime(family, baseline, candidate, kernel, c);
                        }
                    }
                }
            }
        }
        out.println(ok ? "ALL PASS" : "SOME FAILED");
        return ok;
    }

    private static AttentionBackend open(Family family, String kernel) {
        return Backends.open(BACKEND, BackendOptions.DEFAULT.with(family.setting, kernel));
    }

    /**
     * One case on both backends: the same inputs, the candidate's plan described, the outputs
     * compared, then (timed cases) both timed. A failure of the call is reported as a failed case.
     */
    boolean compareAndTime(Family family, AttentionBackend baseline, AttentionBackend candidate, String kernel,
                           KernelCase c) {
        String label = c.name() + " " + kernel;
        try (KernelInputs inputs = new KernelInputs(c);
             Side ref = new Side(baseline, c, inputs);
             Side cand = new Side(candidate, c, inputs)) {
            ref.run();
            cand.run();
            String description = cand.plan.describe();
            out.println("    " + kernel + " plan: " + description);
            String expected = family.descriptions.get(kernel);
            boolean chosen = expected == null || description.contains(expected);
            if (!chosen) {
                out.println((family.mustChoose() ? "FAIL " : "NOTE ") + label + ": the " + kernel
                        + " kernel was not chosen");
            }
            boolean pass = compare(label, ref, cand) && (chosen || !family.mustChoose());
            if (c.timed()) {
                Stats tRef = ref.time(family.warmUp, iterations);
                Stats tNew = cand.time(family.warmUp, iterations);
                out.printf("  %-28s %s %s | %-6s %s (%.2fx)%n", c.name(), BASELINE, rate(c, tRef), kernel,
                        rate(c, tNew), tRef.median() / tNew.median());
            }
            return pass;
        } catch (RuntimeException e) {
            out.println("FAIL " + label + ": " + e);
            return false;
        }
    }

    /** Median time and its rate: TB/s for decode, TFLOP/s for prefill. */
    private static String rate(KernelCase c, Stats ms) {
        Traffic t = c.traffic();
        double seconds = ms.median() * 1e-3;
        return c.decode() ? String.format("%9.1f us %5.2f TB/s", ms.median() * 1e3, t.bytes() / seconds / 1e12)
                : String.format("%9.1f us %6.1f TFLOP/s", ms.median() * 1e3, t.flops() / seconds / 1e12);
    }

    /**
     * Compares the outputs, prints one PASS/FAIL line with the largest differences and says
     * whether every element passed. A NaN difference counts as infinite in the maxima.
     */
    private boolean compare(String label, Side ref, Side cand) {
        float[] a = ref.download(ref.o);
        float[] b = cand.download(cand.o);
        float[] la = ref.download(ref.lse);
        float[] lb = cand.download(cand.lse);
        double maxO = 0;
        double maxL = 0;
        int bad = 0;
        for (int i = 0; i < a.length; i++) {
            double diff = Math.abs(a[i] - b[i]);
            maxO = Math.max(maxO, Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff);
            if (!(diff <= O_TOLERANCE + O_TOLERANCE * Math.abs(a[i]))) {
                bad++;
            }
        }
        for (int i = 0; i < la.length; i++) {
            double diff = la[i] == lb[i] ? 0 : Math.abs(la[i] - lb[i]);
            maxL = Math.max(maxL, Double.isNaN(diff) ? Double.POSITIVE_INFINITY : diff);
            if (!(diff <= LSE_TOLERANCE * (1 + Math.abs(la[i])))) {
                bad++;
            }
        }
        out.printf("%s %-32s max |o diff| %.3g, max |lse diff| %.3g, %d outside tolerance%n",
                bad == 0 ? "PASS" : "FAIL", label, maxO, maxL, bad);
        return bad == 0;
    }

    /** One backend's copy of a case: its inputs, outputs and plan. */
    private static final class Side implements AutoCloseable {
        private final AttentionBackend backend;
        private final List<AutoCloseable> owned = new ArrayList<>();
        private final Tensor q;
        private final PagedKvCache cache;
        private final Tensor o;
        private final Tensor lse;
        private final BatchAttentionPlan plan;

        Side(AttentionBackend backend, KernelCase c, KernelInputs inputs) {
            this.backend = backend;
            try {
                this.q = keep(backend.upload(inputs.q));
                Tensor k = keep(backend.upload(inputs.k));
                Tensor v = keep(backend.upload(inputs.v));
                this.cache = PagedKvCache.separate(k, v, c.shape().layout(), c.scales());
                this.o = keep(backend.allocate(c.shape().qDtype(), c.qShape()));
                this.lse = keep(backend.allocate(DType.F32, c.lseShape()));
                this.plan = keep(c.plan(backend));
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        private <T extends AutoCloseable> T keep(T resource) {
            owned.add(resource);
            return resource;
        }

        void run() {
            plan.run(q, cache, o, lse);
        }

        float[] download(Tensor t) {
            try (HostTensor h = backend.download(t)) {
                return h.toFloatArray();
            }
        }

        /** Milliseconds per run over {@code iterations} samples after {@code warmUp} untimed runs. */
        Stats time(int warmUp, int iterations) {
            for (int i = 0; i < warmUp; i++) {
                run();
            }
            backend.synchronize();
            double[] ms = new double[iterations];
            try (DeviceTimer timer = backend.newTimer()) {
                for (int i = 0; i < iterations; i++) {
                    timer.start();
                    for (int c = 0; c < BenchRunner.QUEUED_CALLS; c++) {
                        run();
                    }
                    timer.stop();
                    ms[i] = timer.elapsedMillis() / BenchRunner.QUEUED_CALLS;
                }
            }
            return Stats.of(ms);
        }

        @Override
        public void close() {
            for (int i = owned.size() - 1; i >= 0; i--) {
                try {
                    owned.get(i).close();
                } catch (Exception e) {
                    throw new IllegalStateException("closing a bench resource failed", e);
                }
            }
            owned.clear();
        }
    }
}
