package org.attn4j.cli.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.MlaAttentionPlan;
import org.attn4j.cli.CliRunner;
import org.attn4j.cli.json.Json;
import org.attn4j.cli.npy.Npy;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Multi-head latent attention (spec §13) through {@code attn4j run} on the reference backend:
 * {@code mla_decode} and {@code mla_prefill} against the same calls made through the API, and
 * bad specs refused by key.
 */
class RunMlaTest {
    /** H 4, dCkv 16, dKpe 8, pages of 4 tokens. */
    private static final int H = 4;
    private static final int CKV = 16;
    private static final int KPE = 8;
    private static final int PAGE = 4;
    private static final float SM_SCALE = 0.25f;
    /** Two requests: pages [3, 0] with 6 tokens, pages [1, 4] with 5; page 2 belongs to nobody. */
    private static final int[] KV_INDPTR = {0, 2, 4};
    private static final int[] KV_INDICES = {3, 0, 1, 4};
    private static final int[] LAST = {2, 1};
    private static final String TABLE = "\"kv_indptr\": [0, 2, 4], \"kv_indices\": [3, 0, 1, 4], "
            + "\"kv_last_page_len\": [2, 1]";

    @TempDir
    Path dir;

    private AttentionBackend ref;

    @BeforeEach
    void open() {
        ref = Backends.open("reference");
    }

    @AfterEach
    void close() {
        ref.close();
    }

