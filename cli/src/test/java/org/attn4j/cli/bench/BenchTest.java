package org.attn4j.cli.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.attn4j.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchTest {
    @TempDir
    Path dir;

    @Test
    void countsAllowedPairsFromTheMask() {
        assertEquals(6, Traffic.allowedPairs(3, 3, true));       // 1 + 2 + 3
        assertEquals(3 + 4 + 5, Traffic.allowedPairs(3, 5, true)); // bottom-right aligned
        assertEquals(15, Traffic.allowedPairs(3, 5, false));
        Workload w = Workloads.named().get("decode-llama8b");
        Traffic t = Traffic.of(w);
        assertEquals(64L * 4096 * 8 * 128 * 2 * 2 + 2L * 64 * 32 * 128 * 2, t.bytes());
        Workload c = Workloads.named().get("cascade-shared-prefix");
        assertEquals((32768L + 64 * 256) * 8 * 128 * 4 + 2L * 64 * 32 * 128 * 2, Traffic.of(c).bytes());
    }

    @Test
    void drawnLengthsAreTheOnesThePeersScriptDraws() {
        // the same sequence bench/peers/torch_peers.py computes with its own copy of the generator
        assertArrayEquals(new int[] {2452, 1423, 1455, 3177, 1344, 4041, 2642, 3458, 1191, 595, 1368, 2680, 898, 940,
            3144, 3636}, Workloads.drawLengths(16, 512, 4096, Workloads.LENGTH_SEED));
    }

    @Test
    void scalingKeepsCausalValidAndThePrefixInWholePages() {
        Workload w = Workloads.named().get("cascade-shared-prefix").scaled(1.0 / 100);
        assertEquals(0, w.sharedPrefix() % w.pageSize());
        assertTrue(w.sharedPrefix() >= w.pageSize());
        Workload p = Workloads.named().get("prefill-batch-paged").scaled(0.01);
        for (int b = 0; b < p.batch(); b++) {
            assertTrue(p.qoLens()[b] <= p.kvLens()[b]);
        }
    }

    @Test
    void adHocRowIsTimedCheckedAndWritten() throws Exception {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--op", "prefill", "--batch", "2",
                "--kv-len", "20..40", "--hq", "4", "--hkv", "2", "--head-dim", "32", "--page-size", "8", "--causal",
                "--seconds", "0.05", "--min-reps", "3", "--out", dir.toString(), "--name", "tiny");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("tiny") && r.out().contains(" ok "), r.out());
        List<BenchRow> rows = BenchReport.readCsv(dir.resolve(BenchReport.CSV));
        assertEquals(1, rows.size());
        BenchRow row = rows.getFirst();
        assertEquals("reference", row.backend());
        assertTrue(row.medianUs() > 0 && row.p10Us() <= row.medianUs() && row.medianUs() <= row.p90Us());
        assertTrue(row.reps() >= 3);
        assertTrue(row.check().startsWith("ok"), row.check());
        assertTrue(Files.readString(dir.resolve(BenchReport.JSON)).contains("\"workload\": \"tiny\""));
        assertTrue(Files.size(dir.resolve(BenchReport.PNG)) > 0);
    }

    @Test
    void replotReadsRowsThePeersScriptWrites() throws Exception {
        Path csv = dir.resolve("mixed.csv");
        String header = String.join(",", BenchRow.COLUMNS);
        // one row as attn4j writes it, one as Python's csv module writes it (quoted field, %.6g numbers)
        String java = "decode-llama8b,cuda,NVIDIA H200,decode,64,32,8,128,16,bf16,bf16,NHD,false,kv 4096,1,"
                + "260.5,255.1,270.2,100,1,1074790400,4294967296,TB/s,4.12587,4490000000000,91.8902,ok 3.91e-03,"
                + "CUDA events";
        String python = "decode-llama8b,torch-flex,NVIDIA H200,decode,64,32,8,128,16,bf16,bf16,paged HND,false,"
                + "kv 4096,1,479.012,470.5,490.25,100,1,1074790400,4294967296,TB/s,2.24376,4.49e+12,49.9724,"
                + "ok 7.81e-03,\"CUDA events (a, b)\"";
        Files.write(csv, List.of(header, java, python));
        List<BenchRow> rows = BenchReport.readCsv(csv);
        assertEquals(2, rows.size());
        assertEquals("CUDA events (a, b)", rows.get(1).timer());
        assertEquals(4.49e12, rows.get(1).ceiling());
        CliRunner r = CliRunner.run("bench", "--replot", csv.toString(), "--out", dir.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.size(dir.resolve(BenchReport.PNG)) > 0);
    }

    @Test
    void namedWorkloadsRunScaledDownOnTheReference() {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--workload", "decode-llama8b",
                "--workload", "cascade-shared-prefix", "--scale", "0.25", "--cpu-scale", "0.03",
                "--seconds", "0.02", "--min-reps", "2", "--warmup", "0");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("decode-llama8b") && r.out().contains("cascade-shared-prefix"), r.out());
    }
}
