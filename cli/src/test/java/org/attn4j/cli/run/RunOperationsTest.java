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
import org.attn4j.BatchAttentionPlan;
import org.attn4j.cli.CliRunner;
import org.attn4j.cli.json.Json;
import org.attn4j.cli.npy.Npy;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.ContiguousKv;
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
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every public operation through {@code attn4j run} on the reference backend: merges and RoPE
 * against hand-computed values, the rest against the same call made through the API.
 */
class RunOperationsTest {
    private static final float LN3 = (float) Math.log(3);
    private static final float LN4 = (float) Math.log(4);

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

    private HostTensor load(String name, DType dtype) throws IOException {
        return Npy.read(dir.resolve(name), dtype);
    }

    /** Runs the spec on the reference; returns the output directory. */
    private Path run(String name, String spec) throws IOException {
        Files.writeString(dir.resolve(name + ".json"), spec);
        Path out = dir.resolve(name);
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve(name + ".json").toString(), "--out", out.toString(),
                "--backend", "reference");
        assertEquals(0, r.status(), r.out() + r.err());
        return out;
    }

    private static Map<?, ?> result(Path out) throws IOException {
        return (Map<?, ?>) Json.parse(Files.readString(out.resolve("result.json")));
    }

    private static void assertFloats(float[] expected, HostTensor actual, double tol) {
        try (actual) {
            assertEquals(expected.length, actual.elementCount());
            for (int i = 0; i < expected.length; i++) {
                float a = actual.getFloat(i);
                if (Float.isInfinite(expected[i])) {
                    assertEquals(expected[i], a, "element " + i);
                } else {
                    assertEquals(expected[i], a, tol, "element " + i);
                }
            }
        }
    }

    private static void assertSameBits(HostTensor expected, HostTensor actual) {
        try (expected; actual) {
            assertArrayEquals(expected.shape(), actual.shape());
            for (long i = 0; i < expected.elementCount(); i++) {
                assertEquals(expected.getBits(i), actual.getBits(i), "element " + i);
            }
        }
    }

    private static void assertClose(HostTensor expected, HostTensor actual, double tol) {
        try (expected; actual) {
            assertArrayEquals(expected.shape(), actual.shape());
            for (long i = 0; i < expected.elementCount(); i++) {
                float e = expected.getFloat(i);
                float a = actual.getFloat(i);
                if (Float.isInfinite(e)) {
                    assertEquals(e, a, "element " + i);
                } else {
                    assertEquals(e, a, tol + tol * Math.abs(e), "element " + i);
                }
            }
        }
    }

    // ------------------------------------------------------------------ merges

    @Test
    void mergeStateMatchesHandComputedValues() throws IOException {
        // row 0: (o [1, 2], lse 0) with (o [3, 6], lse ln 3) -> o [2.5, 5], lse ln 4; row 1: two empty states
        save("oa.npy", HostTensor.of(DType.F32, new float[] {1, 2, 9, 9}, 2, 1, 2));
        save("sa.npy", HostTensor.of(DType.F32, new float[] {0, Float.NEGATIVE_INFINITY}, 2, 1));
        save("ob.npy", HostTensor.of(DType.F32, new float[] {3, 6, 7, 7}, 2, 1, 2));
        save("sb.npy", HostTensor.of(DType.F32, new float[] {LN3, Float.NEGATIVE_INFINITY}, 2, 1));
        Path out = run("merge", """
                {"op": "merge_state", "o_a": "oa.npy", "lse_a": "sa.npy", "o_b": "ob.npy", "lse_b": "sb.npy"}""");
        assertFloats(new float[] {2.5f, 5f, 0, 0}, Npy.read(out.resolve("o.npy"), DType.F32), 1e-6);
        assertFloats(new float[] {LN4, Float.NEGATIVE_INFINITY}, Npy.read(out.resolve("lse.npy"), DType.F32), 1e-6);
        assertEquals(List.of(2L, 1L, 2L), ((Map<?, ?>) ((Map<?, ?>) result(out).get("outputs")).get("o")).get("shape"));
    }

    @Test
    void mergeStateInPlaceLeavesRowsOutsideTheMaskAlone() throws IOException {
        save("o.npy", HostTensor.of(DType.F32, new float[] {1, 2, 5, 5}, 2, 1, 2));
        save("s.npy", HostTensor.of(DType.F32, new float[] {0, 0}, 2, 1));
        save("oo.npy", HostTensor.of(DType.F32, new float[] {3, 6, 7, 7}, 2, 1, 2));
        save("so.npy", HostTensor.of(DType.F32, new float[] {LN3, 0}, 2, 1));
        Path out = run("inplace", """
                {"op": "merge_state_in_place", "o": "o.npy", "lse": "s.npy", "o_other": "oo.npy",
                 "lse_other": "so.npy", "row_mask": [true, false]}""");
        assertFloats(new float[] {2.5f, 5f, 5, 5}, Npy.read(out.resolve("o.npy"), DType.F32), 1e-6);
        assertFloats(new float[] {LN4, 0}, Npy.read(out.resolve("lse.npy"), DType.F32), 1e-6);
        // without a mask every row merges
        Path all = run("inplace-all", """
                {"op": "merge_state_in_place", "o": "o.npy", "lse": "s.npy", "o_other": "oo.npy",
                 "lse_other": "so.npy"}""");
        assertFloats(new float[] {2.5f, 5f, 6, 6}, Npy.read(all.resolve("o.npy"), DType.F32), 1e-6);
    }

    @Test
    void mergeStatesIntoCallerProvidedOutputs() throws IOException {
        // one row, n = 3: [1, 2] at lse 0, [3, 6] at ln 3, and an empty state
        save("v.npy", HostTensor.of(DType.F32, new float[] {1, 2, 3, 6, 100, 100}, 1, 3, 1, 2));
        save("s.npy", HostTensor.of(DType.F32, new float[] {0, LN3, Float.NEGATIVE_INFINITY}, 1, 3, 1));
        save("o0.npy", HostTensor.of(DType.F32, new float[] {Float.NaN, Float.NaN}, 1, 1, 2));
        save("s0.npy", HostTensor.of(DType.F32, new float[] {Float.NaN}, 1, 1));
        Path out = run("states", """
                {"op": "merge_states", "o": "v.npy", "lse": "s.npy", "o_init": "o0.npy", "lse_init": "s0.npy"}""");
        assertFloats(new float[] {2.5f, 5f}, Npy.read(out.resolve("o.npy"), DType.F32), 1e-6);
        assertFloats(new float[] {LN4}, Npy.read(out.resolve("lse.npy"), DType.F32), 1e-6);
    }

    @Test
    void bf16StatesTravelAsRawBits() throws IOException {
        save("oa.npy", HostTensor.of(DType.BF16, new float[] {1, 2}, 1, 1, 2));
        save("sa.npy", HostTensor.of(DType.F32, new float[] {0}, 1, 1));
        save("ob.npy", HostTensor.of(DType.BF16, new float[] {3, 6}, 1, 1, 2));
        save("sb.npy", HostTensor.of(DType.F32, new float[] {LN3}, 1, 1));
        Path out = run("bf16", """
                {"op": "merge_state", "dtype": "bf16", "o_a": "oa.npy", "lse_a": "sa.npy", "o_b": "ob.npy",
                 "lse_b": "sb.npy"}""");
        assertEquals("<u2", Npy.header(out.resolve("o.npy")).descr());
        assertFloats(new float[] {2.5f, 5f}, Npy.read(out.resolve("o.npy"), DType.BF16), 1e-6);
    }

    // ------------------------------------------------------------------ RoPE

    @Test
    void ropeRotatesQAndKAsSpecSection3Says() throws IOException {
        save("q.npy", HostTensor.of(DType.F32, new float[] {1, 2, 3, 4, 1, 2, 3, 4}, 2, 1, 4));
        save("k.npy", HostTensor.of(DType.F32, new float[] {1, 2, 3, 4, 1, 2, 3, 4}, 2, 1, 4));
        Path out = run("rope", """
                {"op": "rope", "q": "q.npy", "k": "k.npy", "positions": [0, 1]}""");
        // D = 4, theta 1e4: freq 1 for pair (0, 2), 0.01 for pair (1, 3); position 0 is the identity
        double c0 = Math.cos(1);
        double s0 = Math.sin(1);
        double c1 = Math.cos(0.01);
        double s1 = Math.sin(0.01);
        float[] expected = {1, 2, 3, 4, (float) (1 * c0 - 3 * s0), (float) (2 * c1 - 4 * s1),
            (float) (3 * c0 + 1 * s0), (float) (4 * c1 + 2 * s1)};
        assertFloats(expected, Npy.read(out.resolve("q.npy"), DType.F32), 1e-6);
        assertFloats(expected, Npy.read(out.resolve("k.npy"), DType.F32), 1e-6);

        Path interleaved = run("rope-i", """
                {"op": "rope", "q": "q.npy", "positions": [0, 1], "rope": {"interleaved": true}}""");
        float[] pairs = {1, 2, 3, 4, (float) (1 * c0 - 2 * s0), (float) (2 * c0 + 1 * s0),
            (float) (3 * c1 - 4 * s1), (float) (4 * c1 + 3 * s1)};
        assertFloats(pairs, Npy.read(interleaved.resolve("q.npy"), DType.F32), 1e-6);
        assertTrue(Files.notExists(interleaved.resolve("k.npy")));

        // rotary_dim 2 (partial rotary): the one pair (0, 1) turns at freq 1, dims 2 and 3 pass through
        Path partial = run("rope-partial", """
                {"op": "rope", "q": "q.npy", "positions": [0, 1], "rope": {"rotary_dim": 2}}""");
        float[] firstTwo = {1, 2, 3, 4, (float) (1 * c0 - 2 * s0), (float) (2 * c0 + 1 * s0), 3, 4};
        assertFloats(firstTwo, Npy.read(partial.resolve("q.npy"), DType.F32), 1e-6);
    }

    @Test
    void badRotaryDimsAreRefusedByKey() throws IOException {
        save("q.npy", HostTensor.of(DType.F32, new float[] {1, 2, 3, 4}, 1, 1, 4));
        String odd = fails("odd", """
                {"op": "rope", "q": "q.npy", "positions": [0], "rope": {"rotary_dim": 3}}""");
        assertTrue(odd.contains("\"rotary_dim\": rope.rotaryDim: expected 0 (the whole head dim) or an even value"
                + " >= 2, actual 3"), odd);
        String wide = fails("wide", """
                {"op": "rope", "q": "q.npy", "positions": [0], "rope": {"rotary_dim": 6}}""");
        assertTrue(wide.contains("rope.rotaryDim") && wide.contains("D = 4") && wide.contains("actual 6"), wide);
    }

    /** Slices {@code [n, heads, d]} of a fused {@code [n, total, d]} array starting at head {@code first}, copied. */
    private static HostTensor slice(HostTensor fused, int first, int heads) {
        long n = fused.dim(0);
        long total = fused.dim(1);
        long d = fused.dim(2);
        HostTensor out = HostTensor.allocate(fused.dtype(), n, heads, d);
        for (long t = 0; t < n; t++) {
            for (long h = 0; h < heads; h++) {
                for (long e = 0; e < d; e++) {
                    out.setBits((t * heads + h) * d + e, fused.getBits((t * total + first + h) * d + e));
                }
            }
        }
        return out;
    }

    @Test
    void viewsOfOneFusedProjectionEqualContiguousInputs() throws IOException {
        // A fused [n, Hq + 2 Hkv, D] projection output, as an engine holds it: Hq 4, Hkv 2, D 8.
        int n = 3;
        int hq = 4;
        int hkv = 2;
        int d = 8;
        int row = (hq + 2 * hkv) * d;
        try (HostTensor fused = random(DType.BF16, 11, n, hq + 2 * hkv, d)) {
            Npy.write(dir.resolve("qkv.npy"), fused);
            save("q.npy", slice(fused, 0, hq));
            save("k.npy", slice(fused, hq, hkv));
            save("v.npy", slice(fused, hq + hkv, hkv));
        }
        String q = "{\"file\": \"qkv.npy\", \"shape\": [" + n + ", " + hq + ", " + d + "], \"strides\": [" + row + ", "
                + d + ", 1]}";
        String k = "{\"file\": \"qkv.npy\", \"offset\": " + hq * d + ", \"shape\": [" + n + ", " + hkv + ", " + d
                + "], \"strides\": [" + row + ", " + d + ", 1]}";
        String v = "{\"file\": \"qkv.npy\", \"offset\": " + (hq + hkv) * d + ", \"shape\": [" + n + ", " + hkv + ", "
                + d + "], \"strides\": [" + row + ", " + d + ", 1]}";

        // RoPE on q and k, views of one buffer, rotated in place: the same bits as on separate arrays.
        Path viewed = run("rope-views", "{\"op\": \"rope\", \"q_dtype\": \"bf16\", \"q\": " + q + ", \"k\": " + k
                + ", \"positions\": [5, 6, 7]}");
        Path plain = run("rope-plain", """
                {"op": "rope", "q_dtype": "bf16", "q": "q.npy", "k": "k.npy", "positions": [5, 6, 7]}""");
        assertSameBits(Npy.read(plain.resolve("q.npy"), DType.BF16), Npy.read(viewed.resolve("q.npy"), DType.BF16));
        assertSameBits(Npy.read(plain.resolve("k.npy"), DType.BF16), Npy.read(viewed.resolve("k.npy"), DType.BF16));

        // Append k and v views into a cache of 2 pages of 4, then decode with the q view.
        try (HostTensor cache = random(DType.BF16, 12, 2, 4, hkv, d)) {
            Npy.write(dir.resolve("kc.npy"), cache);
            Npy.write(dir.resolve("vc.npy"), cache);
        }
        String table = "\"kv_indptr\": [0, 2], \"kv_indices\": [1, 0], \"kv_last_page_len\": [3]";
        Path appendedViews = run("append-views", "{\"op\": \"append_kv\", \"k\": \"kc.npy\", \"v\": \"vc.npy\", "
                + "\"kv_dtype\": \"bf16\", \"append_dtype\": \"bf16\", \"append_k\": " + k + ", \"append_v\": " + v
                + ", \"append_indptr\": [0, 3], " + table + "}");
        Path appendedPlain = run("append-plain", "{\"op\": \"append_kv\", \"k\": \"kc.npy\", \"v\": \"vc.npy\", "
                + "\"kv_dtype\": \"bf16\", \"append_dtype\": \"bf16\", \"append_k\": \"k.npy\", \"append_v\": \"v.npy\", "
                + "\"append_indptr\": [0, 3], " + table + "}");
        assertSameBits(Npy.read(appendedPlain.resolve("k.npy"), DType.BF16),
                Npy.read(appendedViews.resolve("k.npy"), DType.BF16));
        assertSameBits(Npy.read(appendedPlain.resolve("v.npy"), DType.BF16),
                Npy.read(appendedViews.resolve("v.npy"), DType.BF16));

        String oneRow = "{\"file\": \"qkv.npy\", \"shape\": [1, " + hq + ", " + d + "], \"strides\": [" + row + ", " + d
                + ", 1]}";
        Path decodedView = run("decode-view", "{\"op\": \"decode\", \"q_dtype\": \"bf16\", \"q\": " + oneRow
                + ", \"k\": \"kc.npy\", \"v\": \"vc.npy\", \"kv_dtype\": \"bf16\", " + table + "}");
        try (HostTensor q0 = Npy.read(dir.resolve("q.npy"), DType.BF16)) {
            save("q0.npy", HostTensor.wrap(q0.segment().asSlice(0, (long) hq * d * 2), DType.BF16, 1, hq, d));
        }
        Path decodedPlain = run("decode-plain", "{\"op\": \"decode\", \"q_dtype\": \"bf16\", \"q\": \"q0.npy\", "
                + "\"k\": \"kc.npy\", \"v\": \"vc.npy\", \"kv_dtype\": \"bf16\", " + table + "}");
        assertSameBits(Npy.read(decodedPlain.resolve("o.npy"), DType.BF16),
                Npy.read(decodedView.resolve("o.npy"), DType.BF16));
    }

    @Test
    void aViewPastItsFileIsRefusedWithItsExtent() throws IOException {
        save("qkv.npy", random(DType.F32, 13, 2, 8, 4));
        Files.writeString(dir.resolve("bad.json"), """
                {"op": "rope", "q": {"file": "qkv.npy", "offset": 60, "shape": [2, 4, 4], "strides": [32, 4, 1]},
                 "positions": [0, 1]}""");
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("bad.json").toString(), "--out",
                dir.resolve("bad").toString(), "--backend", "reference");
        assertTrue(r.status() != 0, r.out() + r.err());
        assertTrue(r.err().contains("\"q\" views qkv.npy") && r.err().contains("[60, 108)"), r.err());
        assertTrue(Files.notExists(dir.resolve("bad")));
    }

    // ------------------------------------------------------------------ KV append

    @Test
    void appendQuantisesIntoAnFp8CacheExactlyAsTheApi() throws IOException {
        int[] indptr = {0, 2};
        int[] indices = {1, 0};
        int[] last = {2};
        KvScales scales = new KvScales(0.5f, 2f);
        try (HostTensor k0 = random(DType.FP8_E4M3, 1, 2, 4, 2, 8); HostTensor v0 = random(DType.FP8_E4M3, 2, 2, 4, 2, 8);
             HostTensor nk = random(DType.F32, 3, 3, 2, 8); HostTensor nv = random(DType.F32, 4, 3, 2, 8)) {
            for (long i = 0; i < nk.elementCount(); i++) {
                nk.setFloat(i, nk.getFloat(i) * 300); // past e4m3's range once scaled: saturates
            }
            Npy.write(dir.resolve("k.npy"), k0);
            Npy.write(dir.resolve("v.npy"), v0);
            Npy.write(dir.resolve("nk.npy"), nk);
            Npy.write(dir.resolve("nv.npy"), nv);
            Path out = run("append", """
                    {"op": "append_kv", "k": "k.npy", "v": "v.npy", "kv_dtype": "fp8_e4m3", "k_scale": 0.5,
                     "v_scale": 2, "append_k": "nk.npy", "append_v": "nv.npy", "append_indptr": [0, 3],
                     "kv_indptr": [0, 2], "kv_indices": [1, 0], "kv_last_page_len": [2]}""");
            Path explicit = run("append2", """
                    {"op": "append_kv", "k": "k.npy", "v": "v.npy", "kv_dtype": "fp8_e4m3", "k_scale": 0.5,
                     "v_scale": 2, "append_k": "nk.npy", "append_v": "nv.npy", "batch_indices": [0, 0, 0],
                     "positions": [3, 4, 5], "kv_indptr": [0, 2], "kv_indices": [1, 0], "kv_last_page_len": [2]}""");
            try (Tensor dk = ref.upload(k0); Tensor dv = ref.upload(v0); Tensor tk = ref.upload(nk);
                 Tensor tv = ref.upload(nv)) {
                PageTable table = new PageTable(indptr, indices, last, 4);
                ref.appendPagedKv(tk, tv, AppendPositions.fromIndptr(new int[] {0, 3}, table),
                        PagedKvCache.separate(dk, dv, KvLayout.NHD, scales), table);
                assertSameBits(ref.download(dk), Npy.read(out.resolve("k.npy"), DType.FP8_E4M3));
                assertSameBits(ref.download(dv), Npy.read(out.resolve("v.npy"), DType.FP8_E4M3));
                assertSameBits(ref.download(dk), Npy.read(explicit.resolve("k.npy"), DType.FP8_E4M3));
            }
            // slots the append does not touch keep their bits: page 1 holds positions 0..3, the first three are old
            try (HostTensor after = Npy.read(out.resolve("k.npy"), DType.FP8_E4M3)) {
                long page1 = 4L * 2 * 8;
                for (long i = page1; i < page1 + 3L * 2 * 8; i++) {
                    assertEquals(k0.getBits(i), after.getBits(i), "element " + i);
                }
                assertEquals("|u1", Npy.header(out.resolve("k.npy")).descr());
            }
        }
    }

    // ------------------------------------------------------------------ cascade

    @Test
    void cascadeEqualsFlatAttentionOverTheConcatenatedPages() throws IOException {
        HeadConfig heads = new HeadConfig(4, 2, 16);
        try (HostTensor q = random(DType.F32, 5, 2, 4, 16); HostTensor k = random(DType.F32, 6, 5, 4, 2, 16);
             HostTensor v = random(DType.F32, 7, 5, 4, 2, 16)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            Path out = run("cascade", """
                    {"op": "cascade", "q": "q.npy", "k": "k.npy", "v": "v.npy", "levels": [
                      {"qo_indptr": [0, 2], "kv_indptr": [0, 2], "kv_indices": [0, 1], "kv_last_page_len": [4]},
                      {"qo_indptr": [0, 1, 2], "kv_indptr": [0, 1, 3], "kv_indices": [2, 3, 4],
                       "kv_last_page_len": [3, 2]}]}""");
            PageTable flat = new PageTable(new int[] {0, 3, 7}, new int[] {0, 1, 2, 0, 1, 3, 4}, new int[] {3, 2}, 4);
            try (Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor o = ref.allocate(DType.F32, 2, 4, 16); Tensor lse = ref.allocate(DType.F32, 2, 4);
                 BatchAttentionPlan p = ref.planBatchDecode(flat, heads, AttentionOptions.DEFAULT, PlanOptions.DEFAULT)) {
                p.run(dq, PagedKvCache.separate(dk, dv, KvLayout.NHD), o, lse);
                assertClose(ref.download(o), Npy.read(out.resolve("o.npy"), DType.F32), 1e-5);
                assertClose(ref.download(lse), Npy.read(out.resolve("lse.npy"), DType.F32), 1e-5);
            }
        }
    }

    // ------------------------------------------------------------------ masks, plans, outputs

    /** Two prefill requests (3 and 2 rows) over a paged f32 cache, the spec's shared part. */
    private static final String PREFILL = """
            "op": "prefill", "q": "q.npy", "k": "k.npy", "v": "v.npy", "qo_indptr": [0, 3, 5],
            "kv_indptr": [0, 1, 3], "kv_indices": [2, 0, 1], "kv_last_page_len": [4, 2]""";

    private Tensor[] prefillInputs() throws IOException {
        try (HostTensor q = random(DType.F32, 11, 5, 4, 16); HostTensor k = random(DType.F32, 12, 3, 4, 2, 16);
             HostTensor v = random(DType.F32, 13, 3, 4, 2, 16)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            return new Tensor[] {ref.upload(q), ref.upload(k), ref.upload(v)};
        }
    }

    private HostTensor[] apiPrefill(Tensor[] in, CustomMask mask, PlanOptions plan) {
        return apiPrefill(in, AttentionOptions.DEFAULT, mask, plan);
    }

    private HostTensor[] apiPrefill(Tensor[] in, AttentionOptions options, CustomMask mask, PlanOptions plan) {
        PageTable table = new PageTable(new int[] {0, 1, 3}, new int[] {2, 0, 1}, new int[] {4, 2}, 4);
        try (Tensor o = ref.allocate(DType.F32, 5, 4, 16); Tensor lse = ref.allocate(DType.F32, 5, 4);
             BatchAttentionPlan p = ref.planBatchPrefill(new int[] {0, 3, 5}, table, new HeadConfig(4, 2, 16),
                     options, mask, plan)) {
            p.run(in[0], PagedKvCache.separate(in[1], in[2], KvLayout.NHD), o, lse);
            return new HostTensor[] {ref.download(o), ref.download(lse)};
        }
    }

    @Test
    void bitPackedMasksWithOffsetsMatchTheApi() throws IOException {
        // request 0: 3 x 4 bits, request 1: 2 x 6 bits; stored request 1 first, at bit offsets 12 and 0
        boolean[] natural = new boolean[3 * 4 + 2 * 6];
        for (int i = 0; i < natural.length; i++) {
            natural[i] = (i * 7) % 5 != 0;
        }
        boolean[] swapped = new boolean[natural.length];
        System.arraycopy(natural, 12, swapped, 0, 12);
        System.arraycopy(natural, 0, swapped, 12, 12);
        byte[] packed = CustomMask.fromBooleans(swapped).packed();
        try (HostTensor bytes = HostTensor.allocate(DType.FP8_E4M3, packed.length)) {
            for (int i = 0; i < packed.length; i++) {
                bytes.setBits(i, packed[i]);
            }
            Npy.write(dir.resolve("packed.npy"), bytes);
        }
        Tensor[] in = prefillInputs();
        try (Tensor q = in[0]; Tensor k = in[1]; Tensor v = in[2]) {
            HostTensor[] expected = apiPrefill(in, CustomMask.fromBooleans(natural), PlanOptions.DEFAULT);
            Path out = run("packed", "{" + PREFILL
                    + ", \"mask\": {\"packed\": \"packed.npy\", \"bits\": 24, \"offsets\": [12, 0]}}");
            assertSameBits(expected[0], Npy.read(out.resolve("o.npy"), DType.F32));
            assertSameBits(expected[1], Npy.read(out.resolve("lse.npy"), DType.F32));

            StringBuilder list = new StringBuilder();
            for (boolean b : swapped) {
                list.append(list.isEmpty() ? "" : ", ").append(b);
            }
            Path inline = run("booleans", "{" + PREFILL + ", \"mask\": {\"booleans\": [" + list
                    + "], \"offsets\": [12, 0]}}");
            HostTensor[] again = apiPrefill(in, CustomMask.fromBooleans(natural), PlanOptions.DEFAULT);
            assertSameBits(again[0], Npy.read(inline.resolve("o.npy"), DType.F32));
            again[1].close();
        }
    }

    // ------------------------------------------------------------------ sinks and ALiBi

    @Test
    void sinksAndStandardAlibiMatchTheApi() throws IOException {
        Tensor[] in = prefillInputs();
        try (Tensor q = in[0]; Tensor k = in[1]; Tensor v = in[2]) {
            AttentionOptions options = AttentionOptions.DEFAULT.withCausal(true)
                    .withSinks(AttentionSinks.of(0.5f, -1f, 2f, 0f)).withAlibiSlopes(AlibiSlopes.standard(4));
            HostTensor[] expected = apiPrefill(in, options, null, PlanOptions.DEFAULT);
            Path out = run("sinks-alibi", "{" + PREFILL + ", \"causal\": true, \"sinks\": [0.5, -1, 2, 0],"
                    + " \"alibi\": true}");
            assertSameBits(expected[0], Npy.read(out.resolve("o.npy"), DType.F32));
            assertSameBits(expected[1], Npy.read(out.resolve("lse.npy"), DType.F32));
        }
    }

    @Test
    void sinksAndSlopesFromNpyFilesMatchTheApi() throws IOException {
        save("sinks.npy", HostTensor.of(DType.F32, new float[] {1f, 0.25f, -3f, 4f}, 4));
        save("slopes.npy", HostTensor.of(DType.F32, new float[] {0.5f, 0f, -0.125f, 0.03125f}, 4));
        Tensor[] in = prefillInputs();
        try (Tensor q = in[0]; Tensor k = in[1]; Tensor v = in[2]) {
            AttentionOptions options = AttentionOptions.DEFAULT.withSinks(AttentionSinks.of(1f, 0.25f, -3f, 4f))
                    .withAlibiSlopes(AlibiSlopes.of(0.5f, 0f, -0.125f, 0.03125f));
            HostTensor[] expected = apiPrefill(in, options, null, PlanOptions.DEFAULT);
            Path out = run("from-files", "{" + PREFILL + ", \"sinks\": \"sinks.npy\", \"alibi_slopes\": \"slopes.npy\"}");
            assertSameBits(expected[0], Npy.read(out.resolve("o.npy"), DType.F32));
            assertSameBits(expected[1], Npy.read(out.resolve("lse.npy"), DType.F32));
            Path inline = run("inline", "{" + PREFILL + ", \"sinks\": [1, 0.25, -3, 4],"
                    + " \"alibi_slopes\": [0.5, 0, -0.125, 0.03125]}");
            HostTensor[] again = apiPrefill(in, options, null, PlanOptions.DEFAULT);
            assertSameBits(again[0], Npy.read(inline.resolve("o.npy"), DType.F32));
            again[1].close();
        }
    }

    @Test
    void aCascadeWithSinksCountsThemOnce() throws IOException {
        HeadConfig heads = new HeadConfig(4, 2, 16);
        AttentionOptions options = AttentionOptions.DEFAULT.withSinks(AttentionSinks.of(0f, 1f, -1f, 3f));
        try (HostTensor q = random(DType.F32, 5, 2, 4, 16); HostTensor k = random(DType.F32, 6, 5, 4, 2, 16);
             HostTensor v = random(DType.F32, 7, 5, 4, 2, 16)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            Path out = run("cascade-sinks", """
                    {"op": "cascade", "q": "q.npy", "k": "k.npy", "v": "v.npy", "sinks": [0, 1, -1, 3], "levels": [
                      {"qo_indptr": [0, 2], "kv_indptr": [0, 2], "kv_indices": [0, 1], "kv_last_page_len": [4]},
                      {"qo_indptr": [0, 1, 2], "kv_indptr": [0, 1, 3], "kv_indices": [2, 3, 4],
                       "kv_last_page_len": [3, 2]}]}""");
            PageTable flat = new PageTable(new int[] {0, 3, 7}, new int[] {0, 1, 2, 0, 1, 3, 4}, new int[] {3, 2}, 4);
            try (Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor o = ref.allocate(DType.F32, 2, 4, 16); Tensor lse = ref.allocate(DType.F32, 2, 4);
                 BatchAttentionPlan p = ref.planBatchDecode(flat, heads, options, PlanOptions.DEFAULT)) {
                p.run(dq, PagedKvCache.separate(dk, dv, KvLayout.NHD), o, lse);
                assertClose(ref.download(o), Npy.read(out.resolve("o.npy"), DType.F32), 1e-5);
                assertClose(ref.download(lse), Npy.read(out.resolve("lse.npy"), DType.F32), 1e-5);
            }
        }
    }

    /** Runs a spec expected to fail; returns standard error. */
    private String fails(String name, String spec) throws IOException {
        Files.writeString(dir.resolve(name + ".json"), spec);
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve(name + ".json").toString(), "--out",
                dir.resolve(name).toString(), "--backend", "reference");
        assertEquals(1, r.status(), r.out() + r.err());
        assertTrue(Files.notExists(dir.resolve(name)), "an output directory was left behind");
        return r.err();
    }

    @Test
    void badSinksAndSlopesAreRefusedByKey() throws IOException {
        for (Tensor t : prefillInputs()) {
            t.close(); // only the files are needed
        }
        String both = fails("both", "{" + PREFILL + ", \"alibi\": true, \"alibi_slopes\": [1, 1, 1, 1]}");
        assertTrue(both.contains("give \"alibi\": true (the standard slopes) or \"alibi_slopes\", not both"), both);
        String word = fails("word", "{" + PREFILL + ", \"sinks\": [1, \"x\", 0, 0]}");
        assertTrue(word.contains("\"sinks\"[1]: expected a number, actual x"), word);
        String length = fails("length", "{" + PREFILL + ", \"sinks\": [1, 2, 3]}");
        assertTrue(length.contains("sinks.length: expected one logit per query head, Hq = 4, actual 3"), length);
        String empty = fails("empty", "{" + PREFILL + ", \"alibi_slopes\": []}");
        assertTrue(empty.contains("\"alibi_slopes\": alibiSlopes.length: expected >= 1"), empty);
        save("nan.npy", HostTensor.of(DType.F32, new float[] {0f, Float.NaN, 0f, 0f}, 4));
        String nan = fails("nan", "{" + PREFILL + ", \"sinks\": \"nan.npy\"}");
        assertTrue(nan.contains("\"sinks\": sinks[1]: expected a finite logit (NaN and infinities are rejected), "
                + "actual NaN"), nan);
        String cascade = fails("cascade-alibi", """
                {"op": "cascade", "q": "q.npy", "k": "k.npy", "v": "v.npy", "alibi": true, "levels": [
                  {"qo_indptr": [0, 5], "kv_indptr": [0, 1], "kv_indices": [0], "kv_last_page_len": [4]}]}""");
        assertTrue(cascade.contains("options.alibiSlopes: ALiBi is not supported in a cascade"), cascade);
    }

    @Test
    void deterministicPlansAndCallerProvidedOutputs() throws IOException {
        save("o0.npy", HostTensor.of(DType.F32, new float[5 * 4 * 16], 5, 4, 16));
        try (HostTensor nan = HostTensor.allocate(DType.F32, 5, 4, 16); HostTensor lnan = HostTensor.allocate(DType.F32, 5, 4)) {
            for (long i = 0; i < nan.elementCount(); i++) {
                nan.setFloat(i, Float.NaN);
            }
            for (long i = 0; i < lnan.elementCount(); i++) {
                lnan.setFloat(i, Float.NaN);
            }
            Npy.write(dir.resolve("o0.npy"), nan);
            Npy.write(dir.resolve("l0.npy"), lnan);
        }
        Tensor[] in = prefillInputs();
        try (Tensor q = in[0]; Tensor k = in[1]; Tensor v = in[2]) {
            PlanOptions plan = new PlanOptions(true, 2);
            HostTensor[] expected = apiPrefill(in, null, plan);
            Path out = run("det", "{" + PREFILL + ", \"plan\": {\"deterministic\": true, \"max_split_chunk\": 2},"
                    + " \"o_init\": \"o0.npy\", \"lse_init\": \"l0.npy\"}");
            assertSameBits(expected[0], Npy.read(out.resolve("o.npy"), DType.F32));
            assertSameBits(expected[1], Npy.read(out.resolve("lse.npy"), DType.F32));
            assertEquals(Map.of("deterministic", true, "max_split_chunk", 2L), result(out).get("plan"));
        }
    }

    @Test
    void decodeWithAMaskRunsAsOneRowPrefill() throws IOException {
        int[] kvIndptr = {0, 1, 3};
        int[] kvIndices = {2, 0, 1};
        int[] last = {4, 2};
        boolean[] mask = {true, false, true, true, false, true, true, true, true, false};
        try (HostTensor q = random(DType.F16, 21, 2, 4, 16); HostTensor k = random(DType.F16, 22, 3, 4, 2, 16);
             HostTensor v = random(DType.F16, 23, 3, 4, 2, 16)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            Path out = run("masked-decode", """
                    {"op": "decode", "q": "q.npy", "k": "k.npy", "v": "v.npy", "kv_indptr": [0, 1, 3],
                     "kv_indices": [2, 0, 1], "kv_last_page_len": [4, 2],
                     "mask": [1, 0, 1, 1, 0, 1, 1, 1, 1, 0]}""");
            assertTrue(result(out).get("notes").toString().contains("one query row per request"), result(out).toString());
            try (Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor o = ref.allocate(DType.F16, 2, 4, 16); Tensor lse = ref.allocate(DType.F32, 2, 4);
                 BatchAttentionPlan p = ref.planBatchPrefill(new int[] {0, 1, 2},
                         new PageTable(kvIndptr, kvIndices, last, 4), new HeadConfig(4, 2, 16),
                         AttentionOptions.DEFAULT, CustomMask.fromBooleans(mask), PlanOptions.DEFAULT)) {
                p.run(dq, PagedKvCache.separate(dk, dv, KvLayout.NHD), o, lse);
                assertSameBits(ref.download(o), Npy.read(out.resolve("o.npy"), DType.F16));
                assertSameBits(ref.download(lse), Npy.read(out.resolve("lse.npy"), DType.F32));
            }
        }
        // single decode: q [Hq, D] against contiguous K/V, masked keys 1 and 3 of 5
        try (HostTensor q = random(DType.F32, 31, 4, 16); HostTensor k = random(DType.F32, 32, 5, 2, 16);
             HostTensor v = random(DType.F32, 33, 5, 2, 16)) {
            Npy.write(dir.resolve("sq.npy"), q);
            Npy.write(dir.resolve("sk.npy"), k);
            Npy.write(dir.resolve("sv.npy"), v);
            Path out = run("single-masked", """
                    {"op": "single_decode", "q": "sq.npy", "k": "sk.npy", "v": "sv.npy",
                     "mask": [true, false, true, false, true]}""");
            try (Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 HostTensor q3 = HostTensor.wrap(q.segment(), DType.F32, 1, 4, 16); Tensor dq = ref.upload(q3);
                 Tensor o = ref.allocate(DType.F32, 1, 4, 16); Tensor lse = ref.allocate(DType.F32, 1, 4)) {
                ref.singlePrefill(dq, new ContiguousKv(dk, dv, KvLayout.NHD), AttentionOptions.DEFAULT,
                        CustomMask.fromBooleans(new boolean[] {true, false, true, false, true}), o, lse);
                try (HostTensor ho = ref.download(o); HostTensor hl = ref.download(lse);
                     HostTensor actual = Npy.read(out.resolve("o.npy"), DType.F32);
                     HostTensor actualLse = Npy.read(out.resolve("lse.npy"), DType.F32)) {
                    assertArrayEquals(new long[] {4, 16}, actual.shape());
                    assertArrayEquals(new long[] {4}, actualLse.shape());
                    for (int i = 0; i < 4 * 16; i++) {
                        assertEquals(ho.getBits(i), actual.getBits(i));
                    }
                    for (int i = 0; i < 4; i++) {
                        assertEquals(hl.getBits(i), actualLse.getBits(i));
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ KV scales per head and per token

    /** Scales in [1/8, 2), each its own. */
    private static HostTensor scalePool(long seed, long... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        HostTensor t = HostTensor.allocate(DType.F32, shape);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) Math.pow(2, rnd.nextDouble() * 4 - 3));
        }
        return t;
    }

    @Test
    void perTokenAppendWritesThePoolsAndDecodeReadsThemAsTheApi() throws IOException {
        // HND cache [pages 4, Hkv 2, page 3, D 8]; the request holds pages 2 and 0, 3 old tokens and 2 new
        int[] indptr = {0, 2};
        int[] indices = {2, 0};
        int[] last = {2};
        try (HostTensor k0 = random(DType.FP8_E4M3, 41, 4, 2, 3, 8); HostTensor v0 = random(DType.FP8_E4M3, 42, 4, 2, 3, 8);
             HostTensor ks0 = scalePool(43, 4, 2, 3); HostTensor vs0 = scalePool(44, 4, 2, 3);
             HostTensor nk = random(DType.F32, 45, 2, 2, 8); HostTensor nv = random(DType.F32, 46, 2, 2, 8);
             HostTensor q = random(DType.F32, 47, 1, 4, 8)) {
            for (long i = 0; i < nk.elementCount(); i++) {
                nk.setFloat(i, nk.getFloat(i) * 50);
            }
            Npy.write(dir.resolve("k.npy"), k0);
            Npy.write(dir.resolve("v.npy"), v0);
            Npy.write(dir.resolve("ks.npy"), ks0);
            Npy.write(dir.resolve("vs.npy"), vs0);
            Npy.write(dir.resolve("nk.npy"), nk);
            Npy.write(dir.resolve("nv.npy"), nv);
            Npy.write(dir.resolve("q.npy"), q);
            Path out = run("append", """
                    {"op": "append_kv", "k": "k.npy", "v": "v.npy", "kv_dtype": "fp8_e4m3", "layout": "HND",
                     "kv_scales": {"mode": "per_token", "k": "ks.npy", "v": "vs.npy"},
                     "append_k": "nk.npy", "append_v": "nv.npy", "append_indptr": [0, 2],
                     "kv_indptr": [0, 2], "kv_indices": [2, 0], "kv_last_page_len": [2]}""");
            assertEquals(java.util.Set.of("k", "v", "k_scales", "v_scales"),
                    java.util.Set.copyOf(((Map<?, ?>) result(out).get("outputs")).keySet()));
            assertEquals("<f4", Npy.header(out.resolve("k_scales.npy")).descr());
            Path decoded = run("decode", """
                    {"op": "decode", "q": "q.npy", "k": "append/k.npy", "v": "append/v.npy", "kv_dtype": "fp8_e4m3",
                     "layout": "HND",
                     "kv_scales": {"mode": "per_token", "k": "append/k_scales.npy", "v": "append/v_scales.npy"},
                     "kv_indptr": [0, 2], "kv_indices": [2, 0], "kv_last_page_len": [2]}""");
            try (Tensor dk = ref.upload(k0); Tensor dv = ref.upload(v0); Tensor dks = ref.upload(ks0);
                 Tensor dvs = ref.upload(vs0); Tensor tk = ref.upload(nk); Tensor tv = ref.upload(nv);
                 Tensor dq = ref.upload(q); Tensor o = ref.allocate(DType.F32, 1, 4, 8);
                 Tensor lse = ref.allocate(DType.F32, 1, 4)) {
                PageTable table = new PageTable(indptr, indices, last, 3);
                PagedKvCache cache = PagedKvCache.separate(dk, dv, KvLayout.HND, KvScales.perToken(dks, dvs));
                ref.appendPagedKv(tk, tv, AppendPositions.fromIndptr(new int[] {0, 2}, table), cache, table);
                assertSameBits(ref.download(dk), Npy.read(out.resolve("k.npy"), DType.FP8_E4M3));
                assertSameBits(ref.download(dv), Npy.read(out.resolve("v.npy"), DType.FP8_E4M3));
                assertSameBits(ref.download(dks), Npy.read(out.resolve("k_scales.npy"), DType.F32));
                assertSameBits(ref.download(dvs), Npy.read(out.resolve("v_scales.npy"), DType.F32));
                try (BatchAttentionPlan p = ref.planBatchDecode(table, new HeadConfig(4, 2, 8),
                        AttentionOptions.DEFAULT, PlanOptions.DEFAULT)) {
                    p.run(dq, cache, o, lse);
                }
                assertSameBits(ref.download(o), Npy.read(decoded.resolve("o.npy"), DType.F32));
                assertSameBits(ref.download(lse), Npy.read(decoded.resolve("lse.npy"), DType.F32));
            }
            // the new tokens' scales are amax / 448 (spec §5): page 0, slots 0 and 1, both heads
            try (HostTensor pool = Npy.read(out.resolve("k_scales.npy"), DType.F32)) {
                for (int t = 0; t < 2; t++) {
                    for (int h = 0; h < 2; h++) {
                        float amax = 0;
                        for (int d = 0; d < 8; d++) {
                            amax = Math.max(amax, Math.abs(nk.getFloat((t * 2 + h) * 8L + d)));
                        }
                        assertEquals(amax / 448f, pool.getFloat(h * 3L + t), 0f, "token " + t + ", head " + h);
                    }
                }
                for (long i = 2 * 3; i < pool.elementCount(); i++) { // pages 1..3 keep their scales
                    assertEquals(ks0.getBits(i), pool.getBits(i), "element " + i);
                }
            }
        }
    }

    @Test
    void perHeadScalesInlineAndFromFilesMatchTheApi() throws IOException {
        try (HostTensor q = random(DType.F16, 51, 2, 4, 16); HostTensor k = random(DType.FP8_E5M2, 52, 3, 4, 2, 16);
             HostTensor v = random(DType.FP8_E5M2, 53, 3, 4, 2, 16)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            save("vs.npy", HostTensor.of(DType.F32, new float[] {3f, 0.125f}, 2));
            Path out = run("per-head", """
                    {"op": "decode", "q": "q.npy", "k": "k.npy", "v": "v.npy", "kv_dtype": "fp8_e5m2",
                     "kv_scales": {"mode": "per_head", "k": [0.5, 2], "v": "vs.npy"}, "window_left": 3,
                     "kv_indptr": [0, 1, 3], "kv_indices": [2, 0, 1], "kv_last_page_len": [4, 2]}""");
            writeFirstRow(q);
            try (HostTensor k12 = HostTensor.wrap(k.segment(), DType.FP8_E5M2, 12, 2, 16);
                 HostTensor v12 = HostTensor.wrap(v.segment(), DType.FP8_E5M2, 12, 2, 16)) {
                Npy.write(dir.resolve("ck.npy"), k12);
                Npy.write(dir.resolve("cv.npy"), v12);
            }
            Path single = run("single", """
                    {"op": "single_decode", "q": "q0.npy", "k": "ck.npy", "v": "cv.npy", "kv_dtype": "fp8_e5m2",
                     "kv_scales": {"mode": "per_head", "k": [0.5, 2], "v": "vs.npy"}}""");
            try (HostTensor ks = HostTensor.of(DType.F32, new float[] {0.5f, 2f}, 2);
                 HostTensor vs = HostTensor.of(DType.F32, new float[] {3f, 0.125f}, 2);
                 Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor dks = ref.upload(ks); Tensor dvs = ref.upload(vs);
                 Tensor o = ref.allocate(DType.F16, 2, 4, 16); Tensor lse = ref.allocate(DType.F32, 2, 4);
                 BatchAttentionPlan p = ref.planBatchDecode(new PageTable(new int[] {0, 1, 3}, new int[] {2, 0, 1},
                         new int[] {4, 2}, 4), new HeadConfig(4, 2, 16), AttentionOptions.DEFAULT.withWindowLeft(3),
                         PlanOptions.DEFAULT)) {
                p.run(dq, PagedKvCache.separate(dk, dv, KvLayout.NHD, KvScales.perHead(dks, dvs)), o, lse);
                assertSameBits(ref.download(o), Npy.read(out.resolve("o.npy"), DType.F16));
                assertSameBits(ref.download(lse), Npy.read(out.resolve("lse.npy"), DType.F32));
                // single decode: the whole [12, 2, 16] file as contiguous K/V
                try (HostTensor k12 = HostTensor.wrap(k.segment(), DType.FP8_E5M2, 12, 2, 16);
                     HostTensor v12 = HostTensor.wrap(v.segment(), DType.FP8_E5M2, 12, 2, 16);
                     HostTensor q0 = HostTensor.wrap(q.segment(), DType.F16, 4, 16);
                     Tensor ck = ref.upload(k12); Tensor cv = ref.upload(v12); Tensor sq = ref.upload(q0);
                     Tensor so = ref.allocate(DType.F16, 4, 16); Tensor sl = ref.allocate(DType.F32, 4)) {
                    ref.singleDecode(sq, new ContiguousKv(ck, cv, KvLayout.NHD, KvScales.perHead(dks, dvs)),
                            AttentionOptions.DEFAULT, so, sl);
                    assertSameBits(ref.download(so), Npy.read(single.resolve("o.npy"), DType.F16));
                    assertSameBits(ref.download(sl), Npy.read(single.resolve("lse.npy"), DType.F32));
                }
            }
        }
    }

    /** q's first row [Hq, D] as its own file, q0.npy. */
    private void writeFirstRow(HostTensor q) throws IOException {
        try (HostTensor row = HostTensor.allocate(q.dtype(), q.shape()[1], q.shape()[2])) {
            for (long i = 0; i < row.elementCount(); i++) {
                row.setBits(i, q.getBits(i));
            }
            Npy.write(dir.resolve("q0.npy"), row);
        }
    }

    @Test
    void badKvScalesAreRefusedByKey() throws IOException {
        try (HostTensor q = random(DType.F32, 61, 1, 2, 8); HostTensor k = random(DType.FP8_E4M3, 62, 2, 3, 1, 8);
             HostTensor ck = HostTensor.wrap(k.segment(), DType.FP8_E4M3, 6, 1, 8)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("ck.npy"), ck);
            writeFirstRow(q);
        }
        save("pool.npy", scalePool(63, 2, 3, 1));
        String decode = """
                {"op": "decode", "q": "q.npy", "k": "k.npy", "v": "k.npy", "kv_dtype": "fp8_e4m3",
                 "kv_indptr": [0, 2], "kv_indices": [0, 1], "kv_last_page_len": [1], """;
        String both = fails("both", decode + "\"k_scale\": 2, \"kv_scales\": {\"mode\": \"per_head\", "
                + "\"k\": [1], \"v\": [1]}}");
        assertTrue(both.contains("give scalar \"k_scale\" and \"v_scale\", or \"kv_scales\" (per head or per "
                + "token), not both"), both);
        String mode = fails("mode", decode + "\"kv_scales\": {\"mode\": \"per_page\", \"k\": [1], \"v\": [1]}}");
        assertTrue(mode.contains("\"kv_scales\": \"mode\": expected \"per_head\" or \"per_token\", actual "
                + "\"per_page\""), mode);
        String key = fails("key", decode + "\"kv_scales\": {\"mode\": \"per_head\", \"k\": [1], \"v\": [1], "
                + "\"layout\": \"HND\"}}");
        assertTrue(key.contains("unknown key \"layout\" here; known keys: k, mode, v"), key);
        String inline = fails("inline", decode + "\"kv_scales\": {\"mode\": \"per_token\", \"k\": [1, 1, 1], "
                + "\"v\": \"pool.npy\"}}");
        assertTrue(inline.contains("\"k\": expected a '<f4' .npy file name (per-token scales are a scale pool"),
                inline);
        String shape = fails("shape", decode + "\"kv_scales\": {\"mode\": \"per_head\", \"k\": [1, 2], "
                + "\"v\": [1]}}");
        assertTrue(shape.contains("cache.scales.k.shape: expected [1]"), shape);
        save("hnd.npy", scalePool(64, 2, 1, 3)); // an HND pool beside an NHD cache
        String pool = fails("pool", decode + "\"kv_scales\": {\"mode\": \"per_token\", \"k\": \"hnd.npy\", "
                + "\"v\": \"pool.npy\"}}");
        assertTrue(pool.contains("cache.scales.k.shape: expected [2, 3, 1]"), pool);
        String contiguous = fails("contiguous", """
                {"op": "single_decode", "q": "q0.npy", "k": "ck.npy", "v": "ck.npy", "kv_dtype": "fp8_e4m3",
                 "kv_scales": {"mode": "per_token", "k": "pool.npy", "v": "pool.npy"}}""");
        assertTrue(contiguous.contains("kv.scales: expected scalar or per-head scales"), contiguous);
    }
}
