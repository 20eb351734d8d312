package org.attn4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.attn4j.bench.BenchReport;
import org.attn4j.bench.BenchRow;
import org.attn4j.cli.CliRunner;
import org.attn4j.cli.json.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchTest {
    @TempDir
    Path dir;

    @Test
    void adHocRowIsTimedCheckedAndWritten() throws Exception {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--op", "prefill", "--batch", "2",
                "--kv-len", "20..40", "--hq", "4", "--hkv", "2", "--head-dim", "32", "--page-size", "8", "--causal",
                "--seconds", "0.05", "--min-reps", "3", "--out", dir.toString(), "--name", "tiny");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("tiny[bf16/bf16/NHD]") && r.out().contains(" ok "), r.out());
        List<BenchRow> rows = BenchReport.readCsv(dir.resolve(BenchReport.CSV));
        assertEquals(1, rows.size());
        BenchRow row = rows.getFirst();
        assertEquals("tiny[bf16/bf16/NHD]", row.workload());
        assertEquals("reference", row.backend());
        assertTrue(row.medianUs() > 0 && row.p10Us() <= row.medianUs() && row.medianUs() <= row.p90Us());
        assertTrue(row.reps() >= 3);
        assertTrue(row.check().startsWith("ok"), row.check());
        assertTrue(Double.isNaN(row.ceiling()) && Double.isNaN(row.pctCeiling()), "a CPU row has no ceiling");
        String svg = Files.readString(dir.resolve(BenchReport.SVG));
        assertTrue(svg.contains("<svg xmlns") && svg.contains(">tiny (prefill") && svg.contains(">reference [bf16/bf16/NHD]<")
                && svg.contains("of best (no ceiling)") && svg.contains(">ceiling"), svg);
        assertTrue(Files.notExists(dir.resolve("bench.png")));
    }

    @Test
    void csvAndJsonHoldTheSameValuesAndNoValueTheSameWay() throws Exception {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--op", "decode", "--batch", "3",
                "--kv-len", "5,17,33", "--hq", "4", "--hkv", "1", "--head-dim", "16", "--page-size", "4",
                "--seconds", "0.02", "--min-reps", "2", "--warmup", "0", "--out", dir.toString());
        assertEquals(0, r.status(), r.out() + r.err());
        List<String> lines = Files.readAllLines(dir.resolve(BenchReport.CSV));
        assertEquals(String.join(",", BenchRow.COLUMNS), lines.getFirst());
        List<String> csv = BenchRow.parseCsvLine(lines.get(1));
        Map<?, ?> doc = (Map<?, ?>) Json.parse(Files.readString(dir.resolve(BenchReport.JSON)));
        Map<?, ?> json = (Map<?, ?>) ((List<?>) doc.get("rows")).getFirst();
        assertEquals(BenchRow.COLUMNS, List.copyOf(json.keySet().stream().map(String::valueOf).toList()));
        for (int i = 0; i < BenchRow.COLUMNS.size(); i++) {
            String column = BenchRow.COLUMNS.get(i);
            Object j = json.get(column);
            String c = csv.get(i);
            if (j == null) {
                assertEquals("", c, column);
            } else if (j instanceof Number n) {
                assertEquals(n.doubleValue(), Double.parseDouble(c), 0.0, column);
            } else {
                assertEquals(String.valueOf(j), c, column);
            }
        }
        assertTrue(json.get("ceiling") == null && json.get("pct_ceiling") == null, json.toString());
        assertTrue(doc.get("settings") instanceof Map<?, ?> settings && settings.get("cpu_scale") instanceof Double
                && settings.containsKey("warmup_runs"), String.valueOf(doc.get("settings")));
        assertEquals(BenchReport.NO_VALUE, doc.get("no_value"));
    }

    @Test
    void typedShapesRunAsTypedOnCpuBackends() throws Exception {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--op", "decode", "--batch", "2",
                "--kv-len", "256..1024", "--hq", "4", "--hkv", "2", "--head-dim", "16", "--seconds", "0.02",
                "--min-reps", "2", "--warmup", "0", "--out", dir.toString());
        assertEquals(0, r.status(), r.out() + r.err());
        BenchRow row = BenchReport.readCsv(dir.resolve(BenchReport.CSV)).getFirst();
        assertEquals("decode-b2-kv256..1024-4x2x16[bf16/bf16/NHD]", row.workload());
        assertEquals(1.0, row.scale());
        for (String n : row.lengths().replaceAll("[^0-9]+", " ").strip().split(" ")) {
            assertTrue(Integer.parseInt(n) >= 256, row.lengths());
        }
    }

    @Test
    void scaledRowsAndOverriddenDtypesSaySoInTheirNames() throws Exception {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--workload", "decode-mha", "--scale", "0.5",
                "--cpu-scale", "0.0625", "--kv-dtype", "fp8_e4m3", "--layout", "HND", "--seconds", "0.02",
                "--min-reps", "2", "--warmup", "0", "--check-rows", "2", "--out", dir.toString());
        assertEquals(0, r.status(), r.out() + r.err());
        BenchRow row = BenchReport.readCsv(dir.resolve(BenchReport.CSV)).getFirst();
        assertEquals("decode-mha[bf16/fp8_e4m3/HND] x0.03125", row.workload());
        assertEquals("kv 32", row.lengths());
        assertTrue(r.out().contains("decode-mha[bf16/fp8_e4m3/HND] x0.03125"), r.out());
    }

    @Test
    void replotReadsRowsThePeersScriptWrites() throws Exception {
        Path csv = dir.resolve("mixed.csv");
        String header = String.join(",", BenchRow.COLUMNS);
        // one row as attn4j writes it, one as Python's csv module writes it (quoted field, %.6g numbers, nan)
        String java = "decode-llama8b[bf16/bf16/NHD],cuda,NVIDIA H200,decode,64,32,8,128,16,bf16,bf16,NHD,false,"
                + "kv 4096,1,260.5,255.1,270.2,100,1,1074790400,4294967296,TB/s,4.12587,4490000000000,91.8902,"
                + "ok 3.91e-03,CUDA events";
        String python = "decode-llama8b,torch-flex,NVIDIA H200,decode,64,32,8,128,16,bf16,bf16,paged HND,false,"
                + "kv 4096,1,479.012,470.5,490.25,100,1,1074790400,4294967296,TB/s,2.24376,4.49e+12,nan,"
                + "ok 7.81e-03,\"CUDA events (a, b)\"";
        Files.write(csv, List.of(header, java, python));
        List<BenchRow> rows = BenchReport.readCsv(csv);
        assertEquals(2, rows.size());
        assertEquals("CUDA events (a, b)", rows.get(1).timer());
        assertEquals(4.49e12, rows.get(1).ceiling());
        assertTrue(Double.isNaN(rows.get(1).pctCeiling()));
        CliRunner r = CliRunner.run("bench", "--replot", csv.toString(), "--out", dir.toString());
        assertEquals(0, r.status(), r.err());
        String svg = Files.readString(dir.resolve(BenchReport.SVG));
        // both rows land in one group; the peer's bar is labelled with its layout
        assertEquals(1, svg.split(">decode-llama8b \\(").length - 1, svg);
        assertTrue(svg.contains(">cuda [bf16/bf16/NHD]<") && svg.contains(">torch-flex paged HND<"), svg);
        assertTrue(svg.contains("91.9% of ceiling") && svg.contains("ceiling (4.49 TB/s)"), svg);
    }

    @Test
    void namedWorkloadsRunScaledDownOnTheReference() {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--workload", "decode-llama8b",
                "--workload", "cascade-shared-prefix", "--scale", "0.25", "--cpu-scale", "0.03",
                "--seconds", "0.02", "--min-reps", "2", "--warmup", "0");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("decode-llama8b[bf16/bf16/NHD] x0.0075")
                && r.out().contains("cascade-shared-prefix[bf16/bf16/NHD] x0.0075"), r.out());
    }

    @Test
    void anFp8QueryClassRunsOnTheReferenceWithABf16Output() {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--workload", "prefill-causal-8k-fp8",
                "--scale", "0.01", "--cpu-scale", "0.5", "--seconds", "0.02", "--min-reps", "2", "--warmup", "0");
        assertEquals(0, r.status(), r.out() + r.err());
        String row = r.out().lines().filter(l -> l.startsWith("prefill-causal-8k-fp8[fp8_e4m3/fp8_e4m3/NHD]"))
                .findFirst().orElse("");
        assertTrue(row.contains(" ok"), r.out());
    }

    @Test
    void decodeMlaRunsByNameOnlyAndChecked() {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--workload", "decode-mla",
                "--scale", "0.01", "--cpu-scale", "0.1", "--seconds", "0.02", "--min-reps", "2", "--warmup", "0");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("decode-mla[bf16/bf16/NHD] x0.001") && r.out().contains("mla_decode")
                && r.out().contains(" ok "), r.out());
        assertTrue(!r.out().contains("decode-llama8b") && !r.out().contains("engine-step"), r.out());
        CliRunner typo = CliRunner.run("bench", "--backends", "reference", "--workload", "decode-mal");
        assertEquals(2, typo.status());
        assertTrue(typo.err().contains("engine-step, decode-long-cp, decode-mla"), typo.err());
    }
}
