package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.PageTable;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The host-side schedule: every (request, query item, key) is covered by exactly one work item. */
class AttentionScheduleTest {
    private static AttentionProblem problem(int[] qoLens, int[] kvLens, HeadConfig heads, PlanOptions plan,
                                            boolean decode) {
        int pageSize = 16;
        int[][] pages = ContiguousPages.of(kvLens, pageSize);
        int[] qo = new int[qoLens.length + 1];
        for (int b = 0; b < qoLens.length; b++) {
            qo[b + 1] = qo[b] + qoLens[b];
        }
        return new AttentionProblem(heads, qo, PageTable.of(pageSize, pages, kvLens), null, AttentionOptions.DEFAULT,
                null, null, decode, plan, DType.BF16, DType.BF16, 16);
    }

    @Test
    void workCoversEveryItemAndKeyOnce() {
        Random r = new Random(42);
        for (int trial = 0; trial < 200; trial++) {
            int batch = 1 + r.nextInt(6);
            int[] qo = new int[batch];
            int[] kv = new int[batch];
            for (int b = 0; b < batch; b++) {
                kv[b] = r.nextInt(4) == 0 ? 0 : r.nextInt(trial % 2 == 0 ? 50_000 : 300);
                qo[b] = r.nextInt(3) == 0 ? 1 : r.nextInt(Math.max(1, Math.min(kv[b], 40)) + 1);
            }
            HeadConfig heads = new HeadConfig(8, 1 << r.nextInt(4), 64);
            PlanOptions plan = r.nextBoolean() ? PlanOptions.DEFAULT : new PlanOptions(r.nextBoolean(), r.nextInt(3) * 700);
            AttentionProblem p = problem(qo, kv, heads, plan, false);
            for (BlockShape shape : new BlockShape[] {AttentionSchedule.genericShape(p), AttentionSchedule.tensorCoreShape(p)}) {
                AttentionSchedule s = AttentionSchedule.of(p, shape, AttentionSchedule.Device.HOPPER, 2);
                int g = heads.groupSize();
                for (int b = 0; b < batch; b++) {
                    long[] coverage = new long[qo[b] * g];
                    for (int w = 0; w < s.workItems(); w++) {
                        int[] e = java.util.Arrays.copyOfRange(s.work(), w * 5, w * 5 + 5);
                        if (e[0] != b) {
                            continue;
                        }
                        for (int it = e[1]; it < Math.min(e[1] + shape.itemsPerBlock, qo[b] * g); it++) {
                            coverage[it] += e[3] - e[2];
                        }
                        assertTrue(e[2] >= 0 && e[2] <= e[3] && e[3] <= kv[b], "key range " + e[2] + ".." + e[3]);
                    }
                    for (int it = 0; it < coverage.length; it++) {
                        assertEquals(kv[b], coverage[it], "request " + b + " item " + it + " keys covered, " + shape);
                    }
                }
                if (plan.maxSplitChunk() > 0) {
                    assertTrue(s.splitChunk() <= plan.maxSplitChunk() + 31, "chunk " + s.splitChunk());
                }
            }
        }
    }

    @Test
    void longDecodeSplitsToFillTheDeviceInOneWave() {
        AttentionProblem p = problem(new int[] {1, 1, 1, 1}, new int[] {131072, 131072, 131072, 131072},
                new HeadConfig(32, 8, 128), PlanOptions.DEFAULT, true);
        AttentionSchedule s = AttentionSchedule.of(p, AttentionSchedule.tensorCoreShape(p), AttentionSchedule.Device.HOPPER, 2);
        assertEquals(BlockShape.TC_DECODE, s.shape());
        int perSm = AttentionSchedule.Device.HOPPER.sharedPerSm() / (BlockShape.TC_DECODE.sharedBytes(128, 2) + 1024);
        assertTrue(s.workItems() * 8 <= perSm * 132, s.workItems() * 8 + " blocks for " + perSm * 132 + " slots");
        assertTrue(s.workItems() * 8 > perSm * 132 / 2, "too few blocks: " + s.workItems() * 8);
    }

