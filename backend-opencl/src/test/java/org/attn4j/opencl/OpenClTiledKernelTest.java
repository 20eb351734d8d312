package org.attn4j.opencl;

import static org.attn4j.opencl.KernelTestSupport.random;

import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
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
 * The conformance suite runs the kernel flavour the device picks (serial on CPUs); this keeps
 * the tiled flavour that GPUs run checked against the reference on any OpenCL device, in every
 * shape it is built in (TiledShapeSuite runs whole suites per shape).
 */
class OpenClTiledKernelTest {

    /** Whole-head RoPE at g 2, partial rotary (Phi-2's R 32 of D 80, interleaved R 12 of 32) on two more rows. */
    private static RopeOptions rope(int d, int g, int qoLen) {
        if (d % 2 == 0 && g == 2) {
            return RopeOptions.DEFAULT;
        }
        if (d == 80 && g == 1) {
            return RopeOptions.DEFAULT.withRotaryDim(32);
        }
        if (d == 32 && qoLen == 40) {
            return RopeOptions.DEFAULT.withInterleaved(true).withRotaryDim(12);
        }
        return null;
    }

    @ParameterizedTest(name = "{0} q, {1} kv, D {2}, g {3}, page {4}, {5}, qo {6}, every shape {7}")
    @CsvSource({
        "BF16, BF16,     128, 4, 16, NHD, 1,  false",
        "F16,  FP8_E4M3,  64, 8,  3, HND, 1,  false",
        "F32,  F32,       80, 1,  5, NHD, 9,  false",
        "BF16, FP8_E5M2, 256, 2,  1, HND, 5,  false",
        "F16,  F16,       32, 4,  7, NHD, 40, true",
    })
    void tiledKernelMatchesReference(DType qType, DType kvType, int d, int g, int pageSize, KvLayout layout,
                                     int qoLen, boolean everyShape) {
        KernelTestSupport.assumeOpenClDevice();
        SplittableRandom rnd = new SplittableRandom(d * 31L + g);
        int hkv = 2;
        int hq = hkv * g;
        int[] kvLens = {qoLen + 700, qoLen + 3, qoLen};
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 1);
        int next = 1 + KernelTestSupport.pageCount(pages);
        int numPages = next + 1;
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        int[] qoIndptr = {0, qoLen, 2 * qoLen, 3 * qoLen};
        long[] kvShape = layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv, d}
                : new long[] {numPages, hkv, pageSize, d};
        AttentionOptions options = AttentionOptions.DEFAULT.withCausal(qoLen > 1).withLogitsSoftCap(qoLen == 9 ? 20 : 0)
                .withRope(rope(d, g, qoLen));
        KvScales scales = kvType.isFp8() ? new KvScales(0.5f, 2f) : KvScales.ONE;
        try (HostTensor kh = random(rnd, kvType, kvShape); HostTensor vh = random(rnd, kvType, kvShape);
             HostTensor qh = random(rnd, qType, 3L * qoLen, hq, d);
             AttentionBackend ref = Backends.open("reference")) {
            float[][] out = new float[2][];
            float[][] lse = new float[2][];
            run(ref, kh, vh, qh, table, layout, scales, options, qType, hq, hkv, d, qoLen, qoIndptr, out, lse, 1);
            // The shapes the tiled kernel is built in: the same source, other constants. Each shape
            // and dtype pair is a kernel build (seconds on a CPU runtime), so some cases take the
            // default shape only.
            for (TileConfig.Shape shape : everyShape ? TileConfig.Shape.ALL : TileConfig.Shape.ALL.subList(0, 1)) {
                try (AttentionBackend tiled = AttentionBackend.of(new OpenClBackendProvider().open(
                        new BackendOptions(Map.of("kernel", "tiled", "tiles", shape.toString()))))) {
                    run(tiled, kh, vh, qh, table, layout, scales, options, qType, hq, hkv, d, qoLen, qoIndptr, out, lse,
                            0);
                }
                KernelTestSupport.assertCloseToReference(qType, out, lse);
            }
        }
    }

    private static void run(AttentionBackend be, HostTensor kh, HostTensor vh, HostTensor qh, PageTable table,
                            KvLayout layout, KvScales scales, AttentionOptions options, DType qType, int hq, int hkv,
                            int d, int qoLen, int[] qoIndptr, float[][] out, float[][] lse, int w) {
        try (Tensor k = be.upload(kh); Tensor v = be.upload(vh); Tensor q = be.upload(qh);
             Tensor o = be.allocate(qType, qh.shape()); Tensor l = be.allocate(DType.F32, 3L * qoLen, hq);
             BatchAttentionPlan plan = qoLen == 1
                     ? be.planBatchDecode(table, new HeadConfig(hq, hkv, d), options, new PlanOptions(false, 256))
                     : be.planBatchPrefill(qoIndptr, table, new HeadConfig(hq, hkv, d), options, null,
                             new PlanOptions(false, 256))) {
            plan.run(q, PagedKvCache.separate(k, v, layout, scales), o, l);
            try (HostTensor oh = be.download(o); HostTensor lh = be.download(l)) {
                out[w] = oh.toFloatArray();
                lse[w] = lh.toFloatArray();
            }
        }
    }
}
