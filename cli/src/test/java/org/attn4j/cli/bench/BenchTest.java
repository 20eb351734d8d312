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
    void namedWorkloadsRunScaledDownOnTheReference() {
        CliRunner r = CliRunner.run("bench", "--backends", "reference", "--workload", "decode-llama8b",
                "--workload", "cascade-shared-prefix", "--scale", "0.25", "--cpu-scale", "0.03",
                "--seconds", "0.02", "--min-reps", "2", "--warmup", "0");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("decode-llama8b") && r.out().contains("cascade-shared-prefix"), r.out());
    }
}
