package org.attn4j.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.attn4j.AttentionBackend;
import org.attn4j.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.HeadConfig;
import org.attn4j.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Decode on the CUDA backend, the verified Tensor Core kernel against the streaming one
 * ({@code attn4j.cuda.decodeKernel=stream}): both run on the same random inputs, outputs are
 * compared (bf16 tolerance 1.6e-2 + 1.6e-2 |ref|, LSE 1e-3 (1 + |ref|)), and SPEC §10's decode
 * workloads are timed with CUDA events (median after warm-up) and reported as bytes per second.
 * Every timed run reads at least 1 GB of distinct K/V, far beyond the L2 cache, so no copy
 * rotation is needed to keep the cache cold. A few smaller cases check the options the
 * streaming kernel honours (window, soft cap, scales, odd lengths, empty requests, page sizes,
 * HND, f16, head dim 64, group sizes). Run as a program on a GPU host:
 * {@code java --enable-native-access=ALL-UNNAMED -cp ... org.attn4j.cuda.CudaDecodeBench [iterations]};
 * exits 1 when any comparison fails.
 */
public final class CudaDecodeBench {
    private static final ValueLayout.OfShort BITS = ValueLayout.JAVA_SHORT_UNALIGNED;

    private CudaDecodeBench() {}

    record Workload(String name, DType dtype, int[] kvLens, int hq, int hkv, int d, int pageSize, KvLayout layout,
                    AttentionOptions options, KvScales scales, boolean timed) {
        static Workload timed(String name, int batch, int kvLen, int hq, int hkv) {
            int[] lens = new int[batch];
            Arrays.fill(lens, kvLen);
            return new Workload(name, DType.BF16, lens, hq, hkv, 128, 16, KvLayout.NHD, AttentionOptions.DEFAULT,
                    KvScales.ONE, true);
        }

        long bytes() {
            long keys = 0;
            for (int len : kvLens) {
                keys += len;
            }
            return 2L * keys * hkv * d * dtype.byteSize() + 2L * kvLens.length * hq * d * dtype.byteSize();
        }
    }

    public static void main(String[] args) {
        int iterations = Math.max(30, args.length > 0 ? Integer.parseInt(args[0]) : 30);
        int[] mixed = {0, 1, 17, 300, 1000, 4097, 5000, 9001};
        // Causal decode over an empty request is rejected (qoLen 1 > kvLen 0), so no empty one here.
        int[] nonEmpty = {1, 2, 17, 300, 1000, 4097, 5000, 9001};
        Workload[] all = {
            Workload.timed("decode-llama8b", 64, 4096, 32, 8),
            Workload.timed("decode-mha", 128, 1024, 32, 32),
            Workload.timed("decode-long", 4, 131072, 32, 8),
            new Workload("opts-window-cap-scales", DType.BF16, mixed, 32, 8, 128, 16, KvLayout.NHD,
                    AttentionOptions.DEFAULT.withWindowLeft(700).withLogitsSoftCap(30f), new KvScales(0.5f, 2f), false),
            new Workload("opts-f16-d64-g2-page5", DType.F16, nonEmpty, 16, 8, 64, 5, KvLayout.NHD,
                    AttentionOptions.DEFAULT.withCausal(true), KvScales.ONE, false),
            new Workload("opts-hnd-g8-page1", DType.BF16, mixed, 64, 8, 128, 1, KvLayout.HND,
                    AttentionOptions.DEFAULT.withSmScale(0.2f), KvScales.ONE, false),
            new Workload("opts-mha-d64", DType.BF16, mixed, 8, 8, 64, 16, KvLayout.HND,
                    AttentionOptions.DEFAULT, KvScales.ONE, false),
        };
        boolean ok = true;
        try (AttentionBackend cuda = Backends.open("cuda")) {
            System.out.println("device: " + cuda.device());
            for (Workload w : all) {
                ok &= run(cuda, w, iterations);
            }
        }
        System.out.println(ok ? "ALL PASS" : "SOME FAILED");
        System.exit(ok ? 0 : 1);
    }

