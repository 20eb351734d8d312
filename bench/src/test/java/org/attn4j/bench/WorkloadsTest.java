package org.attn4j.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.attn4j.kv.KvLayout;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The named workloads as the data file defines them, and how they are counted and scaled. */
class WorkloadsTest {
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
    void aRowTheBackendDoesNotOfferIsNamedWithItsReason() {
        java.util.Set<DType> sixteen = java.util.Set.of(DType.F16, DType.BF16, DType.F32);
        java.util.Set<DType> kv = java.util.Set.of(DType.F16, DType.BF16, DType.F32, DType.FP8_E4M3, DType.FP8_E5M2);
        java.util.Set<KvLayout> layouts = java.util.Set.of(KvLayout.NHD, KvLayout.HND);
        Capabilities withoutFp8Q = new Capabilities(sixteen, kv, 32, 256, 8, layouts, java.util.Set.of());
        Capabilities withFp8Q = new Capabilities(sixteen, kv, 32, 256, 8, layouts, java.util.Set.of(Feature.FP8_QUERY));
        Workload fp8 = Workloads.classes().get("prefill-causal-8k-fp8");
        assertTrue(fp8.unsupportedBy(withoutFp8Q).contains("FP8_QUERY"), fp8.unsupportedBy(withoutFp8Q));
        assertNull(fp8.unsupportedBy(withFp8Q));
        for (Workload w : Workloads.classes().values()) {
            if (!w.qDtype().isFp8()) {
                assertNull(w.unsupportedBy(withoutFp8Q), w.name());
            }
        }
        Capabilities narrow = new Capabilities(sixteen, java.util.Set.of(DType.BF16), 64, 128, 64, layouts,
                java.util.Set.of());
        assertTrue(Workloads.classes().get("prefill-d96").unsupportedBy(narrow).contains("head dim 96"));
        assertTrue(Workloads.classes().get("decode-llama8b-e4m3").unsupportedBy(narrow).contains("K/V"));
        assertNull(Workloads.named().get("decode-llama8b").unsupportedBy(narrow));
    }

    @Test
    void drawnLengthsAreTheOnesThePeersScriptDraws() {
        // the same sequence bench/peers/torch_peers.py computes with its own copy of the generator
        assertArrayEquals(new int[] {2452, 1423, 1455, 3177, 1344, 4041, 2642, 3458, 1191, 595, 1368, 2680, 898, 940,
            3144, 3636}, Workloads.drawLengths(16, 512, 4096, Workloads.lengthSeed()));
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
    void shapeClassesAreSelectableByNameAndFp8ClassesMatchTheirTwins() {
        assertTrue(Workloads.classes().size() >= 10);
        List<String> names = Workloads.names();
        assertEquals(Workloads.named().size() + Workloads.classes().size(), names.size());
        assertTrue(names.containsAll(Workloads.classes().keySet()));
        assertEquals(256, Workloads.byName("decode-d256").heads().headDimQk());
        assertEquals(96, Workloads.byName("prefill-d96").heads().headDimQk());
        assertEquals(7, Workloads.byName("decode-gqa7").heads().groupSize());
        for (String[] pair : new String[][] {{"decode-llama8b-e4m3", "decode-llama8b"},
            {"decode-long-e4m3", "decode-long"}, {"prefill-causal-8k-e4m3", "prefill-causal-8k"}}) {
            Workload fp8 = Workloads.byName(pair[0]);
            Workload twin = Workloads.byName(pair[1]);
            assertEquals(DType.FP8_E4M3, fp8.kvDtype());
            assertEquals(twin.heads(), fp8.heads());
            assertArrayEquals(twin.kvLens(), fp8.kvLens());
            assertArrayEquals(twin.qoLens(), fp8.qoLens());
            assertEquals(twin.causal(), fp8.causal());
            // FP8 halves the K/V bytes; q and o keep their type
            long qo = (long) twin.totalQ() * twin.heads().numQoHeads()
                    * (twin.heads().headDimQk() + twin.heads().headDimVo()) * 2;
            assertEquals((Traffic.of(twin).bytes() - qo) / 2, Traffic.of(fp8).bytes() - qo);
        }
        // An FP8 q: q's bytes halve too, o stays BF16.
        Workload fp8q = Workloads.byName("prefill-causal-8k-fp8");
        Workload twin = Workloads.byName("prefill-causal-8k");
        assertEquals(DType.FP8_E4M3, fp8q.qDtype());
        assertEquals(DType.BF16, fp8q.outputDtype());
        assertEquals(DType.BF16, twin.outputDtype());
        long qBytes = (long) twin.totalQ() * twin.heads().numQoHeads() * twin.heads().headDimQk();
        long oBytes = (long) twin.totalQ() * twin.heads().numQoHeads() * twin.heads().headDimVo() * 2;
        assertEquals((Traffic.of(twin).bytes() - 2 * qBytes - oBytes) / 2, Traffic.of(fp8q).bytes() - qBytes - oBytes);
        assertEquals(Traffic.of(twin).flops(), Traffic.of(fp8q).flops());
        assertEquals(null, Workloads.byName("decode-llama9b"));
    }

    @Test
    void theDataFileDefinesSpecSection10() {
        assertEquals(List.of("decode-llama8b", "decode-mha", "decode-long", "prefill-causal-8k", "prefill-batch-paged",
                "cascade-shared-prefix"), List.copyOf(Workloads.named().keySet()));
        Workload mha = Workloads.named().get("decode-mha");
        assertEquals(Workload.Op.DECODE, mha.op());
        assertEquals(128, mha.batch());
        assertEquals(32, mha.heads().numKvHeads());
        assertEquals(1024, mha.kvLens()[0]);
        assertEquals(1, mha.qoLens()[0]);
        Workload causal = Workloads.named().get("prefill-causal-8k");
        assertTrue(causal.causal());
        assertArrayEquals(new int[] {8192}, causal.qoLens());
        Workload cascade = Workloads.named().get("cascade-shared-prefix");
        assertEquals(32768, cascade.sharedPrefix());
        assertEquals(256, cascade.kvLens()[63]);
        for (Workload w : Workloads.named().values()) {
            assertEquals(DType.BF16, w.qDtype());
            assertEquals(DType.BF16, w.kvDtype());
            assertEquals(KvLayout.NHD, w.layout());
            assertEquals(16, w.pageSize());
            assertEquals(32, w.heads().numQoHeads());
            assertEquals(128, w.heads().headDimQk());
            assertEquals(w.name() + "[bf16/bf16/NHD]", w.label());
        }
        assertArrayEquals(Workloads.drawLengths(16, 512, 4096, Workloads.lengthSeed()),
                Workloads.named().get("prefill-batch-paged").kvLens());
    }
}
