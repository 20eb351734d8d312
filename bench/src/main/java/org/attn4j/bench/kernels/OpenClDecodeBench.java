package org.attn4j.bench.kernels;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The OpenCL backend's batch decode against a baseline on the same inputs, through the public API
 * only. The OpenCL side is the {@code opencl} backend opened with its attention kernel flavour
 * forced by the backend setting {@value #SETTING} ({@code tiled}, {@code serial},
 * {@code decode-stream}, {@code auto}), or left to the backend's own choice ({@code auto}, or the
 * system property {@code attn4j.opencl.kernel}). The baseline is the reference backend or the
 * OpenCL backend with another flavour. The inputs are bf16 (q, K and V uniform in [-1, 1), every
 * element drawn on its own), the KV cache NHD with each request's pages consecutive.
 *
 * <p>Runs of the two alternate round by round, so load from other processes hits both alike: after
 * one untimed run of each (which builds the OpenCL kernels), each round times one run of the
 * baseline and the best of three runs of the OpenCL side, each run alone with the backend's
 * {@link DeviceTimer}. Medians over the rounds are reported with the rate of K/V read, and the
 * largest difference of the outputs, which passes within 1.6e-2 + 1.6e-2 |baseline| per element
 * (the tolerance of the CUDA kernel comparisons in {@link KernelBench}).
 *
 * <p>Not thread-safe: one bench runs on one thread.
 */
public final class OpenClDecodeBench {
    /** The backend whose kernels are timed. */
    public static final String BACKEND = "opencl";
    /** The OpenCL backend setting that forces an attention kernel flavour. */
    public static final String SETTING = "kernel";
    /** The baseline that is not an OpenCL flavour: the reference backend. */
    public static final String REFERENCE = "reference";
    /** The flavours the OpenCL backend's {@value #SETTING} setting knows. */
    public static final List<String> FLAVOURS = List.of("auto", "tiled", "serial", "decode-stream");
    /** Timed runs of the OpenCL side per round, of which the fastest counts. */
    static final int BEST_OF = 3;

    /**
     * The decode batch: every request has {@code kvLen} keys and one query row.
     *
     * <p>Immutable and thread-safe.
     *
     * @param batch    requests
     * @param kvLen    keys per request
     * @param hq       query heads
     * @param hkv      KV heads
     * @param headDim  head dim
     * @param pageSize tokens per KV page
     */
    public record Shape(int batch, int kvLen, int hq, int hkv, int headDim, int pageSize) {
        /** B 8, kvLen 1024, Hq 32, Hkv 8, D 128, page 16: one layer of a Llama-8B-like decode step. */
        public static final Shape DEFAULT = new Shape(8, 1024, 32, 8, 128, 16);

        /**
         * Checks that every count is positive.
         *
         * @throws IllegalArgumentException naming the first that is not
         */
        public Shape {
            positive("batch", batch);
            positive("kvLen", kvLen);
            positive("hq", hq);
            positive("hkv", hkv);
            positive("headDim", headDim);
            positive("pageSize", pageSize);
        }

        /**
         * The same heads and pages with other lengths.
         *
         * @param batch requests
         * @param kvLen keys per request
         * @return a new shape
         * @throws IllegalArgumentException if either is not positive
         */
        public Shape withLengths(int batch, int kvLen) {
            return new Shape(batch, kvLen, hq, hkv, headDim, pageSize);
        }

        /**
         * Bytes of K and V one run reads.
         *
         * @return {@code 2 * batch * kvLen * hkv * headDim} bf16 values, in bytes
         */
        public long kvBytes() {
            return 2L * batch * kvLen * hkv * headDim * DType.BF16.byteSize();
        }

        int pagesPerRequest() {
            return (kvLen + pageSize - 1) / pageSize;
        }

