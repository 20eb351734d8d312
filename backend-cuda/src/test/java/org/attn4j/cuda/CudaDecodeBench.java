package org.attn4j.cuda;

import java.util.Arrays;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
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
 * Decode on the CUDA backend, the Tensor Core attention kernel (backend setting {@code decodeKernel=tc})
 * against the streaming decode kernels ({@code stream}, {@code mma}; {@code -Dattn4j.bench.kernels}
 * picks others): all run on the same random inputs, outputs are
 * compared (bf16 tolerance 1.6e-2 + 1.6e-2 |ref|, LSE 1e-3 (1 + |ref|)), and spec §10's decode
 * workloads are timed with CUDA events (median after warm-up) and reported as bytes per second.
 * Every timed run reads at least 1 GB of distinct K/V, far beyond the L2 cache, so no copy
 * rotation is needed to keep the cache cold. A few smaller cases check the options the
 * streaming kernel honours (window, soft cap, scales, odd lengths, empty requests, page sizes,
 * HND, f16, head dim 64, group sizes). Run as a program on a GPU host:
 * {@code java --enable-native-access=ALL-UNNAMED -cp ... org.attn4j.cuda.CudaDecodeBench [iterations]};
 * exits 1 when any comparison fails.
 */
public final class CudaDecodeBench {

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
        List<String> kernels = List.of(System.getProperty("attn4j.bench.kernels", "stream,mma").split(","));
        boolean ok = true;
        try (AttentionBackend tc = KernelBenchSupport.openWithKernel(CudaKernelSettings.DECODE_KERNEL, "tc")) {
            System.out.println("device: " + tc.device());
            for (String kernel : kernels) {
                try (AttentionBackend candidate = KernelBenchSupport.openWithKernel(CudaKernelSettings.DECODE_KERNEL,
                        kernel.trim())) {
                    for (Workload w : all) {
                        ok &= run(tc, candidate, w, kernel.trim(), iterations);
                    }
                }
            }
        }
        System.out.println(ok ? "ALL PASS" : "SOME FAILED");
        System.exit(ok ? 0 : 1);
    }

    private static boolean run(AttentionBackend tc, AttentionBackend cuda, Workload w, String kernel,
                               int iterations) {
        int batch = w.kvLens.length;
        int[][] pages = KernelBenchSupport.interleavedPages(w.kvLens, w.pageSize);
        int numPages = KernelBenchSupport.pageCount(pages);
        PageTable table = PageTable.of(w.pageSize, pages, w.kvLens);
        HeadConfig heads = new HeadConfig(w.hq, w.hkv, w.d);
        long[] kvShape = KernelBenchSupport.kvShape(w.layout, numPages, w.pageSize, w.hkv, w.d);
        try (Tensor kRef = tc.allocate(w.dtype, kvShape); Tensor vRef = tc.allocate(w.dtype, kvShape);
             Tensor qRef = tc.allocate(w.dtype, batch, w.hq, w.d);
             Tensor k = cuda.allocate(w.dtype, kvShape); Tensor v = cuda.allocate(w.dtype, kvShape);
             Tensor q = cuda.allocate(w.dtype, batch, w.hq, w.d);
             Tensor oRef = tc.allocate(w.dtype, batch, w.hq, w.d);
             Tensor lseRef = tc.allocate(DType.F32, batch, w.hq);
             Tensor oNew = cuda.allocate(w.dtype, batch, w.hq, w.d);
             Tensor lseNew = cuda.allocate(DType.F32, batch, w.hq);
             BatchAttentionPlan ref = tc.planBatchDecode(table, heads, w.options, PlanOptions.DEFAULT);
             BatchAttentionPlan stream = cuda.planBatchDecode(table, heads, w.options, PlanOptions.DEFAULT);
             DeviceTimer refTimer = tc.newTimer();
             DeviceTimer timer = cuda.newTimer()) {
            KernelBenchSupport.fillRandom(tc, kRef, cuda, k, 1, 1f);
            KernelBenchSupport.fillRandom(tc, vRef, cuda, v, 2, 1f);
            KernelBenchSupport.fillRandom(tc, qRef, cuda, q, 3, 4f);
            PagedKvCache refCache = PagedKvCache.separate(kRef, vRef, w.layout, w.scales);
            PagedKvCache cache = PagedKvCache.separate(k, v, w.layout, w.scales);
            ref.run(qRef, refCache, oRef, lseRef);
            stream.run(q, cache, oNew, lseNew);
            boolean pass = KernelBenchSupport.compare(tc, cuda, w.name + " " + kernel, 24, oRef, lseRef, oNew,
                    lseNew);
            System.out.println("    " + kernel + " plan: " + stream.describe());
            if (w.timed) {
                double tRef = KernelBenchSupport.time(ref, qRef, refCache, oRef, lseRef, refTimer, 5, iterations);
                double tNew = KernelBenchSupport.time(stream, q, cache, oNew, lseNew, timer, 5, iterations);
                System.out.printf("  %-24s tc %8.1f us %5.2f TB/s | %-6s %8.1f us %5.2f TB/s%n", w.name,
                        tRef * 1e3, w.bytes() / (tRef * 1e-3) / 1e12, kernel, tNew * 1e3,
                        w.bytes() / (tNew * 1e-3) / 1e12);
            }
            return pass;
        }
    }
}
