package org.attn4j.opencl;

import static org.attn4j.opencl.KernelTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The streaming decode that GPUs run by default, forced on whatever OpenCL device is present
 * and compared with the reference: group sizes that fill, split and under-fill a work-group's
 * query heads, head dims with idle lanes, every KV format, window, soft cap, mask bits, empty
 * requests, and requests split into chunks (a small {@code maxSplitChunk}) or as the plan
 * chooses for the device; and a batch mixing decode and prefill rows, which the plan divides
 * between the streaming and the tiled kernel.
 */
class OpenClDecodeStreamKernelTest {

    @ParameterizedTest(name = "{0} q, {1} kv, D {2}, g {3}, page {4}, {5}, {6}, chunk {7}")
    @CsvSource({
        "BF16, BF16,     128,  4, 16, NHD, plain,   256",
        "BF16, BF16,     128,  4, 16, NHD, plain,   0",
        "F16,  FP8_E4M3,  64,  8,  3, HND, window,  256",
        "F32,  F32,       80,  1,  5, NHD, softcap, 128",
        "BF16, FP8_E5M2, 256,  2,  1, HND, mask,    256",
        "F16,  F16,       32, 16,  7, NHD, window,  0",
        "F16,  BF16,      48,  3, 17, HND, mask,    96",
    })
    void streamingDecodeMatchesReference(DType qType, DType kvType, int d, int g, int pageSize, KvLayout layout,
                                         String option, int maxChunk) {
        KernelTestSupport.assumeOpenClDevice();
        SplittableRandom rnd = new SplittableRandom(d * 31L + g + maxChunk);
        int hkv = 2;
        int hq = hkv * g;
        int[] kvLens = {900, 0, 1, pageSize + 1, 333};
        int batch = kvLens.length;
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 1);
        int next = 1 + KernelTestSupport.pageCount(pages);
        int numPages = next + 1;
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        int[] qoIndptr = new int[batch + 1];
        for (int b = 0; b <= batch; b++) {
            qoIndptr[b] = b;
        }
        long[] kvShape = layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv, d}
                : new long[] {numPages, hkv, pageSize, d};
        AttentionOptions options = switch (option) {
            case "window" -> AttentionOptions.DEFAULT.withWindowLeft(100);
            case "softcap" -> AttentionOptions.DEFAULT.withLogitsSoftCap(5f);
            default -> AttentionOptions.DEFAULT;
        };
        CustomMask mask = null;
        if (option.equals("mask")) {
            int bits = 0;
            for (int len : kvLens) {
                bits += len;
            }
            boolean[] m = new boolean[bits];
            for (int i = 0; i < bits; i++) {
                m[i] = rnd.nextInt(3) != 0;
            }
            mask = CustomMask.fromBooleans(m);
        }
        KvScales scales = kvType.isFp8() ? new KvScales(0.5f, 2f) : KvScales.ONE;
        Problem problem = new Problem(table, qoIndptr, new HeadConfig(hq, hkv, d), options, mask,
                new PlanOptions(false, maxChunk), layout, scales);
        try (HostTensor kh = random(rnd, kvType, kvShape); HostTensor vh = random(rnd, kvType, kvShape);
             HostTensor qh = random(rnd, qType, batch, hq, d)) {
            // Loads issued in the step they are used, a step ahead, and through the local-memory
            // ring (16-bit K/V; the others a step ahead).
            for (String prefetch : new String[] {"off", "on", "ring"}) {
                String plan = assertMatchesReference(problem, qh, kh, vh, Map.of("streamPrefetch", prefetch));
                assertTrue(plan.contains("streaming decode"), plan);
                assertEquals(!prefetch.equals("off"), plan.contains("a step ahead"), plan);
                assertEquals(prefetch.equals("ring"), plan.contains("ring of"), plan);
                assertTrue(maxChunk == 0 || plan.contains("split"), plan);
            }
        }
    }

    /** Decode rows among prefill rows: the streaming decode takes the former, the tiled kernel the rest. */
    @ParameterizedTest(name = "deterministic {0}")
    @CsvSource({"false", "true"})
    void mixedBatchSplitsBetweenKernels(boolean deterministic) {
        KernelTestSupport.assumeOpenClDevice();
        SplittableRandom rnd = new SplittableRandom(11);
        int pageSize = 16;
        int d = 64;
        int[] kvLens = {1200, 40, 0, 7, 300};
        int[] qoIndptr = {0, 1, 9, 9, 10, 13};
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 0);
        int next = KernelTestSupport.pageCount(pages);
        Problem problem = new Problem(PageTable.of(pageSize, pages, kvLens), qoIndptr, new HeadConfig(8, 2, d),
                AttentionOptions.DEFAULT.withCausal(true), null, new PlanOptions(deterministic, 256), KvLayout.NHD,
                KvScales.ONE);
        try (HostTensor kh = random(rnd, DType.BF16, next, pageSize, 2, d);
             HostTensor vh = random(rnd, DType.BF16, next, pageSize, 2, d);
             HostTensor qh = random(rnd, DType.BF16, 13, 8, d)) {
            String plan = assertMatchesReference(problem, qh, kh, vh, Map.of());
            assertTrue(plan.contains("streaming decode") && plan.contains("keys per tile"), plan);
        }
    }

    /** The tuning options a device measurement may set: keys per step, work-group size and loads. */
    @ParameterizedTest(name = "{0} keys per step, {1} work-items, D {2}, g {3}")
    @CsvSource({"1, 32, 128, 4", "8, 256, 64, 2", "3, 64, 256, 8", "16, 512, 32, 1"})
    void tuningOptionsKeepResults(int keys, int group, int d, int g) {
        KernelTestSupport.assumeOpenClDevice();
        SplittableRandom rnd = new SplittableRandom(keys * 7L + group);
        String loads = switch (keys) {
            case 1 -> "on";
            case 8 -> "off";
            default -> "ring";
        };
        int pageSize = 16;
        int[] kvLens = {1000, 1, 77};
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 0);
        int next = KernelTestSupport.pageCount(pages);
        Problem problem = new Problem(PageTable.of(pageSize, pages, kvLens), new int[] {0, 1, 2, 3},
                new HeadConfig(2 * g, 2, d), AttentionOptions.DEFAULT, null, new PlanOptions(false, 320), KvLayout.NHD,
                KvScales.ONE);
        try (HostTensor kh = random(rnd, DType.BF16, next, pageSize, 2, d);
             HostTensor vh = random(rnd, DType.BF16, next, pageSize, 2, d);
             HostTensor qh = random(rnd, DType.BF16, 3, 2 * g, d)) {
            String plan = assertMatchesReference(problem, qh, kh, vh, Map.of("streamKeys", Integer.toString(keys),
                    "streamGroup", Integer.toString(group), "streamPrefetch", loads));
            assertTrue(plan.contains(keys + " keys per step"), plan);
            // 16 keys a step in 512 work-items leave no room for a ring of two steps.
            assertEquals(loads.equals("ring") && keys < 16, plan.contains("ring of"), plan);
        }
    }

    @org.junit.jupiter.api.Test
    void badTuningOptionsAreRejectedWithTheirName() {
        KernelTestSupport.assumeOpenClDevice();
        for (Map<String, String> bad : java.util.List.of(Map.of("streamKeys", "17"), Map.of("streamGroup", "100"),
                Map.of("streamKeys", "many"), Map.of("streamPrefetch", "sometimes"))) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new OpenClBackendProvider().open(new BackendOptions(bad)).close());
            String name = bad.keySet().iterator().next();
            assertTrue(e.getMessage().contains(name), e.getMessage());
        }
    }

    /** What both sides plan and run. */
    private record Problem(PageTable table, int[] qoIndptr, HeadConfig heads, AttentionOptions options,
                           CustomMask mask, PlanOptions planOptions, KvLayout layout, KvScales scales) {
        BatchAttentionPlan plan(AttentionBackend be) {
            boolean decode = mask == null && qoIndptr[qoIndptr.length - 1] == qoIndptr.length - 1;
            return decode ? be.planBatchDecode(table, heads, options, planOptions)
                    : be.planBatchPrefill(qoIndptr, table, heads, options, mask, planOptions);
        }
    }

    /** Runs the problem with the streaming decode forced and on the reference; returns the plan's description. */
    private static String assertMatchesReference(Problem problem, HostTensor qh, HostTensor kh, HostTensor vh,
                                                 Map<String, String> tuning) {
        DType qType = qh.dtype();
        long rows = qh.dim(0);
        int hq = problem.heads().numQoHeads();
        String described = null;
        float[][] out = new float[2][];
        float[][] lse = new float[2][];
        Map<String, String> settings = new java.util.HashMap<>(tuning);
        settings.put("kernel", "decode-stream");
        try (AttentionBackend stream = AttentionBackend.of(new OpenClBackendProvider().open(
                     new BackendOptions(settings)));
             AttentionBackend ref = Backends.open("reference")) {
            AttentionBackend[] sides = {stream, ref};
            for (int w = 0; w < 2; w++) {
                AttentionBackend be = sides[w];
                try (Tensor k = be.upload(kh); Tensor v = be.upload(vh); Tensor q = be.upload(qh);
                     Tensor o = be.allocate(qType, qh.shape()); Tensor l = be.allocate(DType.F32, rows, hq);
                     BatchAttentionPlan plan = problem.plan(be)) {
                    plan.run(q, PagedKvCache.separate(k, v, problem.layout(), problem.scales()), o, l);
                    if (w == 0) {
                        described = plan.describe(); // planned by the run, for its dtypes
                    }
                    try (HostTensor oh = be.download(o); HostTensor lh = be.download(l)) {
                        out[w] = oh.toFloatArray();
                        lse[w] = lh.toFloatArray();
                    }
                }
            }
        }
        KernelTestSupport.assertCloseToReference(qType, out, lse);
        return described;
    }
}