    private static HostTensor random(DType dtype, long seed, long... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        HostTensor t = HostTensor.allocate(dtype, shape);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) (rnd.nextDouble() * 2 - 1));
        }
        return t;
    }

    private void save(String name, HostTensor t) throws IOException {
        try (t) {
            Npy.write(dir.resolve(name), t);
        }
    }

    private Path run(String name, String spec) throws IOException {
        Files.writeString(dir.resolve(name + ".json"), spec);
        Path out = dir.resolve(name);
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve(name + ".json").toString(), "--out", out.toString(),
                "--backend", "reference");
        assertEquals(0, r.status(), r.out() + r.err());
        return out;
    }

    private String fails(String name, String spec) throws IOException {
        Files.writeString(dir.resolve(name + ".json"), spec);
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve(name + ".json").toString(), "--out",
                dir.resolve(name).toString(), "--backend", "reference");
        assertEquals(1, r.status(), r.out() + r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(Files.notExists(dir.resolve(name)), "an output directory was left behind");
        return r.err();
    }

    private static void assertSameBits(HostTensor expected, HostTensor actual) {
        try (expected; actual) {
            assertArrayEquals(expected.shape(), actual.shape());
            for (long i = 0; i < expected.elementCount(); i++) {
                assertEquals(expected.getBits(i), actual.getBits(i), "element " + i);
            }
        }
    }

    /** Elements {@code [from, from + width)} of the last dim of a rank-3 tensor, as a new contiguous tensor. */
    private static HostTensor lastDimSlice(HostTensor t, int from, int width) {
        long rows = t.dim(0) * t.dim(1);
        long d = t.dim(2);
        HostTensor out = HostTensor.allocate(t.dtype(), t.dim(0), t.dim(1), width);
        for (long r = 0; r < rows; r++) {
            for (int e = 0; e < width; e++) {
                out.setBits(r * width + e, t.getBits(r * d + from + e));
            }
        }
        return out;
    }

    /** The cache files ckv.npy [5, 4, 16] and kpe.npy [5, 4, 8] in {@code dtype}, page 2 full of NaN. */
    private void writeCache(DType dtype) throws IOException {
        try (HostTensor ckv = random(dtype, 2, 5, PAGE, CKV); HostTensor kpe = random(dtype, 3, 5, PAGE, KPE)) {
            if (dtype.byteSize() > 1) {
                for (long i = 2L * PAGE * CKV; i < 3L * PAGE * CKV; i++) {
                    ckv.setFloat(i, Float.NaN); // nobody's page: it must not be read
                }
            }
            Npy.write(dir.resolve("ckv.npy"), ckv);
            Npy.write(dir.resolve("kpe.npy"), kpe);
        }
    }

    /** The API's o and lse for the call, on the reference. */
    private HostTensor[] api(HostTensor qNope, HostTensor qPe, DType kvDtype, float ckvScale, float kpeScale,
                             int[] qoIndptr, boolean causal) throws IOException {
        long rows = qNope.dim(0);
        PageTable table = new PageTable(KV_INDPTR, KV_INDICES, LAST, PAGE);
        MlaHeadConfig heads = new MlaHeadConfig(H, CKV, KPE);
        try (HostTensor hc = Npy.read(dir.resolve("ckv.npy"), kvDtype);
             HostTensor hp = Npy.read(dir.resolve("kpe.npy"), kvDtype);
             Tensor n = ref.upload(qNope); Tensor p = ref.upload(qPe); Tensor c = ref.upload(hc);
             Tensor k = ref.upload(hp); Tensor o = ref.allocate(qNope.dtype(), rows, H, CKV);
             Tensor lse = ref.allocate(DType.F32, rows, H);
             MlaAttentionPlan plan = qoIndptr == null ? ref.planMlaDecode(table, heads, SM_SCALE, PlanOptions.DEFAULT)
                     : ref.planMlaPrefill(qoIndptr, table, heads, causal, SM_SCALE, PlanOptions.DEFAULT)) {
            plan.run(n, p, PagedMlaCache.of(c, k, ckvScale, kpeScale), o, lse);
            return new HostTensor[] {ref.download(o), ref.download(lse)};
        }
    }

    @Test
    void mlaDecodeMatchesTheApiBitForBit() throws IOException {
        writeCache(DType.BF16);
        try (HostTensor qNope = random(DType.BF16, 4, 2, H, CKV); HostTensor qPe = random(DType.BF16, 5, 2, H, KPE)) {
            Npy.write(dir.resolve("q_nope.npy"), qNope);
            Npy.write(dir.resolve("q_pe.npy"), qPe);
            Path out = run("decode", "{\"op\": \"mla_decode\", \"q_nope\": \"q_nope.npy\", \"q_pe\": \"q_pe.npy\", "
                    + "\"q_dtype\": \"bf16\", \"ckv\": \"ckv.npy\", \"kpe\": \"kpe.npy\", \"kv_dtype\": \"bf16\", "
                    + TABLE + ", \"sm_scale\": 0.25}");
            HostTensor[] expected = api(qNope, qPe, DType.BF16, 1, 1, null, false);
            assertSameBits(expected[0], Npy.read(out.resolve("o.npy"), DType.BF16));
            assertSameBits(expected[1], Npy.read(out.resolve("lse.npy"), DType.F32));
            Map<?, ?> result = (Map<?, ?>) Json.parse(Files.readString(out.resolve("result.json")));
            assertEquals("mla_decode", result.get("op"));
            Map<?, ?> outputs = (Map<?, ?>) result.get("outputs");
            assertEquals(Map.of("file", "o.npy", "dtype", "bf16", "npy_descr", "<u2", "shape",
                    List.of(2L, (long) H, (long) CKV)), outputs.get("o"));
            assertEquals(Map.of("file", "lse.npy", "dtype", "f32", "npy_descr", "<f4", "shape", List.of(2L, (long) H)),
                    outputs.get("lse"));
            assertEquals(List.of(2L, (long) H, (long) CKV), result.get("o_shape"));
            assertTrue(result.containsKey("schedule"), result.toString());
        }
    }

    @Test
    void causalPrefillFromViewsOfOneQueryOverAnFp8CacheMatchesTheApi() throws IOException {
        // q as DeepSeek's projection holds it: one [rows, H, dCkv + dKpe] tensor, q_nope and q_pe its two slices.
        int rows = 5;
        int width = CKV + KPE;
        writeCache(DType.FP8_E4M3);
        try (HostTensor q = random(DType.F16, 6, rows, H, width); HostTensor qNope = lastDimSlice(q, 0, CKV);
             HostTensor qPe = lastDimSlice(q, CKV, KPE)) {
            Npy.write(dir.resolve("q.npy"), q);
            String nope = "{\"file\": \"q.npy\", \"shape\": [" + rows + ", " + H + ", " + CKV + "], \"strides\": ["
                    + H * width + ", " + width + ", 1]}";
            String pe = "{\"file\": \"q.npy\", \"offset\": " + CKV + ", \"shape\": [" + rows + ", " + H + ", " + KPE
                    + "], \"strides\": [" + H * width + ", " + width + ", 1]}";
            Path out = run("prefill", "{\"op\": \"mla_prefill\", \"q_nope\": " + nope + ", \"q_pe\": " + pe + ", "
                    + "\"ckv\": \"ckv.npy\", \"kpe\": \"kpe.npy\", \"kv_dtype\": \"fp8_e4m3\", \"ckv_scale\": 0.5, "
                    + "\"kpe_scale\": 2, \"qo_indptr\": [0, 3, 5], " + TABLE + ", \"causal\": true, "
                    + "\"sm_scale\": 0.25, \"plan\": {\"deterministic\": true}}");
            HostTensor[] expected = api(qNope, qPe, DType.FP8_E4M3, 0.5f, 2f, new int[] {0, 3, 5}, true);
            assertSameBits(expected[0], Npy.read(out.resolve("o.npy"), DType.F16));
            assertSameBits(expected[1], Npy.read(out.resolve("lse.npy"), DType.F32));
            Map<?, ?> result = (Map<?, ?>) Json.parse(Files.readString(out.resolve("result.json")));
            assertEquals(Map.of("deterministic", true, "max_split_chunk", 0L), result.get("plan"));
            // without causal each row sees all its keys: another answer
            Path all = run("prefill-all", "{\"op\": \"mla_prefill\", \"q_nope\": " + nope + ", \"q_pe\": " + pe
                    + ", \"ckv\": \"ckv.npy\", \"kpe\": \"kpe.npy\", \"kv_dtype\": \"fp8_e4m3\", \"ckv_scale\": 0.5, "
                    + "\"kpe_scale\": 2, \"qo_indptr\": [0, 3, 5], " + TABLE + ", \"sm_scale\": 0.25, "
                    + "\"return_lse\": false}");
            assertTrue(Files.notExists(all.resolve("lse.npy")));
            HostTensor[] full = api(qNope, qPe, DType.FP8_E4M3, 0.5f, 2f, new int[] {0, 3, 5}, false);
            full[1].close();
            assertSameBits(full[0], Npy.read(all.resolve("o.npy"), DType.F16));
        }
    }

    @Test
    void badMlaSpecsAreRefusedByKey() throws IOException {
        writeCache(DType.F32);
        save("q_nope.npy", random(DType.F32, 7, 2, H, CKV));
        save("q_pe.npy", random(DType.F32, 8, 2, H, KPE));
        save("q_pe3.npy", random(DType.F32, 9, 2, 3, KPE));
        save("kpe3.npy", random(DType.F32, 10, 3, PAGE, KPE));
        String call = "{\"op\": \"mla_decode\", \"q_nope\": \"q_nope.npy\", \"ckv\": \"ckv.npy\", " + TABLE + ", ";

        String scale = fails("no-scale", call + "\"q_pe\": \"q_pe.npy\", \"kpe\": \"kpe.npy\"}");
        assertTrue(scale.contains("missing \"sm_scale\": MLA has no default scale; give 1/sqrt of the model's q/k "
                + "head dim before absorption (DeepSeek-V3: 1/sqrt(128 + 64)"), scale);
        String negative = fails("negative", call + "\"q_pe\": \"q_pe.npy\", \"kpe\": \"kpe.npy\", \"sm_scale\": -1}");
        assertTrue(negative.contains("\"sm_scale\": expected a finite number > 0, actual -1"), negative);
        String ckvScale = fails("ckv-scale", call + "\"q_pe\": \"q_pe.npy\", \"kpe\": \"kpe.npy\", "
                + "\"sm_scale\": 1, \"ckv_scale\": 0}");
        assertTrue(ckvScale.contains("\"ckv_scale\": expected a finite number > 0, actual 0"), ckvScale);
        String causal = fails("causal", call + "\"q_pe\": \"q_pe.npy\", \"kpe\": \"kpe.npy\", \"sm_scale\": 1, "
                + "\"causal\": true}");
        assertTrue(causal.contains("unknown key \"causal\" here; known keys: "), causal);
        String heads = fails("heads", call + "\"q_pe\": \"q_pe3.npy\", \"kpe\": \"kpe.npy\", \"sm_scale\": 1}");
        assertTrue(heads.contains("qPe.shape: expected [2, 4, 8]"), heads);
        String pages = fails("pages", call + "\"q_pe\": \"q_pe.npy\", \"kpe\": \"kpe3.npy\", \"sm_scale\": 1}");
        assertTrue(pages.contains("kpe3.npy: kpe must be [pages, pageSize, dKpe] with ckv's pages and page size 5, 4, "
                + "found [3, 4, 8]"), pages);
        String missing = fails("missing", call + "\"q_pe\": \"q_pe.npy\", \"sm_scale\": 1}");
        assertTrue(missing.contains("missing \"kpe\""), missing);
        String rows = fails("rows", "{\"op\": \"mla_prefill\", \"q_nope\": \"q_nope.npy\", \"q_pe\": \"q_pe.npy\", "
                + "\"ckv\": \"ckv.npy\", \"kpe\": \"kpe.npy\", " + TABLE + ", \"sm_scale\": 1, "
                + "\"qo_indptr\": [0, 1, 3]}");
        assertTrue(rows.contains("qNope.shape: expected [3, 4, 16]"), rows);
    }
}
