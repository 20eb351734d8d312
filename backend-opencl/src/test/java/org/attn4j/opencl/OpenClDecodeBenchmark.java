package org.attn4j.opencl;

import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * A benchmark, not a test: batch decode (default B 8, kvLen 1024, Hq 32, Hkv 8, D 128, bf16,
 * page 16) on the OpenCL backend against the reference backend on the same inputs. Runs of the
 * two alternate, so load from other processes hits both alike; medians are reported.
 * Arguments: {@code [batch [kvLen [rounds [baseline]]]]}; the baseline is {@code reference}
 * (default) or an OpenCL kernel flavour ({@code tiled}, {@code serial}, {@code decode-stream}) to
 * compare the default flavour (or {@code -Dattn4j.opencl.kernel}) with on the same device.
 */
public final class OpenClDecodeBenchmark {
    private OpenClDecodeBenchmark() {}

    /** One backend's buffers and plan for the workload. */
    private record Side(AttentionBackend backend, Tensor q, Tensor o, PagedKvCache cache, BatchAttentionPlan plan,
                        DeviceTimer timer) implements AutoCloseable {
        static Side open(String id, HostTensor kh, HostTensor vh, HostTensor qh, PageTable table, HeadConfig heads) {
            AttentionBackend be = id.equals("reference") || id.equals("opencl") ? Backends.open(id)
                    : AttentionBackend.of(new OpenClBackendProvider().open(new BackendOptions(Map.of("kernel", id))));
            PagedKvCache cache = PagedKvCache.separate(be.upload(kh), be.upload(vh), KvLayout.NHD);
            return new Side(be, be.upload(qh), be.allocate(DType.BF16, qh.shape()), cache,
                    be.planBatchDecode(table, heads, AttentionOptions.DEFAULT, PlanOptions.DEFAULT), be.newTimer());
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
            backend.close();
        }
    }

    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int kvLen = args.length > 1 ? Integer.parseInt(args[1]) : 1024;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 9;
        String baseline = args.length > 3 ? args[3] : "reference";
        int hq = 32;
        int hkv = 8;
        int d = 128;
        int page = 16;
        int pagesPerRequest = (kvLen + page - 1) / page;
        int[][] pages = new int[batch][pagesPerRequest];
        int[] lens = new int[batch];
        for (int b = 0; b < batch; b++) {
            lens[b] = kvLen;
            for (int i = 0; i < pagesPerRequest; i++) {
                pages[b][i] = b * pagesPerRequest + i;
            }
        }
        PageTable table = PageTable.of(page, pages, lens);
        HeadConfig heads = new HeadConfig(hq, hkv, d);
        SplittableRandom rnd = new SplittableRandom(7);
        int numPages = batch * pagesPerRequest;
        try (HostTensor kh = random(rnd, numPages, page, hkv, d);
             HostTensor vh = random(rnd, numPages, page, hkv, d);
             HostTensor qh = random(rnd, batch, hq, d);
             Side ref = Side.open(baseline, kh, vh, qh, table, heads);
             Side ocl = Side.open("opencl", kh, vh, qh, table, heads)) {
            System.out.println("opencl on " + ocl.backend().device() + ": " + ocl.plan().describe());
            System.out.println(baseline + ": " + ref.plan().describe());
            ref.runMillis();
            ocl.runMillis(); // builds the kernels
            double[] refMs = new double[rounds];
            double[] oclMs = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                refMs[r] = ref.runMillis();
                double best = Double.MAX_VALUE;
                for (int i = 0; i < 3; i++) {
                    best = Math.min(best, ocl.runMillis());
                }
                oclMs[r] = best;
            }
            double refMedian = median(refMs);
            double oclMedian = median(oclMs);
            float[] a = ref.output();
            float[] b = ocl.output();
            double diff = 0;
            for (int i = 0; i < a.length; i++) {
                diff = Math.max(diff, Math.abs(a[i] - b[i]));
            }
            double bytes = 2.0 * batch * kvLen * hkv * d * 2;
            System.out.printf("decode B %d kvLen %d Hq %d Hkv %d D %d bf16 page %d, %d rounds%n", batch, kvLen, hq, hkv,
                    d, page, rounds);
            System.out.printf("  %s: median %.3f ms (%s), %.2f GB/s of KV%n", baseline, refMedian, ref.timer().method(),
                    bytes / refMedian / 1e6);
            System.out.printf("  opencl:    median %.3f ms (%s), %.2f GB/s of KV, max |diff| %.3g%n", oclMedian,
                    ocl.timer().method(), bytes / oclMedian / 1e6, diff);
            System.out.printf("  speed-up:  %.1fx%n", refMedian / oclMedian);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static HostTensor random(SplittableRandom rnd, long... shape) {
        HostTensor t = HostTensor.allocate(DType.BF16, shape);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) (rnd.nextDouble() * 2 - 1));
        }
        return t;
    }
}
