package org.attn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.cli.json.Json;
import org.attn4j.cli.npy.Npy;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs the worked examples of docs/cli.md as written there and checks what the document says they give. */
class DocsExampleTest {
    @TempDir
    Path dir;

    static Path docs() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path f = p.resolve("docs/cli.md");
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        throw new AssertionError("docs/cli.md not found above " + Path.of("").toAbsolutePath());
    }

    /** The fenced block after the line {@code <!-- example: NAME ...}. */
    static String example(String markdown, String name) {
        int marker = markdown.indexOf("<!-- example: " + name);
        assertTrue(marker >= 0, "docs/cli.md has no example " + name);
        int open = markdown.indexOf("```", marker);
        int body = markdown.indexOf('\n', open) + 1;
        int close = markdown.indexOf("\n```", body);
        return markdown.substring(body, close + 1);
    }

    @Test
    void theWorkedDecodeWithSinksGivesWhatTheDocumentSays() throws IOException {
        String spec = example(Files.readString(docs()), "decode-sinks.json");
        Files.writeString(dir.resolve("decode-sinks.json"), spec);
        writeInputs();
        Path out = dir.resolve("out-sinks");
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("decode-sinks.json").toString(), "--out",
                out.toString());
        assertEquals(0, r.status(), r.err());
        float[] expectedO = new float[16];
        for (int i = 0; i < 8; i++) {
            expectedO[i] = (4 + i % 4) * 3f / 4;
            expectedO[8 + i] = (18 + i % 4) * 2f / 3;
        }
        float[] expectedLse = {(float) Math.log(4), (float) Math.log(4), (float) Math.log(3), (float) Math.log(3)};
        try (HostTensor o = Npy.read(out.resolve("o.npy"), DType.F32);
             HostTensor lse = Npy.read(out.resolve("lse.npy"), DType.F32)) {
            for (int i = 0; i < expectedO.length; i++) {
                assertEquals(expectedO[i], o.getFloat(i), 1e-5, "o element " + i);
            }
            for (int i = 0; i < expectedLse.length; i++) {
                assertEquals(expectedLse[i], lse.getFloat(i), 1e-6, "lse element " + i);
            }
        }
    }

    /** The inputs the document's Python writes: any q, zero K, V counting up. */
    private void writeInputs() throws IOException {
        SplittableRandom rnd = new SplittableRandom(0);
        float[] q = new float[2 * 2 * 4];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) rnd.nextGaussian();
        }
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) {
            v[i] = i;
        }
        try (HostTensor tq = HostTensor.of(DType.F32, q, 2, 2, 4); HostTensor tk = HostTensor.allocate(DType.F32, 3, 2, 1, 4);
             HostTensor tv = HostTensor.of(DType.F32, v, 3, 2, 1, 4)) {
            Npy.write(dir.resolve("q.npy"), tq);
            Npy.write(dir.resolve("k.npy"), tk);
            Npy.write(dir.resolve("v.npy"), tv);
        }
    }

    @Test
    void theWorkedDecodeExampleGivesWhatTheDocumentSays() throws IOException {
        String spec = example(Files.readString(docs()), "decode.json");
        Files.writeString(dir.resolve("decode.json"), spec);
        writeInputs();
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("decode.json").toString(), "--out", out.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().startsWith("run: decode on reference (") && r.out().contains(
                "): o [2, 2, 4] f32, lse [2, 2] f32 written to " + out + " in "), r.out());
        float[] expectedO = {4, 5, 6, 7, 4, 5, 6, 7, 18, 19, 20, 21, 18, 19, 20, 21};
        float[] expectedLse = {(float) Math.log(3), (float) Math.log(3), (float) Math.log(2), (float) Math.log(2)};
        try (HostTensor o = Npy.read(out.resolve("o.npy"), DType.F32);
             HostTensor lse = Npy.read(out.resolve("lse.npy"), DType.F32)) {
            for (int i = 0; i < expectedO.length; i++) {
                assertEquals(expectedO[i], o.getFloat(i), 1e-5, "o element " + i);
            }
            for (int i = 0; i < expectedLse.length; i++) {
                assertEquals(expectedLse[i], lse.getFloat(i), 1e-6, "lse element " + i);
            }
        }
        Map<?, ?> result = (Map<?, ?>) Json.parse(Files.readString(out.resolve("result.json")));
        assertEquals("decode", result.get("op"));
        assertEquals(List.of(2L, 2L, 4L), result.get("o_shape"));
        assertEquals(Map.of("file", "lse.npy", "dtype", "f32", "npy_descr", "<f4", "shape", List.of(2L, 2L)),
                ((Map<?, ?>) result.get("outputs")).get("lse"));
        // the keys the document's result.json shows are the ones written
        Map<?, ?> documented = (Map<?, ?>) Json.parse(Files.readString(docs()).split("### result.json")[1]
                .split("```json\n")[1].split("\n```")[0]);
        assertEquals(documented.keySet(), result.keySet());
    }

    @Test
    void theWorkedPerTokenAppendGivesWhatTheDocumentSays() throws IOException {
        String spec = example(Files.readString(docs()), "append-per-token.json");
        Files.writeString(dir.resolve("append-per-token.json"), spec);
        float[] newK = {1, -2, 4, 0.5f, 0, 0, 0, 0, 896, -448, 224, 7};
        float[] newV = new float[newK.length];
        float[] ones = {1, 1, 1, 1};
        for (int i = 0; i < newK.length; i++) {
            newV[i] = -newK[i];
        }
        try (HostTensor k8 = HostTensor.allocate(DType.FP8_E4M3, 2, 2, 1, 4);
             HostTensor ks = HostTensor.of(DType.F32, ones, 2, 2, 1); HostTensor nk = HostTensor.of(DType.F32, newK, 3, 1, 4);
             HostTensor nv = HostTensor.of(DType.F32, newV, 3, 1, 4)) {
            Npy.write(dir.resolve("k8.npy"), k8);
            Npy.write(dir.resolve("v8.npy"), k8);
            Npy.write(dir.resolve("k_scales.npy"), ks);
            Npy.write(dir.resolve("v_scales.npy"), ks);
            Npy.write(dir.resolve("new_k.npy"), nk);
            Npy.write(dir.resolve("new_v.npy"), nv);
        }
        assertEquals("|u1", Npy.header(dir.resolve("k8.npy")).descr()); // what np.uint8 writes
        Path out = dir.resolve("out-append");
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("append-per-token.json").toString(), "--out",
                out.toString());
        assertEquals(0, r.status(), r.err());
        float[] expectedScales = {4f / 448, 1, 2, 1};
        try (HostTensor k = Npy.read(out.resolve("k.npy"), DType.FP8_E4M3);
             HostTensor v = Npy.read(out.resolve("v.npy"), DType.FP8_E4M3);
             HostTensor kScales = Npy.read(out.resolve("k_scales.npy"), DType.F32);
             HostTensor vScales = Npy.read(out.resolve("v_scales.npy"), DType.F32)) {
            assertEquals(List.of(2L, 2L, 1L), List.of(kScales.shape()[0], kScales.shape()[1], kScales.shape()[2]));
            for (int s = 0; s < 4; s++) {
                assertEquals(expectedScales[s], kScales.getFloat(s), 0f, "k scale " + s);
                assertEquals(expectedScales[s], vScales.getFloat(s), 0f, "v scale " + s);
            }
            for (int i = 0; i < newK.length; i++) {
                float scale = expectedScales[i / 4];
                assertEquals(newK[i], k.getFloat(i) * scale, 1e-6 * (1 + Math.abs(newK[i])), "k element " + i);
                assertEquals(newV[i], v.getFloat(i) * scale, 1e-6 * (1 + Math.abs(newV[i])), "v element " + i);
            }
        }
    }

    @Test
    void theWorkedMlaDecodeGivesWhatTheDocumentSays() throws IOException {
        String spec = example(Files.readString(docs()), "mla-decode.json");
        Files.writeString(dir.resolve("mla-decode.json"), spec);
        SplittableRandom rnd = new SplittableRandom(0);
        float[] ckv = new float[24];
        float[] kpe = new float[12];
        for (int i = 0; i < ckv.length; i++) {
            ckv[i] = i;
        }
        for (int i = 0; i < kpe.length; i++) {
            kpe[i] = (float) rnd.nextGaussian();
        }
        try (HostTensor qNope = HostTensor.allocate(DType.F32, 2, 2, 4); HostTensor qPe = HostTensor.allocate(DType.F32, 2, 2, 2);
             HostTensor tc = HostTensor.of(DType.F32, ckv, 3, 2, 4); HostTensor tp = HostTensor.of(DType.F32, kpe, 3, 2, 2)) {
            Npy.write(dir.resolve("q_nope.npy"), qNope);
            Npy.write(dir.resolve("q_pe.npy"), qPe);
            Npy.write(dir.resolve("ckv.npy"), tc);
            Npy.write(dir.resolve("kpe.npy"), tp);
        }
        Path out = dir.resolve("out-mla");
        CliRunner r = CliRunner.run("run", "--spec", dir.resolve("mla-decode.json").toString(), "--out",
                out.toString());
        assertEquals(0, r.status(), r.err());
        float[] expectedO = {4, 5, 6, 7, 4, 5, 6, 7, 18, 19, 20, 21, 18, 19, 20, 21};
        float[] expectedLse = {(float) Math.log(3), (float) Math.log(3), (float) Math.log(2), (float) Math.log(2)};
        try (HostTensor o = Npy.read(out.resolve("o.npy"), DType.F32);
             HostTensor lse = Npy.read(out.resolve("lse.npy"), DType.F32)) {
            for (int i = 0; i < expectedO.length; i++) {
                assertEquals(expectedO[i], o.getFloat(i), 1e-5, "o element " + i);
            }
            for (int i = 0; i < expectedLse.length; i++) {
                assertEquals(expectedLse[i], lse.getFloat(i), 1e-6, "lse element " + i);
            }
        }
    }
}
