package org.attn4j.opencl;

import static org.attn4j.opencl.KernelTestSupport.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Sinks and ALiBi in each kernel flavour, forced (the conformance suite runs the one the device
 * picks, and its lengths never make the plan split a request's keys): against the reference,
 * with requests split into chunks (the sink then joins in the split merge, once) and whole, rows
 * without keys (an empty request, a mask row of zeros) holding o = 0 and lse = the sink exactly,
 * with the other options of each shape (causal, window, soft cap, mask bits, FP8 scales).
 */
class OpenClSinksAlibiTest {

    @ParameterizedTest(name = "{0}: {1} q, {2} kv, D {3}, g {4}, page {5}, {6}, {7}, {8}, chunk {9}")
    @CsvSource({
        "serial,        BF16, BF16,     128, 4, 16, NHD, sinks, decode,  128",
        "serial,        F16,  FP8_E4M3,  64, 2,  5, HND, both,  prefill, 128",
        "serial,        BF16, BF16,      80, 1,  3, NHD, alibi, masked,  0",
        "serial,        F32,  F32,       64, 2,  4, NHD, both,  short,   0",
        "tiled,         BF16, BF16,     128, 4, 16, NHD, both,  decode,  128",
        "tiled,         F16,  F16,       64, 8,  7, HND, sinks, masked,  128",
        "tiled,         BF16, FP8_E5M2,  32, 2,  1, NHD, alibi, prefill, 0",
        "tiled,         F32,  F32,       48, 3,  5, HND, both,  short,   0",
        "decode-stream, BF16, BF16,     128, 4, 16, NHD, sinks, decode,  128",
        "decode-stream, F16,  FP8_E4M3,  64, 8,  3, HND, both,  masked,  256",
        "decode-stream, BF16, BF16,     256, 2,  1, NHD, alibi, decode,  0",
        "decode-stream, F32,  F32,       64, 1,  4, NHD, both,  short,   0",
    })
    void variantsMatchReference(String kernel, DType qType, DType kvType, int d, int g, int pageSize,
                                KvLayout layout, String variant, String shape, int maxChunk) {
        KernelTestSupport.assumeOpenClDevice();
        SplittableRandom rnd = new SplittableRandom(d * 131L + g * 7L + maxChunk + shape.hashCode());
        boolean stream = kernel.equals("decode-stream");
        int hkv = 2;
        int hq = hkv * g;
        // Decode rows for the streaming decode, whose masked shape keeps one row per request too.
        int[] kvLens = switch (shape) {
            case "decode" -> new int[] {700, 0, 1, 37, 300};
            case "prefill" -> new int[] {700, 45, 9, 300};
            case "masked" -> new int[] {700, 0, 12, 300};
            default -> new int[] {16, 0, 9, 5}; // short: F32 keeps |slope * (j - pq)| < 16 (spec §9)
        };
        int[] qoLens = switch (shape) {
            case "decode" -> new int[] {1, 1, 1, 1, 1};
            case "prefill" -> new int[] {5, 45, 3, 1};
            case "masked" -> stream ? new int[] {1, 1, 1, 1} : new int[] {4, 2, 3, 1};
            default -> stream ? new int[] {1, 1, 1, 1} : new int[] {4, 2, 9, 1};
        };
        int batch = kvLens.length;
        int[] qoIndptr = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            qoIndptr[b + 1] = qoIndptr[b] + qoLens[b];
        }
        int rows = qoIndptr[batch];
        int[][] pages = KernelTestSupport.consecutivePages(pageSize, kvLens, 1);
        int numPages = 2 + KernelTestSupport.pageCount(pages);
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        long[] kvShape = layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv, d}
                : new long[] {numPages, hkv, pageSize, d};

        float[] sinkLogits = new float[hq];
        float[] slopes = new float[hq];
        for (int h = 0; h < hq; h++) {
            sinkLogits[h] = (float) (rnd.nextDouble() * 14 - 6); // some above every logit, some below
            slopes[h] = (float) (rnd.nextDouble() * 0.6 - 0.1);  // negative ones favour distant keys
        }
        AttentionOptions options = switch (shape) {
            case "decode" -> AttentionOptions.DEFAULT.withWindowLeft(g == 4 ? 250 : -1);
            case "prefill" -> AttentionOptions.DEFAULT.withCausal(true).withLogitsSoftCap(30f);
            case "masked" -> AttentionOptions.DEFAULT.withLogitsSoftCap(g == 8 ? 0f : 20f);
            default -> AttentionOptions.DEFAULT;
        };
        if (!variant.equals("alibi")) {
            options = options.withSinks(AttentionSinks.of(sinkLogits));
        }
        if (!variant.equals("sinks")) {
            options = options.withAlibiSlopes(g == 4 || shape.equals("short") ? AlibiSlopes.of(slopes)
                    : AlibiSlopes.standard(hq));
        }
        CustomMask mask = null;
        if (shape.equals("masked")) {
            int bits = 0;
            for (int b = 0; b < batch; b++) {
                bits += qoLens[b] * kvLens[b];
            }
            boolean[] m = new boolean[bits];
            int at = 0;
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < qoLens[b]; i++) {
                    for (int j = 0; j < kvLens[b]; j++) {
                        m[at++] = b != 2 && rnd.nextInt(3) != 0; // request 2: no key allowed
                    }
                }
            }
            mask = CustomMask.fromBooleans(m);
        }
        HeadConfig heads = new HeadConfig(hq, hkv, d);
        PlanOptions planOptions = new PlanOptions(false, maxChunk);
        boolean decode = mask == null && rows == batch;
        KvScales scales = kvType.isFp8() ? new KvScales(0.5f, 2f) : KvScales.ONE;

        float[][] out = new float[2][];
        float[][] lse = new float[2][];
        String described = null;
        try (HostTensor kh = random(rnd, kvType, kvShape); HostTensor vh = random(rnd, kvType, kvShape);
             HostTensor qh = random(rnd, qType, rows, hq, d);
             AttentionBackend forced = AttentionBackend.of(new OpenClBackendProvider().open(
                     new BackendOptions(Map.of("kernel", kernel))));
             AttentionBackend ref = Backends.open("reference")) {
            AttentionBackend[] sides = {forced, ref};
            for (int w = 0; w < 2; w++) {
                AttentionBackend be = sides[w];
                try (Tensor k = be.upload(kh); Tensor v = be.upload(vh); Tensor q = be.upload(qh);
                     Tensor o = be.allocate(qType, qh.shape()); Tensor l = be.allocate(DType.F32, rows, hq);
                     BatchAttentionPlan plan = decode ? be.planBatchDecode(table, heads, options, planOptions)
                             : be.planBatchPrefill(qoIndptr, table, heads, options, mask, planOptions)) {
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
        assertTrue(maxChunk == 0 || described.contains("split"), described);
        KernelTestSupport.assertCloseToReference(qType, out, lse);
        int empty = 0;
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < hq; h++) {
                boolean zero = true;
                for (int t = 0; t < d; t++) {
                    zero &= out[1][(r * hq + h) * d + t] == 0;
                }
                float want = options.sinks() == null ? Float.NEGATIVE_INFINITY : sinkLogits[h];
                if (!zero || Float.compare(lse[1][r * hq + h], want) != 0) {
                    continue;
                }
                empty++;
                for (int t = 0; t < d; t++) {
                    assertEquals(0f, out[0][(r * hq + h) * d + t], 0f, "o of empty row " + r + ", head " + h);
                }
                assertEquals(want, lse[0][r * hq + h], 0f, "lse of empty row " + r + ", head " + h);
            }
        }
        assertTrue(empty > 0 || !(shape.equals("decode") || shape.equals("masked") || shape.equals("short")),
                "the case has rows without keys");
    }
}
