package org.attn4j.opencl;

import static org.attn4j.opencl.KernelTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * FP8 attention with per-head and per-token KV scales in each kernel flavour, forced (the
 * conformance suite runs the one the device picks, serial on CPUs, and its lengths never make
 * the plan split a request's keys): against the reference, with requests split into chunks and
 * whole, GQA, both layouts, page sizes that are not powers of two, and causal, window, soft cap
 * and RoPE. Every scale differs, so a scale read for the wrong page, slot, head or tensor shows;
 * scale-pool slots that no request reaches hold NaN, which must never reach a result (spec §2).
 */
class OpenClKvScalesTest {

    @ParameterizedTest(name = "{0}: {1} q, {2} kv, {3}, D {4}, Hkv {5}, g {6}, page {7}, {8}, {9}, {10}, chunk {11}")
    @CsvSource({
        "serial,        BF16, FP8_E4M3, per_token, 128, 2, 4, 16, NHD, decode,  window,       128",
        "serial,        F16,  FP8_E5M2, per_head,   64, 3, 2,  5, HND, prefill, causal+cap,   0",
        "serial,        F32,  FP8_E4M3, per_token,  64, 2, 2,  3, HND, prefill, causal+rope,  64",
        "tiled,         BF16, FP8_E4M3, per_token, 128, 2, 4,  7, HND, decode,  window+cap,   128",
        "tiled,         F16,  FP8_E5M2, per_token,  64, 3, 8,  5, NHD, prefill, causal+window, 96",
        "tiled,         BF16, FP8_E4M3, per_head,   32, 2, 1,  1, NHD, prefill, causal+cap,   0",
        "tiled,         F32,  FP8_E5M2, per_token,  48, 2, 2,  6, HND, prefill, causal+rope,  0",
        "tiled,         F16,  FP8_E4M3, per_head,  128, 2, 2, 16, HND, decode,  plain,        256",
        "decode-stream, BF16, FP8_E4M3, per_token, 128, 2, 4, 16, NHD, decode,  window,       128",
        "decode-stream, F16,  FP8_E5M2, per_token,  64, 3, 8,  3, HND, decode,  cap,          256",
        "decode-stream, BF16, FP8_E4M3, per_head,  256, 2, 2,  5, NHD, decode,  plain,        0",
        "decode-stream, F32,  FP8_E4M3, per_token,  64, 2, 1,  7, HND, decode,  window+cap,   0",
        "decode-stream, BF16, FP8_E5M2, per_token, 128, 2, 4,  6, NHD, mixed,   causal+cap,   128",
        "decode-stream, F16,  FP8_E4M3, per_head,   64, 3, 2,  5, HND, mixed,   window,       0",
    })
    void scaledFp8MatchesReference(String kernel, DType qType, DType kvType, String mode, int d, int hkv, int g,
                                   int pageSize, KvLayout layout, String shape, String opts, int maxChunk) {
        KernelTestSupport.assumeOpenClDevice();
        SplittableRandom rnd = new SplittableRandom(d * 131L + hkv * 17L + g * 7L + pageSize + maxChunk
                + shape.hashCode() + opts.hashCode());
        int hq = hkv * g;
        // "mixed": one-row requests beside longer ones, so a decode-stream plan runs both kinds of part.
        int[] kvLens = switch (shape) {
            case "decode" -> new int[] {700, 0, 1, 37, 300};
            case "prefill" -> new int[] {700, 45, 9, 300};
            default -> new int[] {700, 5, 45, 1, 300};
        };
        int[] qoLens = switch (shape) {
            case "decode" -> new int[] {1, 1, 1, 1, 1};
            case "prefill" -> new int[] {5, 45, 3, 1};
            default -> new int[] {1, 5, 1, 1, 3};
        };
        int batch = kvLens.length;
        int[] qoIndptr = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            qoIndptr[b + 1] = qoIndptr[b] + qoLens[b];
        }
        int rows = qoIndptr[batch];
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 1);
        int numPages = 2 + KernelTestSupport.pageCount(pages); // page 0 and the last one unused
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        long[] kvShape = layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv, d}
                : new long[] {numPages, hkv, pageSize, d};
        boolean perToken = mode.equals("per_token");
        long[] scaleShape = !perToken ? new long[] {hkv}
                : layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv} : new long[] {numPages, hkv, pageSize};

        AttentionOptions options = AttentionOptions.DEFAULT.withCausal(opts.contains("causal"))
                .withWindowLeft(opts.contains("window") ? 60 : -1)
                .withLogitsSoftCap(opts.contains("cap") ? 30f : 0f)
                .withRope(opts.contains("rope") ? RopeOptions.DEFAULT : null);
        HeadConfig heads = new HeadConfig(hq, hkv, d);
        PlanOptions planOptions = new PlanOptions(false, maxChunk);
        boolean decode = rows == batch;

        float[][] out = new float[2][];
        float[][] lse = new float[2][];
        String described = null;
        try (HostTensor kh = random(rnd, kvType, kvShape); HostTensor vh = random(rnd, kvType, kvShape);
             HostTensor qh = random(rnd, qType, rows, hq, d);
             HostTensor ksh = scales(rnd, scaleShape, perToken, layout, pages, kvLens, pageSize, hkv);
             HostTensor vsh = scales(rnd, scaleShape, perToken, layout, pages, kvLens, pageSize, hkv);
             AttentionBackend forced = AttentionBackend.of(new OpenClBackendProvider().open(
                     new BackendOptions(Map.of("kernel", kernel))));
             AttentionBackend ref = Backends.open("reference")) {
            AttentionBackend[] sides = {forced, ref};
            for (int w = 0; w < 2; w++) {
                AttentionBackend be = sides[w];
                try (Tensor k = be.upload(kh); Tensor v = be.upload(vh); Tensor q = be.upload(qh);
                     Tensor ks = be.upload(ksh); Tensor vs = be.upload(vsh);
                     Tensor o = be.allocate(qType, qh.shape()); Tensor l = be.allocate(DType.F32, rows, hq);
                     BatchAttentionPlan plan = decode ? be.planBatchDecode(table, heads, options, planOptions)
                             : be.planBatchPrefill(qoIndptr, table, heads, options, null, planOptions)) {
                    KvScales scales = perToken ? KvScales.perToken(ks, vs) : KvScales.perHead(ks, vs);
                    plan.run(q, PagedKvCache.separate(k, v, layout, scales), o, l);
                    if (w == 0) {
                        described = plan.describe();
                    }
                    try (HostTensor oh = be.download(o); HostTensor lh = be.download(l)) {
                        out[w] = oh.toFloatArray();
                        lse[w] = lh.toFloatArray();
                    }
                }
            }
        }
        assertTrue(described.contains(switch (kernel) {
            case "serial" -> "per work-item";
            case "tiled" -> "keys per tile";
            default -> "streaming decode";
        }), described);
        assertTrue(!kernel.equals("decode-stream") || !shape.equals("mixed") || described.contains("keys per tile")
                || described.contains("per work-item"), described);
        assertTrue(maxChunk == 0 || described.contains("split"), described);
        KernelTestSupport.assertCloseToReference(qType, out, lse);
    }

    /**
     * Scales in [1/16, 4), each drawn on its own: per head {@code [Hkv]}; per token a pool where
     * only the slots the requests hold get one and every other slot holds NaN.
     */
    private static HostTensor scales(SplittableRandom rnd, long[] shape, boolean perToken, KvLayout layout,
                                     int[][] pages, int[] kvLens, int pageSize, int hkv) {
        HostTensor t = HostTensor.allocate(DType.F32, shape);
        if (!perToken) {
            for (int h = 0; h < hkv; h++) {
                t.setFloat(h, draw(rnd));
            }
            return t;
        }
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, Float.NaN);
        }
        for (int b = 0; b < pages.length; b++) {
            for (int p = 0; p < kvLens[b]; p++) {
                int page = pages[b][p / pageSize];
                int slot = p % pageSize;
                for (int h = 0; h < hkv; h++) {
                    long at = layout == KvLayout.NHD ? ((long) page * pageSize + slot) * hkv + h
                            : ((long) page * hkv + h) * pageSize + slot;
                    t.setFloat(at, draw(rnd));
                }
            }
        }
        return t;
    }

    private static float draw(SplittableRandom rnd) {
        return (float) Math.pow(2, rnd.nextDouble() * 6 - 4);
    }
}