    private static boolean run(AttentionBackend cuda, Workload w, int iterations) {
        int batch = w.kvLens.length;
        int[][] pages = new int[batch][];
        int numPages = 0;
        for (int b = 0; b < batch; b++) {
            numPages += (w.kvLens[b] + w.pageSize - 1) / w.pageSize;
        }
        // Pages of all requests interleaved, as a serving pool hands them out.
        int next = 0;
        int maxPages = 0;
        for (int b = 0; b < batch; b++) {
            pages[b] = new int[(w.kvLens[b] + w.pageSize - 1) / w.pageSize];
            maxPages = Math.max(maxPages, pages[b].length);
        }
        for (int i = 0; i < maxPages; i++) {
            for (int b = 0; b < batch; b++) {
                if (i < pages[b].length) {
                    pages[b][i] = next++;
                }
            }
        }
        PageTable table = PageTable.of(w.pageSize, pages, w.kvLens);
        HeadConfig heads = new HeadConfig(w.hq, w.hkv, w.d);
        long[] kvShape = w.layout == KvLayout.NHD ? new long[] {Math.max(1, numPages), w.pageSize, w.hkv, w.d}
                : new long[] {Math.max(1, numPages), w.hkv, w.pageSize, w.d};
        try (Tensor k = cuda.allocate(w.dtype, kvShape); Tensor v = cuda.allocate(w.dtype, kvShape);
             Tensor q = cuda.allocate(w.dtype, batch, w.hq, w.d);
             Tensor oRef = cuda.allocate(w.dtype, batch, w.hq, w.d);
             Tensor lseRef = cuda.allocate(DType.F32, batch, w.hq);
             Tensor oNew = cuda.allocate(w.dtype, batch, w.hq, w.d);
             Tensor lseNew = cuda.allocate(DType.F32, batch, w.hq);
             BatchAttentionPlan ref = plan(cuda, table, heads, w.options, null);
             BatchAttentionPlan stream = plan(cuda, table, heads, w.options, "stream");
             DeviceTimer timer = cuda.newTimer()) {
            fillRandom(cuda, k, 1, 1f);
            fillRandom(cuda, v, 2, 1f);
            fillRandom(cuda, q, 3, 4f);
            PagedKvCache cache = PagedKvCache.separate(k, v, w.layout, w.scales);
            ref.run(q, cache, oRef, lseRef);
            stream.run(q, cache, oNew, lseNew);
            boolean pass = compare(cuda, w.name, oRef, lseRef, oNew, lseNew);
            System.out.println("    stream plan: " + stream.describe());
            if (w.timed) {
                double tRef = time(ref, q, cache, oRef, lseRef, timer, iterations);
                double tNew = time(stream, q, cache, oNew, lseNew, timer, iterations);
                System.out.printf("  %-24s existing %8.1f us %5.2f TB/s | stream %8.1f us %5.2f TB/s%n", w.name,
                        tRef * 1e3, w.bytes() / (tRef * 1e-3) / 1e12, tNew * 1e3, w.bytes() / (tNew * 1e-3) / 1e12);
            }
            return pass;
        }
    }

    /** A plan built while the decode-kernel property has {@code kernel} (null: the default). */
    private static BatchAttentionPlan plan(AttentionBackend cuda, PageTable table, HeadConfig heads,
                                           AttentionOptions options, String kernel) {
        String key = CudaAttentionPlan.DECODE_KERNEL_PROPERTY;
        String old = System.getProperty(key);
        try {
            if (kernel == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, kernel);
            }
            return cuda.planBatchDecode(table, heads, options, PlanOptions.DEFAULT);
        } finally {
            if (old == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, old);
            }
        }
    }

    private static double time(BatchAttentionPlan plan, Tensor q, PagedKvCache cache, Tensor o, Tensor lse,
                               DeviceTimer timer, int iterations) {
        for (int i = 0; i < 5; i++) {
            plan.run(q, cache, o, lse);
        }
        double[] ms = new double[iterations];
        for (int i = 0; i < iterations; i++) {
            timer.start();
            plan.run(q, cache, o, lse);
            timer.stop();
            ms[i] = timer.elapsedMillis();
        }
        Arrays.sort(ms);
        return ms[iterations / 2];
    }

    /** Uniform values in [-amplitude, amplitude), rounded down to the 16-bit type, filled in parallel. */
    private static void fillRandom(AttentionBackend cuda, Tensor t, long seed, float amplitude) {
        try (HostTensor host = HostTensor.allocate(t.dtype(), t.shape())) {
            MemorySegment seg = host.segment();
            long n = host.elementCount();
            int chunks = (int) Math.min(1024, Math.max(1, n >> 16));
            boolean bf16 = t.dtype() == DType.BF16;
            IntStream.range(0, chunks).parallel().forEach(c -> {
                long from = n * c / chunks;
                long to = n * (c + 1) / chunks;
                long x = seed * 0x9E3779B97F4A7C15L + c * 0xBF58476D1CE4E5B9L + 1;
                for (long i = from; i < to; i++) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    float f = (Float.intBitsToFloat(0x3F800000 | (int) (x >>> 41)) * 2f - 3f) * amplitude;
                    short bits = bf16 ? (short) (Float.floatToRawIntBits(f) >>> 16) : Float.floatToFloat16(f);
                    seg.set(BITS, 2 * i, bits);
                }
            });
            cuda.upload(host, t);
        }
    }

    private static boolean compare(AttentionBackend cuda, String name, Tensor oRef, Tensor lseRef, Tensor oNew,
                                   Tensor lseNew) {
        float[] a = toFloats(cuda, oRef);
        float[] b = toFloats(cuda, oNew);
        float[] la = toFloats(cuda, lseRef);
        float[] lb = toFloats(cuda, lseNew);
        double maxO = 0;
        double maxL = 0;
        int bad = 0;
        for (int i = 0; i < a.length; i++) {
            double diff = Math.abs(a[i] - b[i]);
            maxO = Math.max(maxO, diff);
            if (!(diff <= 1.6e-2 + 1.6e-2 * Math.abs(a[i]))) {
                bad++;
            }
        }
        for (int i = 0; i < la.length; i++) {
            boolean same = la[i] == lb[i]; // both -inf for empty requests
            double diff = same ? 0 : Math.abs(la[i] - lb[i]);
            maxL = Math.max(maxL, diff);
            if (!(diff <= 1e-3 * (1 + Math.abs(la[i])))) {
                bad++;
            }
        }
        System.out.printf("%s %-24s max |o diff| %.3g, max |lse diff| %.3g, %d outside tolerance%n",
                bad == 0 ? "PASS" : "FAIL", name, maxO, maxL, bad);
        return bad == 0;
    }

    private static float[] toFloats(AttentionBackend cuda, Tensor t) {
        try (HostTensor h = cuda.download(t)) {
            return h.toFloatArray();
        }
    }
}