    @Test
    void deterministicChunkIgnoresTheBatch() {
        HeadConfig heads = new HeadConfig(8, 2, 128);
        AttentionSchedule alone = AttentionSchedule.of(problem(new int[] {1}, new int[] {9000}, heads,
                PlanOptions.DETERMINISTIC, true), BlockShape.TC_DECODE, AttentionSchedule.Device.HOPPER, 2);
        AttentionSchedule crowd = AttentionSchedule.of(problem(new int[] {1, 1, 1}, new int[] {9000, 100, 40000}, heads,
                PlanOptions.DETERMINISTIC, true), BlockShape.TC_DECODE, AttentionSchedule.Device.HOPPER, 2);
        assertEquals(alone.splitChunk(), crowd.splitChunk());
        assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOf(alone.work(), alone.work().length)),
                java.util.Arrays.toString(java.util.Arrays.copyOf(crowd.work(), alone.work().length)));
    }

    /**
     * Query-tiled prefill: every (request, row, head) sees each of its keys in exactly one split,
     * and split states get distinct workspace slots in merge_stream's layout (split s of request b
     * at base + s * Hkv * items, then KV head, row, head of the group).
     */
    @Test
    void queryTilesCoverEveryKeyOnceWithDistinctPartialSlots() {
        Random r = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            int batch = 1 + r.nextInt(4);
            int[] qo = new int[batch];
            int[] kv = new int[batch];
            for (int b = 0; b < batch; b++) {
                kv[b] = r.nextInt(5) == 0 ? 0 : r.nextInt(trial % 2 == 0 ? 40_000 : 3000);
                qo[b] = r.nextInt(Math.max(1, Math.min(kv[b], 300)) + 1);
            }
            HeadConfig heads = new HeadConfig(8, 1 << r.nextInt(4), 128);
            PlanOptions plan = r.nextBoolean() ? PlanOptions.DEFAULT : new PlanOptions(r.nextBoolean(), r.nextInt(3) * 700);
            AttentionProblem p = problem(qo, kv, heads, plan, false);
            BlockShape[] shapes = {BlockShape.FA2_PREFILL, BlockShape.WGMMA_PREFILL, BlockShape.WGMMA_PREFILL_WIDE};
            BlockShape shape = shapes[r.nextInt(shapes.length)];
            AttentionSchedule s = AttentionSchedule.queryTiles(p, shape, AttentionSchedule.Device.HOPPER, 2);
            int g = heads.groupSize();
            int chunk = s.splitChunk();
            java.util.Set<Long> slots = new java.util.HashSet<>();
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < heads.numQoHeads(); h++) {
                    for (int start = 0; start < qo[b]; start += shape.itemsPerBlock) {
                        long covered = 0;
                        for (int w = 0; w < s.workItems(); w++) {
                            int[] e = java.util.Arrays.copyOfRange(s.work(), w * 5, w * 5 + 5);
                            if (e[0] != b || e[1] != start || e[2] != h) {
                                continue;
                            }
                            if (e[4] < 0) {
                                covered += kv[b];
                                continue;
                            }
                            covered += Math.max(0, Math.min(kv[b], (long) (e[3] + 1) * chunk) - (long) e[3] * chunk);
                            for (int i = start; i < Math.min(qo[b], start + shape.itemsPerBlock); i++) {
                                long slot = e[4] + (long) (h / g) * qo[b] * g + (long) i * g + h % g;
                                assertTrue(slot >= 0 && slot < s.partialSlots(), "slot " + slot);
                                assertTrue(slots.add(slot), "slot " + slot + " used twice");
                            }
                        }
                        assertEquals(kv[b], covered, "request " + b + " tile " + start + " head " + h);
                    }
                }
            }
            assertEquals(s.partialSlots(), slots.size(), "every workspace slot is written");
            if (plan.deterministic()) {
                assertEquals(0, s.partialSlots(), "deterministic plans do not split");
            }
        }
    }

    @Test
    void queryTilesSplitASharedPrefixButNotALongPrompt() {
        HeadConfig heads = new HeadConfig(32, 8, 128);
        // a cascade's shared level: 64 query rows (one per request) against a 32768-token prefix
        AttentionSchedule prefix = AttentionSchedule.queryTiles(problem(new int[] {64}, new int[] {32768}, heads,
                PlanOptions.DEFAULT, false), BlockShape.WGMMA_PREFILL, AttentionSchedule.Device.HOPPER, 1);
        assertTrue(prefix.splitChunk() < 32768, prefix.toString());
        assertTrue(prefix.workItems() >= 132, prefix.workItems() + " blocks for 132 multiprocessors");
        assertEquals(64, prefix.mergedRows());
        AttentionSchedule prompt = AttentionSchedule.queryTiles(problem(new int[] {8192}, new int[] {8192}, heads,
                PlanOptions.DEFAULT, false), BlockShape.WGMMA_PREFILL, AttentionSchedule.Device.HOPPER, 1);
        assertEquals(Integer.MAX_VALUE, prompt.splitChunk());
        assertEquals(0, prompt.mergedRows());
    }
}
