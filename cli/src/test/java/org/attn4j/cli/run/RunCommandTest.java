package org.attn4j.cli.run;

import org.attn4j.options.CustomMask;
import org.attn4j.options.RopeOptions;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.cli.json.Json;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.cli.CliRunner;
import org.attn4j.cli.npy.Npy;
import org.attn4j.cli.npy.NpyTest;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** attn4j run on files, compared with the same call made through the API on the reference backend. */
class RunCommandTest {
    @TempDir
    Path dir;

    private static HostTensor random(DType dtype, long seed, long... shape) {
        SplittableRandom rnd = new SplittableRandom(seed);
        HostTensor t = HostTensor.allocate(dtype, shape);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) (rnd.nextDouble() * 2 - 1));
        }
        return t;
    }

    @Test
    void pagedCausalPrefillMatchesTheApiBitForBit() throws IOException {
        int[] qoIndptr = {0, 3, 8};
        int[] kvIndptr = {0, 2, 4};
        int[] kvIndices = {3, 0, 1, 4};
        int[] last = {2, 1};
        HeadConfig heads = new HeadConfig(4, 2, 16);
        try (HostTensor q = random(DType.BF16, 1, 8, 4, 16);
             HostTensor k = random(DType.BF16, 2, 5, 4, 2, 16);
             HostTensor v = random(DType.BF16, 3, 5, 4, 2, 16)) {
            // page 2 is referenced by nobody: garbage there must not matter
            for (long i = 2L * 4 * 2 * 16; i < 3L * 4 * 2 * 16; i++) {
                k.setFloat(i, Float.NaN);
            }
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            Files.writeString(dir.resolve("call.json"), """
                    {"op": "prefill", "q": "q.npy", "q_dtype": "bf16", "k": "k.npy", "v": "v.npy",
                     "qo_indptr": [0, 3, 8], "kv_indptr": [0, 2, 4], "kv_indices": [3, 0, 1, 4],
                     "kv_last_page_len": [2, 1], "causal": true, "backend": "reference"}
                    """);
            CliRunner r = CliRunner.run("run", "--spec", dir.resolve("call.json").toString(), "--out",
                    dir.resolve("out").toString());
            assertEquals(0, r.status(), r.err());
            try (AttentionBackend ref = Backends.open("reference");
                 Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor o = ref.allocate(DType.BF16, 8, 4, 16); Tensor lse = ref.allocate(DType.F32, 8, 4);
                 BatchAttentionPlan plan = ref.planBatchPrefill(qoIndptr,
                         new PageTable(kvIndptr, kvIndices, last, 4), heads,
                         AttentionOptions.DEFAULT.withCausal(true), null, PlanOptions.DEFAULT)) {
                plan.run(dq, PagedKvCache.separate(dk, dv, KvLayout.NHD), o, lse);
                assertSameBits(ref.download(o), Npy.read(dir.resolve("out/o.npy"), DType.BF16));
                assertSameBits(ref.download(lse), Npy.read(dir.resolve("out/lse.npy"), DType.F32));
            }
            Map<?, ?> result = (Map<?, ?>) Json.parse(Files.readString(dir.resolve("out/result.json")));
            assertEquals("reference", result.get("backend"));
            assertEquals(List.of(8L, 4L, 16L), result.get("o_shape"));
            Map<?, ?> outputs = (Map<?, ?>) result.get("outputs");
            assertEquals(Map.of("file", "lse.npy", "dtype", "f32", "npy_descr", "<f4", "shape", List.of(8L, 4L)),
                    outputs.get("lse"));
            assertEquals("<u2", ((Map<?, ?>) outputs.get("o")).get("npy_descr"));
        }
    }

    @Test
    void fp8HndDecodeWithScalesAndIndexFilesMatchesTheApi() throws IOException {
        int[] kvIndptr = {0, 1, 3};
        int[] kvIndices = {2, 0, 1};
        int[] last = {3, 4};
        KvScales scales = new KvScales(0.5f, 2f);
        try (HostTensor q = random(DType.F16, 4, 2, 8, 32);
             HostTensor k = random(DType.FP8_E4M3, 5, 3, 2, 4, 32);
             HostTensor v = random(DType.FP8_E4M3, 6, 3, 2, 4, 32);
             HostTensor indices = HostTensor.ofInts(kvIndices, 3)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            Npy.write(dir.resolve("indices.npy"), indices);
            Files.writeString(dir.resolve("call.json"), """
                    {"op": "decode", "q": "q.npy", "k": "k.npy", "v": "v.npy", "kv_dtype": "fp8_e4m3",
                     "layout": "HND", "k_scale": 0.5, "v_scale": 2, "kv_indptr": [0, 1, 3],
                     "kv_indices": "indices.npy", "kv_last_page_len": [3, 4], "return_lse": false}
                    """);
            CliRunner r = CliRunner.run("run", "--spec", dir.resolve("call.json").toString(), "--out",
                    dir.resolve("out").toString(), "--backend", "reference");
            assertEquals(0, r.status(), r.err());
            assertTrue(Files.notExists(dir.resolve("out/lse.npy")));
            try (AttentionBackend ref = Backends.open("reference");
                 Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor o = ref.allocate(DType.F16, 2, 8, 32);
                 BatchAttentionPlan plan = ref.planBatchDecode(new PageTable(kvIndptr, kvIndices, last, 4),
                         new HeadConfig(8, 2, 32), AttentionOptions.DEFAULT, PlanOptions.DEFAULT)) {
                plan.run(dq, PagedKvCache.separate(dk, dv, KvLayout.HND, scales), o, null);
                assertSameBits(ref.download(o), Npy.read(dir.resolve("out/o.npy"), DType.F16));
            }
        }
    }

    @Test
    void raggedPrefillAndMaskedRopeSinglePrefillMatchTheApi() throws IOException {
        int[] qoIndptr = {0, 2, 5};
        int[] kvIndptr = {0, 4, 9};
        HeadConfig heads = new HeadConfig(2, 1, 16);
        boolean[] mask = new boolean[2 * 4 + 3 * 5];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = i % 3 != 1;
        }
        try (HostTensor q = random(DType.F32, 7, 5, 2, 16);
             HostTensor k = random(DType.F16, 8, 9, 1, 16);
             HostTensor v = random(DType.F16, 9, 9, 1, 16);
             HostTensor m = HostTensor.allocate(DType.FP8_E4M3, mask.length)) {
            for (int i = 0; i < mask.length; i++) {
                m.setBits(i, mask[i] ? 1 : 0); // a '|u1' file of 0/1 bytes
            }
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
            Npy.write(dir.resolve("v.npy"), v);
            Npy.write(dir.resolve("mask.npy"), m);
            Files.writeString(dir.resolve("ragged.json"), """
                    {"op": "prefill_ragged", "q": "q.npy", "k": "k.npy", "v": "v.npy",
                     "qo_indptr": [0, 2, 5], "kv_indptr": [0, 4, 9], "mask": "mask.npy",
                     "rope": {"interleaved": true, "theta": 500}, "logits_soft_cap": 5}
                    """);
            CliRunner r = CliRunner.run("run", "--spec", dir.resolve("ragged.json").toString(), "--out",
                    dir.resolve("ragged").toString(), "--backend", "reference");
            assertEquals(0, r.status(), r.err());
            AttentionOptions options = AttentionOptions.DEFAULT.withLogitsSoftCap(5f)
                    .withRope(org.attn4j.options.RopeOptions.DEFAULT.withInterleaved(true).withTheta(500));
            try (AttentionBackend ref = Backends.open("reference");
                 Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor o = ref.allocate(DType.F32, 5, 2, 16); Tensor lse = ref.allocate(DType.F32, 5, 2);
                 org.attn4j.RaggedAttentionPlan plan = ref.planBatchPrefillRagged(qoIndptr, kvIndptr, heads, options,
                         org.attn4j.options.CustomMask.fromBooleans(mask), PlanOptions.DEFAULT)) {
                plan.run(dq, new org.attn4j.kv.RaggedKv(dk, dv), o, lse);
                assertSameBits(ref.download(o), Npy.read(dir.resolve("ragged/o.npy"), DType.F32));
                assertSameBits(ref.download(lse), Npy.read(dir.resolve("ragged/lse.npy"), DType.F32));
            }
        }
        // one request: q [3, Hq, D] against contiguous HND K/V [Hkv, kvLen, D], causal
        try (HostTensor q = random(DType.F16, 10, 3, 4, 32);
             HostTensor k = random(DType.F16, 11, 2, 6, 32);
             HostTensor v = random(DType.F16, 12, 2, 6, 32)) {
            Npy.write(dir.resolve("sq.npy"), q);
            Npy.write(dir.resolve("sk.npy"), k);
            Npy.write(dir.resolve("sv.npy"), v);
            Files.writeString(dir.resolve("single.json"), """
                    {"op": "single_prefill", "q": "sq.npy", "k": "sk.npy", "v": "sv.npy", "layout": "HND",
                     "causal": true, "sm_scale": 0.25}
                    """);
            CliRunner r = CliRunner.run("run", "--spec", dir.resolve("single.json").toString(), "--out",
                    dir.resolve("single").toString(), "--backend", "reference");
            assertEquals(0, r.status(), r.err());
            try (AttentionBackend ref = Backends.open("reference");
                 Tensor dq = ref.upload(q); Tensor dk = ref.upload(k); Tensor dv = ref.upload(v);
                 Tensor o = ref.allocate(DType.F16, 3, 4, 32); Tensor lse = ref.allocate(DType.F32, 3, 4)) {
                ref.singlePrefill(dq, new org.attn4j.kv.ContiguousKv(dk, dv, KvLayout.HND),
                        AttentionOptions.DEFAULT.withCausal(true).withSmScale(0.25f), null, o, lse);
                assertSameBits(ref.download(o), Npy.read(dir.resolve("single/o.npy"), DType.F16));
                assertSameBits(ref.download(lse), Npy.read(dir.resolve("single/lse.npy"), DType.F32));
            }
        }
    }

    @Test
    void mismatchedFilesAndInvalidCallsFailWithClearMessages() throws IOException {
        try (HostTensor q = random(DType.F32, 1, 1, 2, 16); HostTensor k = random(DType.F32, 2, 1, 4, 2, 16)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
        }
        Files.writeString(dir.resolve("bad-dtype.json"), """
                {"op": "decode", "q": "q.npy", "k": "k.npy", "v": "k.npy", "kv_dtype": "bf16",
                 "kv_indptr": [0, 1], "kv_indices": [0], "kv_last_page_len": [4]}
                """);
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("bad-dtype.json").toString(), "--out",
                dir.resolve("o1").toString(), "--backend", "reference");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("k.npy: holds '<f4', which cannot be read as BF16"), r.err());

        Files.writeString(dir.resolve("bad-page.json"), """
                {"op": "decode", "q": "q.npy", "k": "k.npy", "v": "k.npy",
                 "kv_indptr": [0, 1], "kv_indices": [7], "kv_last_page_len": [4]}
                """);
        r = CliRunner.run("run", "--spec", dir.resolve("bad-page.json").toString(), "--out",
                dir.resolve("o2").toString(), "--backend", "reference");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("kvIndices[0]"), r.err());

        Files.writeString(dir.resolve("typo.json"), "{\"op\": \"decode\", \"qq\": \"q.npy\"}");
        r = CliRunner.run("run", "--spec", dir.resolve("typo.json").toString(), "--out", dir.resolve("o3").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("unknown key \"qq\""), r.err());

        Files.writeString(dir.resolve("broken.json"), "{\"op\": \"decode\",");
        r = CliRunner.run("run", "--spec", dir.resolve("broken.json").toString(), "--out", dir.resolve("o4").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("JSON line 1"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(Files.notExists(dir.resolve("o4")), "no output directory after a failed call");
    }

    /** Writes q, k, v of a small f32 decode and a spec naming them; returns the spec. */
    private Path smallDecode(String name, String extra) throws IOException {
        try (HostTensor q = random(DType.F32, 1, 1, 2, 16); HostTensor k = random(DType.F32, 2, 1, 4, 2, 16)) {
            Npy.write(dir.resolve("q.npy"), q);
            Npy.write(dir.resolve("k.npy"), k);
        }
        Path spec = dir.resolve(name);
        Files.writeString(spec, "{\"op\": \"decode\", \"q\": \"q.npy\", \"k\": \"k.npy\", \"v\": \"k.npy\", "
                + "\"kv_indptr\": [0, 1], \"kv_indices\": [0], \"kv_last_page_len\": [4]" + extra + "}");
        return spec;
    }

    @Test
    void ordinaryMistakesAreOneLineAndWriteNothing() throws IOException {
        Path spec = smallDecode("ok.json", "");
        Path file = dir.resolve("a-file");
        Files.writeString(file, "x");
        CliRunner r = CliRunner.run("run", "--spec", spec.toString(), "--out", file.toString(), "--backend", "reference");
        assertEquals(1, r.status());
        assertEquals("attn4j run: --out: " + file + " is a file, not a directory", r.err().strip());

        r = CliRunner.run("run", "--spec", spec.toString(), "--out", dir.resolve("o1").toString(), "--backend", "nope");
        assertEquals(1, r.status());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("no backend 'nope'"), r.err());
        assertTrue(Files.notExists(dir.resolve("o1")));

        Path missing = dir.resolve("missing-input.json");
        Files.writeString(missing, "{\"op\": \"decode\", \"q\": \"nothere.npy\"}");
        r = CliRunner.run("run", "--spec", missing.toString(), "--out", dir.resolve("o2").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("\"q\": no such file: ") && r.err().contains("nothere.npy"), r.err());

        Path latin1 = dir.resolve("latin1.json");
        Files.write(latin1, "{\"op\": \"d\u00e9code\"}".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        r = CliRunner.run("run", "--spec", latin1.toString(), "--out", dir.resolve("o3").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("latin1.json: not UTF-8 text"), r.err());

        Path deep = dir.resolve("deep.json");
        Files.writeString(deep, "{\"op\": \"decode\", \"rope\": " + "[".repeat(200_000) + "]".repeat(200_000) + "}");
        r = CliRunner.run("run", "--spec", deep.toString(), "--out", dir.resolve("o4").toString());
        assertEquals(1, r.status());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("JSON nested deeper than 64 levels"), r.err());

        // a validation failure after the inputs are read: no directory, no partial outputs
        Path bad = smallDecode("bad.json", ", \"window_left\": -5");
        r = CliRunner.run("run", "--spec", bad.toString(), "--out", dir.resolve("o5").toString(), "--backend",
                "reference");
        assertEquals(1, r.status());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("windowLeft"), r.err());
        assertTrue(Files.notExists(dir.resolve("o5")));
    }

    @Test
    void hostileNpyHeadersEndInOneLineQuickly() throws IOException {
        Path spec = smallDecode("call.json", "");
        NpyTest.writeRaw(dir.resolve("q.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (300000000, 4), }",
                new byte[1024]);
        long t0 = System.nanoTime();
        CliRunner r = CliRunner.run("run", "--spec", spec.toString(), "--out", dir.resolve("o").toString(),
                "--backend", "reference");
        assertTrue(System.nanoTime() - t0 < 3_000_000_000L);
        assertEquals(1, r.status());
        assertEquals(1, r.err().lines().count(), r.err());
        assertTrue(r.err().contains("needs 4800000000 data bytes, the file has 1024"), r.err());
    }

    @Test
    void outputsNeverReplaceInputs() throws IOException {
        try (HostTensor q = random(DType.F32, 1, 2, 2, 8)) {
            Npy.write(dir.resolve("q.npy"), q);
        }
        Files.writeString(dir.resolve("rope.json"), "{\"op\": \"rope\", \"q\": \"q.npy\", \"positions\": [1, 2]}");
        byte[] before = Files.readAllBytes(dir.resolve("q.npy"));
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("rope.json").toString(), "--out", dir.toString(),
                "--backend", "reference");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("would replace the input"), r.err());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("q.npy")));
    }

    private static void assertSameBits(HostTensor expected, HostTensor actual) {
        try (expected; actual) {
            assertArrayEquals(expected.shape(), actual.shape());
            for (long i = 0; i < expected.elementCount(); i++) {
                assertEquals(expected.getBits(i), actual.getBits(i), "element " + i);
            }
        }
    }
}
