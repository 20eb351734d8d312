package org.attn4j.cuda;

import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Prefill on the CUDA backend, the Tensor Core kernel (backend setting {@code prefillKernel=tc})
 * against the query-tiled ones ({@code fa2}, {@code wgmma}; {@code -Dattn4j.bench.kernels} picks
 * others): all run on the same random inputs, outputs are
 * compared (bf16 tolerance 1.6e-2 + 1.6e-2 |ref|, LSE 1e-3 (1 + |ref|)), and spec §10's prefill
 * workloads are timed with CUDA events (median after warm-up) and reported in TFLOP/s with
 * FLOPs = 4 Hq D (allowed (row, key) pairs). Smaller cases check the options the query-tiled
 * kernels honour (page sizes 1 and 7, HND, non-causal, window with soft cap, custom mask, K/V
 * scales, queries shorter than their keys, empty requests, f16, head dims 64 and 256 (wgmma
 * only)). Each case first checks that the candidate kernel was really chosen. Run as a program
 * on a GPU host:
 * {@code java --enable-native-access=ALL-UNNAMED -cp ... org.attn4j.cuda.CudaPrefillBench [iterations]};
 * exits 1 when any comparison fails.
 */
public final class CudaPrefillBench {
    /** The cli bench's seed for the lengths of prefill-batch-paged (same draw, same lengths). */
    private static final long LENGTH_SEED = 20260101L;

    private CudaPrefillBench() {}

    record Workload(String name, DType dtype, int[] qoLens, int[] kvLens, int hq, int hkv, int d, int pageSize,
                    KvLayout layout, AttentionOptions options, boolean customMask, KvScales scales, boolean timed) {
        static Workload timed(String name, int[] lens) {
            return new Workload(name, DType.BF16, lens, lens, 32, 8, 128, 16, KvLayout.NHD,
                    AttentionOptions.DEFAULT.withCausal(true), false, KvScales.ONE, true);
        }

        /** (row, key) pairs the options allow (without a custom mask: those count as dense). */
        long allowedPairs() {
            long n = 0;
            for (int b = 0; b < qoLens.length; b++) {
                for (int i = 0; i < qoLens[b]; i++) {
                    long pq = i + kvLens[b] - qoLens[b];
                    long hi = options.causal() ? Math.min(kvLens[b], pq + 1) : kvLens[b];
                    long lo = options.windowLeft() >= 0 ? Math.max(0, pq - options.windowLeft()) : 0;
                    n += Math.max(0, hi - lo);
                }
            }
            return n;
        }

        double flops() {
            return 4.0 * hq * d * allowedPairs();
        }
    }

    public static void main(String[] args) {
        int iterations = Math.max(20, args.length > 0 ? Integer.parseInt(args[0]) : 20);
        Workload[] all = {
            Workload.timed("prefill-causal-8k", new int[] {8192}),
            Workload.timed("prefill-batch-paged", drawLengths(16, 512, 4096, LENGTH_SEED)),
            new Workload("opts-page1-noncausal-f16-d64", DType.F16, new int[] {0, 1, 63, 65, 300},
                    new int[] {7, 0, 100, 65, 1000}, 8, 2, 64, 1, KvLayout.NHD, AttentionOptions.DEFAULT, false,
                    KvScales.ONE, false),
            new Workload("opts-page7-hnd-window-cap", DType.BF16, new int[] {300, 1, 129, 1000},
                    new int[] {300, 50, 500, 1777}, 32, 8, 128, 7, KvLayout.HND,
                    AttentionOptions.DEFAULT.withCausal(true).withWindowLeft(100).withLogitsSoftCap(30f), false,
                    KvScales.ONE, false),
            new Workload("opts-causal-prefix-g4", DType.BF16, new int[] {100, 257, 1, 64},
                    new int[] {1000, 300, 4000, 64}, 16, 4, 128, 16, KvLayout.NHD,
                    AttentionOptions.DEFAULT.withCausal(true), false, KvScales.ONE, false),
            new Workload("opts-mask-scales-mha-d64", DType.BF16, new int[] {17, 64, 200}, new int[] {40, 64, 333},
                    4, 4, 64, 16, KvLayout.HND, AttentionOptions.DEFAULT.withSmScale(0.2f), true,
                    new KvScales(0.5f, 2f), false),
            new Workload("opts-causal-d256-g4", DType.BF16, new int[] {300, 64, 1000, 1},
                    new int[] {300, 500, 1000, 77}, 8, 2, 256, 16, KvLayout.NHD,
                    AttentionOptions.DEFAULT.withCausal(true), false, KvScales.ONE, false),
            new Workload("prefill-causal-4k-d256", DType.BF16, new int[] {4096}, new int[] {4096}, 16, 8, 256, 16,
                    KvLayout.NHD, AttentionOptions.DEFAULT.withCausal(true), false, KvScales.ONE, true),
        };
        String[] kernels = System.getProperty("attn4j.bench.kernels", "fa2,wgmma").split(",");
        boolean ok = true;
        try (AttentionBackend tc = KernelBenchSupport.openWithKernel(CudaKernelSettings.PREFILL_KERNEL, "tc")) {
            System.out.println("device: " + tc.device());
            for (String kernel : kernels) {
                try (AttentionBackend candidate = KernelBenchSupport.openWithKernel(CudaKernelSettings.PREFILL_KERNEL,
                        kernel.trim())) {
                    for (Workload w : all) {
                        if (w.d > 128 && !kernel.trim().equals("wgmma")) {
                            continue; // head dim 256 runs on wgmma only (others fall back to tc)
                        }
                        try {
                            ok &= run(tc, candidate, w, kernel.trim(), iterations);
                        } catch (RuntimeException e) {
                            System.out.println("FAIL " + w.name + " " + kernel + ": " + e);
                            ok = false;
                        }
                    }
                }
            }
        }
        System.out.println(ok ? "ALL PASS" : "SOME FAILED");
        System.exit(ok ? 0 : 1);
    }