        private static void positive(String name, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(name + ": expected at least 1, actual " + value);
            }
        }
    }

    private final PrintStream out;
    private final int rounds;

    /**
     * A bench that reports to {@code out}.
     *
     * @param out    where the report goes
     * @param rounds timed rounds, each one baseline run and {@value #BEST_OF} OpenCL runs
     * @throws IllegalArgumentException if {@code rounds} is below 1
     */
    public OpenClDecodeBench(PrintStream out, int rounds) {
        if (rounds < 1) {
            throw new IllegalArgumentException("rounds: expected at least 1, actual " + rounds);
        }
        this.out = out;
        this.rounds = rounds;
    }

    /**
     * Opens the OpenCL backend with {@code kernel} and the baseline, then compares and times them.
     *
     * @param shape    the decode batch
     * @param baseline {@value #REFERENCE}, or an OpenCL flavour to compare {@code kernel} with on the
     *                 same device
     * @param kernel   the OpenCL flavour timed; null for the backend's own choice
     * @return true when the outputs agree within the tolerance
     * @throws org.attn4j.error.BackendUnavailableException when the OpenCL backend (or the reference)
     *                                                      is unavailable
     * @throws IllegalArgumentException the OpenCL backend's, when it does not know a flavour
     */
    public boolean run(Shape shape, String baseline, String kernel) {
        try (AttentionBackend candidate = open(kernel);
             AttentionBackend base = baseline.equals(REFERENCE) ? Backends.open(REFERENCE) : open(baseline)) {
            return compareAndTime(shape, base, baseline.equals(REFERENCE) ? REFERENCE : BACKEND + " " + baseline,
                    candidate, kernel == null ? BACKEND : BACKEND + " " + kernel);
        }
    }

    /** The OpenCL backend with {@code kernel} forced, or with its own choice when null. */
    private static AttentionBackend open(String kernel) {
        return Backends.open(BACKEND, kernel == null ? BackendOptions.DEFAULT : BackendOptions.DEFAULT.with(SETTING, kernel));
    }

    /**
     * The bench on two open backends: the same inputs on both, one untimed run of each, plans
     * described, rounds timed, outputs compared. Prints the report and says whether the outputs agree.
     */
    boolean compareAndTime(Shape shape, AttentionBackend baseline, String baselineLabel, AttentionBackend candidate,
                           String candidateLabel) {
        int pagesPerRequest = shape.pagesPerRequest();
        int[][] pages = new int[shape.batch()][pagesPerRequest];
        int[] lens = new int[shape.batch()];
        for (int b = 0; b < shape.batch(); b++) {
            lens[b] = shape.kvLen();
            for (int i = 0; i < pagesPerRequest; i++) {
                pages[b][i] = b * pagesPerRequest + i;
            }
        }
        PageTable table = PageTable.of(shape.pageSize(), pages, lens);
        HeadConfig heads = new HeadConfig(shape.hq(), shape.hkv(), shape.headDim());
        long numPages = (long) shape.batch() * pagesPerRequest;
        long[] kvShape = {numPages, shape.pageSize(), shape.hkv(), shape.headDim()};
        try (HostTensor kh = KernelInputs.random(DType.BF16, kvShape, 1, 1f);
             HostTensor vh = KernelInputs.random(DType.BF16, kvShape, 2, 1f);
             HostTensor qh = KernelInputs.random(DType.BF16, new long[] {shape.batch(), shape.hq(), shape.headDim()}, 3, 1f);
             Side ref = Side.open(baseline, kh, vh, qh, table, heads);
             Side ocl = Side.open(candidate, kh, vh, qh, table, heads)) {
            ref.runMillis();
            ocl.runMillis(); // builds the kernels; the plans can then say what they chose
            out.println(candidateLabel + " on " + candidate.device() + ": " + ocl.plan.describe());
            out.println(baselineLabel + " on " + baseline.device() + ": " + ref.plan.describe());
            double[] refMs = new double[rounds];
            double[] oclMs = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                refMs[r] = ref.runMillis();
                double best = Double.MAX_VALUE;
                for (int i = 0; i < BEST_OF; i++) {
                    best = Math.min(best, ocl.runMillis());
                }
                oclMs[r] = best;
            }
            double refMedian = median(refMs);
            double oclMedian = median(oclMs);
            float[] a = ref.output();
            float[] b = ocl.output();
            double diff = 0;
            int bad = 0;
            for (int i = 0; i < a.length; i++) {
                double d = Math.abs(a[i] - b[i]);
                diff = Math.max(diff, Double.isNaN(d) ? Double.POSITIVE_INFINITY : d);
                if (!(d <= KernelBench.O_TOLERANCE + KernelBench.O_TOLERANCE * Math.abs(a[i]))) {
                    bad++;
                }
            }
            double bytes = shape.kvBytes();
            int width = Math.max(baselineLabel.length(), candidateLabel.length()) + 1;
            out.printf(Locale.ROOT, "decode B %d kvLen %d Hq %d Hkv %d D %d bf16 page %d, %d rounds%n", shape.batch(),
                    shape.kvLen(), shape.hq(), shape.hkv(), shape.headDim(), shape.pageSize(), rounds);
            out.printf(Locale.ROOT, "  %-" + width + "s median %.3f ms (%s), %.2f GB/s of KV%n", baselineLabel + ":",
                    refMedian, ref.timer.method(), bytes / refMedian / 1e6);
            out.printf(Locale.ROOT, "  %-" + width + "s median %.3f ms (%s), %.2f GB/s of KV, max |diff| %.3g%n",
                    candidateLabel + ":", oclMedian, ocl.timer.method(), bytes / oclMedian / 1e6, diff);
            out.printf(Locale.ROOT, "  %-" + width + "s %.1fx%n", "speed-up:", refMedian / oclMedian);
            out.printf(Locale.ROOT, "%s %s against %s: %d of %d outputs outside tolerance%n", bad == 0 ? "PASS" : "FAIL",
                    candidateLabel, baselineLabel, bad, a.length);
            return bad == 0;
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** One backend's buffers and plan for the batch. */
    private record Side(AttentionBackend backend, Tensor q, Tensor o, PagedKvCache cache, BatchAttentionPlan plan,
                        DeviceTimer timer) implements AutoCloseable {
        static Side open(AttentionBackend be, HostTensor kh, HostTensor vh, HostTensor qh, PageTable table,
                         HeadConfig heads) {
            Tensor k = be.upload(kh);
            Tensor v = null;
            Tensor q = null;
            Tensor o = null;
            BatchAttentionPlan plan = null;
            try {
                v = be.upload(vh);
                PagedKvCache cache = PagedKvCache.separate(k, v, KvLayout.NHD);
                q = be.upload(qh);
                o = be.allocate(DType.BF16, qh.shape());
                plan = be.planBatchDecode(table, heads, AttentionOptions.DEFAULT, PlanOptions.DEFAULT);
                return new Side(be, q, o, cache, plan, be.newTimer());
            } catch (RuntimeException e) {
                for (AutoCloseable c : new AutoCloseable[] {plan, o, q, v, k}) {
                    closeQuietly(c, e);
                }
                throw e;
            }
        }

        private static void closeQuietly(AutoCloseable c, RuntimeException failure) {
            if (c == null) {
                return;
            }
            try {
                c.close();
            } catch (Exception e) {
                failure.addSuppressed(e);
            }
        }

        double runMillis() {
            timer.start();
            plan.run(q, cache, o, null);
            timer.stop();
            return timer.elapsedMillis();
        }

        float[] output() {
            try (HostTensor h = backend.download(o)) {
                return h.toFloatArray();
            }
        }

        @Override
        public void close() {
            plan.close();
            timer.close();
            q.close();
            o.close();
            cache.k().close();
            cache.v().close();
        }
    }
}
