package org.attn4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.options.HeadConfig;
import org.junit.jupiter.api.Test;

/** decode-long-cp runs on one device with logical shards and reports each shard and the gather's share. */
class ContextParallelBenchTest {
    @Test
    void logicalShardsOnOneBackendReportEveryShard() {
        try (AttentionBackend be = Backends.open("reference")) {
            ContextParallelBench.Result r = ContextParallelBench.measure(be, 2, 100, new HeadConfig(4, 2, 16), 4, 1);
            assertEquals(4, r.shardUs().length);
            assertTrue(r.totalUs() > 0 && r.gatherShare() >= 0 && r.gatherShare() <= 1, r.toString());
            BenchRow row = r.row(be.id());
            assertTrue(row.check().contains("4 logical shards") && row.check().contains("gather+merge"), row.check());
        }
    }
}
