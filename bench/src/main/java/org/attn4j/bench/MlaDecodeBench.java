package org.attn4j.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.attn4j.AttentionBackend;
import org.attn4j.MlaAttentionPlan;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The {@code decode-mla} workload: multi-head latent attention decode (spec §13) in DeepSeek-V3's
 * absorbed shape, 128 query heads over one latent row of {@code dCkv + dKpe} elements per token,
 * paged. Its rate is the latent cache's bytes ({@code ckv} and {@code kpe} of every request's
 * keys, each read once) over the time, against the bandwidth ceiling as the decode rows are.
 * Runs on backends with {@link Feature#MLA}; sampled requests are checked against the reference.
 *
 * <p>Stateless and thread-safe; a measurement uses the backend alone for its duration.
 */
public final class MlaDecodeBench {
    /** The workload's name. */
    public static final String NAME = "decode-mla";

    private MlaDecodeBench() {}

    /**
     * The shape of an MLA decode batch.
     *
     * <p>Immutable and thread-safe.
     *
     * @param batch     requests, one query row each
     * @param kvLen     keys of every request
     * @param heads     query heads, {@code dCkv} and {@code dKpe}
     * @param pageSize  tokens per latent page
     * @param qkHeadDim the model's q/k head dim before absorption; the logit scale is
     *                  {@code 1/sqrt(qkHeadDim)} (DeepSeek-V3: 128 + 64 = 192)
     * @param qDtype    q and o dtype
     * @param kvDtype   latent cache dtype (an FP8 cache has scales 1)
     * @param scale     the factor {@code kvLen} was scaled by (1: as named)
     */
    public record Shape(int batch, int kvLen, MlaHeadConfig heads, int pageSize, int qkHeadDim, DType qDtype,
                        DType kvDtype, double scale) {
        /**
         * Checks the counts.
         *
         * @throws IllegalArgumentException when a count is below 1
         */
        public Shape {
            if (batch < 1 || kvLen < 1 || pageSize < 1 || qkHeadDim < 1) {
                throw new IllegalArgumentException("expected batch, kvLen, pageSize, qkHeadDim >= 1, actual " + batch
                        + ", " + kvLen + ", " + pageSize + ", " + qkHeadDim);
            }
        }

        /**
         * The logit scale the model uses.
         *
         * @return {@code 1/sqrt(qkHeadDim)}
         */
        public float smScale() {
            return (float) (1 / Math.sqrt(qkHeadDim));
        }

        /**
         * Latent cache bytes one run reads: ckv and kpe of every request's keys, once.
         *
         * @return {@code batch * kvLen * (dCkv + dKpe) * kvDtype's bytes}
         */
        public long cacheBytes() {
            return (long) batch * kvLen * heads.keyDim() * kvDtype.byteSize();
        }

        /**
         * Pages of one request.
         *
         * @return {@code ceil(kvLen / pageSize)}
         */
        int pagesPerRequest() {
            return (kvLen + pageSize - 1) / pageSize;
        }

        /**
         * The same shape with {@code kvLen} multiplied by {@code factor} (at least 1).
         *
         * @param factor the length factor
         * @return the scaled shape, its {@link #scale} multiplied by {@code factor}; this one when 1
         */
        public Shape scaled(double factor) {
            if (factor == 1.0) {
                return this;
            }
            return new Shape(batch, Math.max(1, (int) Math.round(kvLen * factor)), heads, pageSize, qkHeadDim, qDtype,
                    kvDtype, scale * factor);
        }

        /**
         * The same shape with other dtypes.
         *
         * @param q  q and o dtype
         * @param kv latent cache dtype
         * @return a new shape
         */
        public Shape withDtypes(DType q, DType kv) {
            return new Shape(batch, kvLen, heads, pageSize, qkHeadDim, q, kv, scale);
        }

        /**
         * The row name as other rows have it: {@code decode-mla[bf16/bf16/NHD]}, plus the factor
         * when scaled (the latent pages are token-major, one head: NHD).
         *
         * @return the label
         */
        public String label() {
            String s = NAME + "[" + name(qDtype) + "/" + name(kvDtype) + "/NHD]";
            return scale == 1.0 ? s : s + " x" + BenchRow.num(scale);
        }

        /**
         * The lengths column: keys per request and the latent dims.
         *
         * @return e.g. {@code kv 4096, dCkv 512 + dKpe 64}
         */
        public String lengthsDescription() {
            return "kv " + kvLen + ", dCkv " + heads.headDimCkv() + " + dKpe " + heads.headDimKpe();
        }
    }

    private static String name(DType d) {
        return d.name().toLowerCase(Locale.ROOT);
    }

    /**
     * Why {@code backend} cannot run the workload.
     *
     * @param backend the backend
     * @return the reason, or null when it has {@link Feature#MLA}
     */
    public static String unsupported(AttentionBackend backend) {
        return backend.capabilities().has(Feature.MLA) ? null
                : "backend '" + backend.id() + "' does not support MLA (spec §13)";
    }

    /**
     * Measures {@code named} on {@code backend} as {@code runner} measures the named workloads:
     * lengths scaled by {@code --scale} (and {@code --cpu-scale} off GPUs), rotated input sets on
     * GPUs, sampled requests checked against the reference, warm-up, timed repetitions.
     *
     * @param runner   the settings and the reference
     * @param named    the shape as named (dtypes already chosen)
     * @param backend  the backend measured; it must have {@link Feature#MLA}
     * @param progress where the phases are shown
     * @return the row
     * @throws IllegalArgumentException when the backend has no MLA
     */
    public static BenchRow measure(BenchRunner runner, Shape named, AttentionBackend backend, Progress progress) {
        String why = unsupported(backend);
        if (why != null) {
            throw new IllegalArgumentException(why);
        }
        BenchSettings settings = runner.settings();
        Shape w = named.scaled(runner.factor(backend));
        boolean gpu = BenchRunner.onGpu(backend);
        String label = w.label() + " on " + backend.id();
        progress.update(label + ": inputs", 0);
        try (Case c = new Case(w, settings.seed())) {
            int[] sc = runner.setsAndCalls(gpu, c.setBytes());
            c.prepare(backend, sc[0]);
            progress.update(label + ": check", 0.05);
            c.run(0);
            backend.synchronize();
            AttentionBackend reference = runner.reference();
            String check = settings.checkRows() > 0 && reference != null
                    ? BenchRunner.checkColumn(ReferenceCheck.checkMla(c, backend, reference, settings.checkRows()),
                            label)
                    : "skipped";
            BenchRunner.Timed timed = runner.time(backend, c::run, sc[0], sc[1], progress, label);
            return row(w, backend, gpu, settings, timed.stats(), sc[0], check, timed.method());
        }
    }

    private static BenchRow row(Shape w, AttentionBackend backend, boolean gpu, BenchSettings settings, Stats st,
                                int sets, String check, String timer) {
        long bytes = w.cacheBytes();
        MlaHeadConfig h = w.heads();
        // q·[ckv ; kpe] and p·ckv for every head and key
        double flops = 2.0 * h.numHeads() * (h.keyDim() + h.headDimCkv()) * w.batch() * (double) w.kvLen();
        double rate = bytes / (st.median() * 1e-6) / 1e12;
        double ceiling = gpu || settings.ceilingOnCpu() ? settings.bwCeiling() : Double.NaN;
        double pct = Double.isNaN(ceiling) ? Double.NaN : 100.0 * rate * 1e12 / ceiling;
        return new BenchRow(w.label(), backend.id(), backend.device(), "mla_decode", w.batch(), h.numHeads(), 1,
                h.keyDim(), w.pageSize(), name(w.qDtype()), name(w.kvDtype()), "NHD", false, w.lengthsDescription(),
                w.scale(), st.median(), st.p10(), st.p90(), st.count(), sets, bytes, flops, "TB/s", rate, ceiling, pct,
                check, timer);
    }

    /**
     * The shape made concrete: host inputs (random in [-1, 1)), each request's pages in order, and
     * {@code sets} device copies of q and the latent cache, with their outputs and the plan.
     */
    static final class Case implements AutoCloseable {
        final Shape shape;
        final HostTensor hostQNope;
        final HostTensor hostQPe;
        final HostTensor hostCkv;
        final HostTensor hostKpe;
        /** Request b's pages. */
        final int[][] pages;
        private final List<Tensor> owned = new ArrayList<>();
        private final List<Tensor[]> inputs = new ArrayList<>();
        private final List<PagedMlaCache> caches = new ArrayList<>();
        private MlaAttentionPlan plan;

        Case(Shape w, long seed) {
            this.shape = w;
            int per = w.pagesPerRequest();
            pages = new int[w.batch()][per];
            for (int b = 0; b < w.batch(); b++) {
                for (int p = 0; p < per; p++) {
                    pages[b][p] = b * per + p;
                }
            }
            long numPages = (long) w.batch() * per;
            MlaHeadConfig h = w.heads();
            hostQNope = HostData.uniform(w.qDtype(), seed, w.batch(), h.numHeads(), h.headDimCkv());
            hostQPe = HostData.uniform(w.qDtype(), seed + 3, w.batch(), h.numHeads(), h.headDimKpe());
            hostCkv = HostData.uniform(w.kvDtype(), seed + 1, numPages, w.pageSize(), h.headDimCkv());
            hostKpe = HostData.uniform(w.kvDtype(), seed + 2, numPages, w.pageSize(), h.headDimKpe());
        }

        /** Bytes of one input set on the device: q, the cache and o. */
        long setBytes() {
            return hostQNope.byteSize() * 2 + hostQPe.byteSize() + hostCkv.byteSize() + hostKpe.byteSize();
        }

        void prepare(AttentionBackend backend, int sets) {
            for (int s = 0; s < sets; s++) {
                Tensor qNope = keep(backend.upload(hostQNope));
                Tensor qPe = keep(backend.upload(hostQPe));
                Tensor o = keep(backend.allocate(shape.qDtype(), hostQNope.shape()));
                inputs.add(new Tensor[] {qNope, qPe, o});
                caches.add(PagedMlaCache.of(keep(backend.upload(hostCkv)), keep(backend.upload(hostKpe))));
            }
            int[] lens = new int[shape.batch()];
            java.util.Arrays.fill(lens, shape.kvLen());
            plan = backend.planMlaDecode(PageTable.of(shape.pageSize(), pages, lens), shape.heads(), shape.smScale(),
                    PlanOptions.DEFAULT);
        }

        /** Queues one run on input set {@code s}. */
        void run(int s) {
            Tensor[] t = inputs.get(s);
            plan.run(t[0], t[1], caches.get(s), t[2], null);
        }

        Tensor output(int s) {
            return inputs.get(s)[2];
        }

        private Tensor keep(Tensor t) {
            owned.add(t);
            return t;
        }

        @Override
        public void close() {
            if (plan != null) {
                plan.close();
            }
            owned.forEach(Tensor::close);
            owned.clear();
            hostQNope.close();
            hostQPe.close();
            hostCkv.close();
            hostKpe.close();
        }
    }
}
