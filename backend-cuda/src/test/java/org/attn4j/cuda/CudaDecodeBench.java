package org.attn4j.cuda;

import java.util.Arrays;
import org.attn4j.AttentionBackend;
import org.attn4j.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.HeadConfig;
import org.attn4j.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * SPEC §10's decode workloads on the CUDA backend: median of CUDA-event timings after warm-up,
 * reported as bytes moved per second. Run as a program on a GPU host:
 * {@code java -cp ... org.attn4j.cuda.CudaDecodeBench [iterations]}.
 */
public final class CudaDecodeBench {
    private CudaDecodeBench() {}

    record Workload(String name, int batch, int kvLen, int hq, int hkv, int d, int pageSize) {}

    public static void main(String[] args) {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        Workload[] all = {
            new Workload("decode-llama8b", 64, 4096, 32, 8, 128, 16),
            new Workload("decode-mha", 128, 1024, 32, 32, 128, 16),
            new Workload("decode-long", 4, 131072, 32, 8, 128, 16),
        };
        try (AttentionBackend cuda = Backends.open("cuda")) {
            System.out.println("device: " + cuda.device());
            for (Workload w : all) {
                run(cuda, w, iterations);
            }
        }
    }

    private static void run(AttentionBackend cuda, Workload w, int iterations) {
        int pagesPer = (w.kvLen + w.pageSize - 1) / w.pageSize;
        int[][] pages = new int[w.batch][pagesPer];
        int[] lens = new int[w.batch];
        // Pages of all requests interleaved, as a serving pool hands them out.
        for (int b = 0; b < w.batch; b++) {
            lens[b] = w.kvLen;
            for (int i = 0; i < pagesPer; i++) {
                pages[b][i] = i * w.batch + b;
            }
        }
        int numPages = pagesPer * w.batch;
        PageTable table = PageTable.of(w.pageSize, pages, lens);
        HeadConfig heads = new HeadConfig(w.hq, w.hkv, w.d);
        long[] kvShape = {numPages, w.pageSize, w.hkv, w.d};
        try (Tensor k = cuda.allocate(DType.BF16, kvShape); Tensor v = cuda.allocate(DType.BF16, kvShape);
             Tensor q = cuda.allocate(DType.BF16, w.batch, w.hq, w.d);
             Tensor o = cuda.allocate(DType.BF16, w.batch, w.hq, w.d);
             Tensor lse = cuda.allocate(DType.F32, w.batch, w.hq);
             BatchAttentionPlan plan = cuda.planBatchDecode(table, heads, AttentionOptions.DEFAULT, PlanOptions.DEFAULT);
             DeviceTimer timer = cuda.newTimer()) {
            PagedKvCache cache = PagedKvCache.separate(k, v, KvLayout.NHD);
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
            double median = ms[iterations / 2];
            long bytes = 2L * w.batch * w.kvLen * w.hkv * w.d * 2 + 2L * w.batch * w.hq * w.d * 2;
            System.out.printf("%-15s %9.1f us  %6.2f TB/s  (min %.1f us)  %s%n", w.name, median * 1e3,
                    bytes / (median * 1e-3) / 1e12, ms[0] * 1e3, plan.describe());
        }
    }
}
