package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.PageTable;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The host-side schedule: units cover every query item and key once; splits follow the policy. */
class AttentionScheduleTest {
    private static final TileConfig TILES = TileConfig.choose(128, 4, 48 << 10, 1024, false);

    private static AttentionProblem decode(int[] kvLens, PlanOptions plan) {
        int[][] pages = new int[kvLens.length][];
        int next = 0;
        for (int b = 0; b < kvLens.length; b++) {
            pages[b] = new int[(kvLens[b] + 15) / 16];
            for (int i = 0; i < pages[b].length; i++) {
                pages[b][i] = next++;
            }
        }
        int[] qo = new int[kvLens.length + 1];
        for (int b = 0; b < kvLens.length; b++) {
            qo[b + 1] = b + 1;
        }
        return new AttentionProblem(new HeadConfig(32, 8, 128), qo, PageTable.of(16, pages, kvLens), null,
                AttentionOptions.DEFAULT, null, null, true, plan, DType.BF16, DType.BF16, 16);
    }

    @Test
    void longFewRequestsAreSplitAndEveryKeyIsCoveredOnce() {
        int[] lens = {100_000, 3000, 7};
        AttentionSchedule s = AttentionSchedule.of(decode(lens, PlanOptions.DEFAULT), TILES, 132);
        assertTrue(s.chunk() > 0 && s.splitRequests() >= 1, s.describe());
        long[] covered = new long[lens.length];
        for (int u = 0; u < s.unitCount(); u++) {
            int[] unit = Arrays.copyOfRange(s.units(), 4 * u, 4 * u + 4);
            covered[unit[0]] += unit[3] - unit[2];
        }
        for (int b = 0; b < lens.length; b++) {
            assertEquals(lens[b], covered[b], "keys of request " + b);
        }
        assertEquals(s.mergeRowCount(), s.splitRequests());
    }

    @Test
    void manyShortRequestsAreNotSplit() {
        int[] lens = new int[64];
        Arrays.fill(lens, 512);
        AttentionSchedule s = AttentionSchedule.of(decode(lens, PlanOptions.DEFAULT), TILES, 2);
        assertEquals(0, s.splitRequests(), s.describe());
        assertEquals(0, s.tmpRows());
    }

    @Test
    void deterministicChunksIgnoreTheRestOfTheBatch() {
        AttentionSchedule alone = AttentionSchedule.of(decode(new int[] {5000}, PlanOptions.DETERMINISTIC), TILES, 132);
        AttentionSchedule crowd = AttentionSchedule.of(decode(new int[] {5000, 9, 70_000, 5000},
                PlanOptions.DETERMINISTIC), TILES, 132);
        assertEquals(AttentionSchedule.DETERMINISTIC_CHUNK, alone.chunk());
        assertEquals(alone.chunk(), crowd.chunk());
        int[] first = Arrays.copyOfRange(alone.units(), 0, alone.units().length);
        int[] same = Arrays.copyOfRange(crowd.units(), 0, first.length);
        assertArrayEquals(first, same, "request 0's units must not depend on the batch");
    }

    @Test
    void maxSplitChunkCapsTheChunk() {
        AttentionSchedule s = AttentionSchedule.of(decode(new int[] {1000}, new PlanOptions(false, 100)), TILES, 2);
        assertEquals(100, s.chunk());
        assertEquals(10, s.unitCount());
    }

    @Test
    void streamingDecodeSplitsDecodeLlama8bIntoSeveralWaves() {
        int[] lens = new int[64];
        Arrays.fill(lens, 4096);
        DecodeStreamConfig c = DecodeStreamConfig.choose(128, 4, 1024);
        assertEquals(16, c.keyQuantum(), c.describe()); // 4 row groups, 4 keys per step
        long target = 132L * DecodeStreamConfig.GROUPS_PER_COMPUTE_UNIT;
        AttentionSchedule s = AttentionSchedule.of(decode(lens, PlanOptions.DEFAULT), c.tm(), c.keyQuantum(), target,
                AttentionSchedule.Fill.AT_LEAST,
                b -> true);
        assertEquals(0, s.chunk() % c.keyQuantum(), s.describe());
        assertEquals(64, s.splitRequests(), s.describe());
        assertTrue(s.unitCount() * 8L >= target, s.describe());
    }

    @Test
    void aRequestFilterLeavesTheOthersOut() {
        AttentionSchedule s = AttentionSchedule.of(decode(new int[] {50, 60, 70}, PlanOptions.DEFAULT), 4, 32, 8,
                AttentionSchedule.Fill.AT_MOST,
                b -> b != 1);
        assertEquals(2, s.unitCount(), s.describe());
        assertEquals(0, s.units()[0]);
        assertEquals(2, s.units()[4]);
    }

    @Test
    void aSplitGridStaysWithinItsTarget() {
        // A grid just past a whole number of waves idles the machine for most of one more wave.
        int hkv = 8;
        int[][] batches = {{32768}, {32768, 32768}, {100_000, 3000, 7}, {4096, 4096, 4096, 4096, 4096}, {1500}};
        for (int[] lens : batches) {
            AttentionProblem p = decode(lens, PlanOptions.DEFAULT);
            long unsplit = AttentionSchedule.of(p, 4, 64, 0, AttentionSchedule.Fill.AT_MOST, b -> true).unitCount()
                    * (long) hkv;
            for (long target : new long[] {100, 264, 528, 2112}) {
                AttentionSchedule s = AttentionSchedule.of(p, 4, 64, target, AttentionSchedule.Fill.AT_MOST, b -> true);
                long groups = s.unitCount() * (long) hkv;
                if (s.splitRequests() > 0) {
                    assertTrue(groups <= Math.max(target, 2 * unsplit),
                            groups + " work-groups for a target of " + target + ": " + s.describe());
                    assertTrue(groups > unsplit, s.describe());
                }
            }
        }
    }
}
