package org.attn4j.opencl;

import static org.attn4j.opencl.KernelTestSupport.random;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tensor kernel (attention_mma.cl) against the reference: on NVIDIA devices of compute
 * capability 8.0 and newer as it runs there (Tensor Cores through inline PTX), elsewhere with its
 * Tensor Core instructions emulated (option kernel=tensor-emulated), which checks everything but
 * those instructions: fragment bookkeeping, masks, the online softmax, split rows. Decode rows go
 * through it too (the option turns the streaming decode off).
 */
class OpenClTensorKernelTest {

    /** The option that runs the tensor kernel on this machine's OpenCL device. */
    private static String tensorKernel() {
        OpenClDevice device = OpenClPlatforms.choose(OpenClPlatforms.discover(new java.util.ArrayList<>()), null, null);
        return device.nvidiaTensorCores() ? "tensor" : "tensor-emulated";
    }

    @ParameterizedTest(name = "{0}, D {1}/{2}, g {3}, page {4}, {5}, qo {6}, {7}")
    @CsvSource({
        "BF16, 128, 128, 4, 16, NHD, 9,  causal",
        "F16,   64,  64, 1,  3, HND, 40, window",
        "BF16,   8,   8, 2,  5, NHD, 17, softcap",
        "F16,   96,  96, 8,  1, NHD, 1,  plain",
        "BF16, 120,  40, 2,  7, HND, 33, sinks",
        "F16,   16,  48, 3,  4, NHD, 5,  alibi",
    })
    void tensorKernelMatchesReference(DType type, int dqk, int dvo, int g, int pageSize, KvLayout layout, int qoLen,
                                      String variant) {
        KernelTestSupport.assumeOpenClDevice();
        SplittableRandom rnd = new SplittableRandom(dqk * 31L + g);
        int hkv = 2;
        int hq = hkv * g;
        // A long request that the schedule splits and merges, a short one and one of qoLen keys.
        int[] kvLens = {qoLen + 700, qoLen + 3, qoLen};
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 1);
        int numPages = 2 + KernelTestSupport.pageCount(pages);
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        int[] qoIndptr = {0, qoLen, 2 * qoLen, 3 * qoLen};
        AttentionOptions options = switch (variant) {
            case "causal" -> AttentionOptions.DEFAULT.withCausal(true);
            case "window" -> AttentionOptions.DEFAULT.withCausal(true).withWindowLeft(37);
            case "softcap" -> AttentionOptions.DEFAULT.withCausal(true).withLogitsSoftCap(15);
            case "sinks" -> AttentionOptions.DEFAULT.withCausal(true).withSinks(AttentionSinks.of(sinks(rnd, hq)));
            case "alibi" -> AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.of(sinks(rnd, hq)));
            default -> AttentionOptions.DEFAULT;
        };
        HeadConfig heads = new HeadConfig(hq, hkv, dqk, dvo);
        long[] kShape = shape(layout, numPages, pageSize, hkv, dqk);
        long[] vShape = shape(layout, numPages, pageSize, hkv, dvo);
        try (HostTensor kh = random(rnd, type, kShape); HostTensor vh = random(rnd, type, vShape);
             HostTensor qh = random(rnd, type, 3L * qoLen, hq, dqk);
             AttentionBackend ref = Backends.open("reference");
             AttentionBackend tensor = AttentionBackend.of(new OpenClBackendProvider().open(
                     new BackendOptions(Map.of("kernel", tensorKernel()))))) {
            float[][] out = new float[2][];
            float[][] lse = new float[2][];
            String described = run(ref, kh, vh, qh, table, layout, options, type, heads, qoLen, qoIndptr, out, lse, 1);
            described = run(tensor, kh, vh, qh, table, layout, options, type, heads, qoLen, qoIndptr, out, lse, 0);
            assertTrue(described.contains("Tensor Cores"), "the plan should take the tensor kernel: " + described);
            KernelTestSupport.assertCloseToReference(type, out, lse);
        }
    }

    /**
     * Every build of the kernel compiles here, real or emulated: a plan that cannot build it falls
     * back to the tiled kernel with a warning, so the comparisons above alone could pass without it.
     */
    @ParameterizedTest(name = "{0}, D {1}, {2} items")
    @CsvSource({"BF16, 128, 64", "F16, 64, 32", "BF16, 16, 16", "F16, 80, 64"})
    void theTensorKernelBuilds(DType type, int dmax, int items) {
        KernelTestSupport.assumeOpenClDevice();
        String kernel = tensorKernel();
        TensorTiles tiles = new TensorTiles(dmax, items, TensorTiles.KEYS);
        try (OpenClSession session = (OpenClSession) new OpenClBackendProvider().open(
                new BackendOptions(Map.of("kernel", kernel)))) {
            String defines = tiles.defines(type, kernel.equals("tensor-emulated"));
            session.kernel("attention_mma.cl", "attention", defines);
            session.kernel("attention_mma.cl", "merge_splits_dims", defines);
        }
    }

    @Test
    void runsTheTensorKernelCannotTakeFallBackToTheTiledOne() {
        KernelTestSupport.assumeOpenClDevice();
        // FP8 K/V: the plan is made for the tensor kernel's units; the run falls back on them.
        SplittableRandom rnd = new SplittableRandom(7);
        int pageSize = 16;
        int[] kvLens = {300, 21};
        int qoLen = 21;
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 1);
        int numPages = 2 + KernelTestSupport.pageCount(pages);
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        HeadConfig heads = new HeadConfig(8, 2, 64);
        long[] kvShape = shape(KvLayout.NHD, numPages, pageSize, 2, 64);
        for (DType kvType : List.of(DType.FP8_E4M3, DType.BF16)) {
            DType qType = kvType == DType.BF16 ? DType.F16 : DType.BF16;
            try (HostTensor kh = random(rnd, kvType, kvShape); HostTensor vh = random(rnd, kvType, kvShape);
                 HostTensor qh = random(rnd, qType, 2L * qoLen, 8, 64);
                 AttentionBackend ref = Backends.open("reference");
                 AttentionBackend tensor = AttentionBackend.of(new OpenClBackendProvider().open(
                         new BackendOptions(Map.of("kernel", tensorKernel()))))) {
                float[][] out = new float[2][];
                float[][] lse = new float[2][];
                AttentionOptions options = AttentionOptions.DEFAULT.withCausal(true);
                int[] qoIndptr = {0, qoLen, 2 * qoLen};
                run(ref, kh, vh, qh, table, KvLayout.NHD, options, qType, heads, qoLen, qoIndptr, out, lse, 1);
                run(tensor, kh, vh, qh, table, KvLayout.NHD, options, qType, heads, qoLen, qoIndptr, out, lse, 0);
                KernelTestSupport.assertCloseToReference(qType, out, lse);
            }
        }
    }

    private static float[] sinks(SplittableRandom rnd, int hq) {
        float[] x = new float[hq];
        for (int i = 0; i < hq; i++) {
            x[i] = (float) rnd.nextDouble(-1, 1);
        }
        return x;
    }

    private static long[] shape(KvLayout layout, int numPages, int pageSize, int hkv, int d) {
        return layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv, d} : new long[] {numPages, hkv, pageSize, d};
    }

    /** Runs the problem on {@code be} into out[w] and lse[w]; returns the plan's description. */
    private static String run(AttentionBackend be, HostTensor kh, HostTensor vh, HostTensor qh, PageTable table,
                              KvLayout layout, AttentionOptions options, DType qType, HeadConfig heads, int qoLen,
                              int[] qoIndptr, float[][] out, float[][] lse, int w) {
        int rows = qoIndptr[qoIndptr.length - 1];
        try (Tensor k = be.upload(kh); Tensor v = be.upload(vh); Tensor q = be.upload(qh);
             Tensor o = be.allocate(qType, rows, heads.numQoHeads(), heads.headDimVo());
             Tensor l = be.allocate(DType.F32, rows, heads.numQoHeads());
             BatchAttentionPlan plan = qoLen == 1
                     ? be.planBatchDecode(table, heads, options, new PlanOptions(false, 256))
                     : be.planBatchPrefill(qoIndptr, table, heads, options, null, new PlanOptions(false, 256))) {
            plan.run(q, PagedKvCache.separate(k, v, layout, KvScales.ONE), o, l);
            try (HostTensor oh = be.download(o); HostTensor lh = be.download(l)) {
                out[w] = oh.toFloatArray();
                lse[w] = lh.toFloatArray();
            }
            return plan.describe();
        }
    }
}