    /** The cli bench's length draw (a 64-bit LCG), so both report the same prefill-batch-paged. */
    static int[] drawLengths(int n, int lo, int hi, long seed) {
        int[] out = new int[n];
        long state = seed;
        for (int i = 0; i < n; i++) {
            state = state * 6364136223846793005L + 1442695040888963407L;
            out[i] = (int) (lo + (state >>> 33) % (hi - lo + 1));
        }
        return out;
    }

    private static boolean run(AttentionBackend tc, AttentionBackend cuda, Workload w, String kernel,
                               int iterations) {
        int batch = w.kvLens.length;
        int[][] pages = KernelBenchSupport.interleavedPages(w.kvLens, w.pageSize);
        int numPages = KernelBenchSupport.pageCount(pages);
        int[] qoIndptr = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            qoIndptr[b + 1] = qoIndptr[b] + w.qoLens[b];
        }
        int totalQ = qoIndptr[batch];
        PageTable table = PageTable.of(w.pageSize, pages, w.kvLens);
        HeadConfig heads = new HeadConfig(w.hq, w.hkv, w.d);
        CustomMask mask = w.customMask ? randomMask(w) : null;
        long[] kvShape = KernelBenchSupport.kvShape(w.layout, numPages, w.pageSize, w.hkv, w.d);
        try (Tensor kRef = tc.allocate(w.dtype, kvShape); Tensor vRef = tc.allocate(w.dtype, kvShape);
             Tensor qRef = tc.allocate(w.dtype, totalQ, w.hq, w.d);
             Tensor k = cuda.allocate(w.dtype, kvShape); Tensor v = cuda.allocate(w.dtype, kvShape);
             Tensor q = cuda.allocate(w.dtype, totalQ, w.hq, w.d);
             Tensor oRef = tc.allocate(w.dtype, totalQ, w.hq, w.d);
             Tensor lseRef = tc.allocate(DType.F32, totalQ, w.hq);
             Tensor oNew = cuda.allocate(w.dtype, totalQ, w.hq, w.d);
             Tensor lseNew = cuda.allocate(DType.F32, totalQ, w.hq);
             BatchAttentionPlan ref = tc.planBatchPrefill(qoIndptr, table, heads, w.options, mask,
                     PlanOptions.DEFAULT);
             BatchAttentionPlan candidate = cuda.planBatchPrefill(qoIndptr, table, heads, w.options, mask,
                     PlanOptions.DEFAULT);
             DeviceTimer refTimer = tc.newTimer();
             DeviceTimer timer = cuda.newTimer()) {
            KernelBenchSupport.fillRandom(tc, kRef, cuda, k, 1, 1f);
            KernelBenchSupport.fillRandom(tc, vRef, cuda, v, 2, 1f);
            KernelBenchSupport.fillRandom(tc, qRef, cuda, q, 3, 4f);
            PagedKvCache refCache = PagedKvCache.separate(kRef, vRef, w.layout, w.scales);
            PagedKvCache cache = PagedKvCache.separate(k, v, w.layout, w.scales);
            ref.run(qRef, refCache, oRef, lseRef);
            candidate.run(q, cache, oNew, lseNew);
            System.out.println("    " + kernel + " plan: " + candidate.describe());
            String shape = switch (kernel) {
                case "wgmma" -> "WGMMA_PREFILL";
                default -> "FA2_PREFILL";
            };
            boolean chosen = candidate.describe().startsWith("cuda " + shape);
            if (!chosen) {
                System.out.println("FAIL " + w.name + ": the " + kernel + " kernel was not chosen");
            }
            boolean pass = KernelBenchSupport.compare(tc, cuda, w.name + " " + kernel, 28, oRef, lseRef, oNew,
                    lseNew) && chosen;
            if (w.timed) {
                double tRef = KernelBenchSupport.time(ref, qRef, refCache, oRef, lseRef, refTimer, 3, iterations);
                double tNew = KernelBenchSupport.time(candidate, q, cache, oNew, lseNew, timer, 3, iterations);
                System.out.printf("  %-24s tc %9.1f us %6.1f TFLOP/s | %-5s %9.1f us %6.1f TFLOP/s (%.2fx)%n",
                        w.name, tRef * 1e3, w.flops() / (tRef * 1e-3) / 1e12,
                        kernel, tNew * 1e3, w.flops() / (tNew * 1e-3) / 1e12, tRef / tNew);
            }
            return pass;
        }
    }

    /** Random bits, each request's matrix concatenated; about one key in three masked out. */
    private static CustomMask randomMask(Workload w) {
        int total = 0;
        for (int b = 0; b < w.qoLens.length; b++) {
            total += w.qoLens[b] * w.kvLens[b];
        }
        boolean[] bits = new boolean[total];
        long x = 0x2545F4914F6CDD1DL;
        for (int i = 0; i < total; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            bits[i] = Long.remainderUnsigned(x, 3) != 0;
        }
        return CustomMask.fromBooleans(bits);
    }
}
