package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.PageTable;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.spi.MlaProblem;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The MLA kernel's host schedule: every (request, item, key) covered once, merges consistent with the work. */
class MlaScheduleTest {
    private static MlaProblem problem(int[] qoLens, int[] kvLens, int heads, boolean deterministic) {
        int pageSize = 64;
        int[] qo = new int[qoLens.length + 1];
        for (int b = 0; b < qoLens.length; b++) {
            qo[b + 1] = qo[b] + qoLens[b];
        }
        boolean decode = Arrays.stream(qoLens).allMatch(n -> n == 1);
        return new MlaProblem(MlaHeadConfig.deepSeek(heads), qo,
                PageTable.of(pageSize, ContiguousPages.of(kvLens, pageSize), kvLens), false, 0.07f, decode,
                deterministic, DType.BF16, DType.BF16);
    }

    @Test
    void workCoversEveryItemAndKeyOnceAndMergesMatchTheSplits() {
        Random r = new Random(7);
        for (int trial = 0; trial < 300; trial++) {
            int batch = 1 + r.nextInt(r.nextBoolean() ? 4 : 80);
            int[] qo = new int[batch];
            int[] kv = new int[batch];
            for (int b = 0; b < batch; b++) {
                kv[b] = r.nextInt(5) == 0 ? 0 : r.nextInt(trial % 2 == 0 ? 40_000 : 700);
                qo[b] = r.nextInt(5) == 0 ? 0 : r.nextBoolean() ? 1 : 1 + r.nextInt(5);
            }
            int heads = new int[] {1, 3, 16, 64, 128}[r.nextInt(5)];
            MlaProblem p = problem(qo, kv, heads, r.nextInt(4) == 0);
            MlaSchedule s = MlaSchedule.of(p, 132);
            int[] w = s.work();
            int[] m = s.merge();
            long[][] keys = new long[batch][];
            for (int b = 0; b < batch; b++) {
                keys[b] = new long[qo[b] * heads];
            }
            boolean[] slotSeen = new boolean[Math.toIntExact(s.slots() + 1)];
            for (int i = 0; i < s.workItems(); i++) {
                int b = w[5 * i];
                int first = w[5 * i + 1];
                int from = w[5 * i + 2];
                int to = w[5 * i + 3];
                int partial = w[5 * i + 4];
                assertTrue(from >= 0 && from <= to && to <= kv[b], "key range " + from + ".." + to);
                assertEquals(0, first % MlaSchedule.ITEMS, "blocks start on a multiple of the block's items");
                for (int it = first; it < Math.min(first + MlaSchedule.ITEMS, qo[b] * heads); it++) {
                    keys[b][it] += to - from;
                    if (partial >= 0) {
                        assertFalse(slotSeen[partial + it], "slot " + (partial + it) + " written twice");
                        slotSeen[partial + it] = true;
                    }
                }
            }
            for (int b = 0; b < batch; b++) {
                for (int it = 0; it < keys[b].length; it++) {
                    assertEquals(kv[b], keys[b][it], "request " + b + " item " + it + ": keys covered");
                }
            }
            long slots = 0;
            for (int e = 0; e < s.mergedRequests(); e++) {
                int b = m[4 * e];
                int splits = m[4 * e + 2];
                int items = m[4 * e + 3];
                assertEquals(slots, m[4 * e + 1], "merge entries' slots are consecutive");
                assertEquals(qo[b] * heads, items);
                assertTrue(splits > 1);
                for (int k = 0; k < splits * items; k++) {
                    assertTrue(slotSeen[m[4 * e + 1] + k], "merged slot " + k + " of request " + b + " written");
                }
                slots += (long) splits * items;
            }
            assertEquals(s.slots(), slots);
        }
    }

    @Test
    void deepSeekDecodeFillsTheMachineWithoutSplitting() {
        int[] qo = new int[64];
        int[] kv = new int[64];
        Arrays.fill(qo, 1);
        Arrays.fill(kv, 4096);
        MlaSchedule s = MlaSchedule.of(problem(qo, kv, 128, false), 132);
        assertEquals(128, s.workItems(), "two blocks of 64 heads per request");
        assertEquals(Integer.MAX_VALUE, s.splitChunk());
    }

    @Test
    void aFewLongRequestsAreSplitIntoAboutTwoWaves() {
        MlaSchedule s = MlaSchedule.of(problem(new int[] {1, 1}, new int[] {100_000, 30_000}, 16, false), 132);
        assertTrue(s.splitChunk() >= MlaSchedule.MIN_CHUNK && s.splitChunk() % MlaSchedule.KEYS == 0);
        assertTrue(s.workItems() >= 132 && s.workItems() <= 3 * 132, "work items " + s.workItems());
        assertEquals(2, s.mergedRequests());
    }

    @Test
    void deterministicChunksDoNotDependOnTheBatch() {
        MlaSchedule alone = MlaSchedule.of(problem(new int[] {1}, new int[] {5000}, 128, true), 132);
        MlaSchedule shared = MlaSchedule.of(problem(new int[] {1, 1, 1}, new int[] {5000, 90, 70_000}, 128, true),
                132);
        assertEquals(MlaSchedule.DETERMINISTIC_CHUNK, alone.splitChunk());
        int[] a = alone.work();
        int[] b = shared.work();
        for (int i = 0; i < alone.workItems(); i++) {
            assertEquals(Arrays.toString(Arrays.copyOfRange(a, 5 * i, 5 * i + 4)),
                    Arrays.toString(Arrays.copyOfRange(b, 5 * i, 5 * i + 4)), "work item " + i);
        }
    }

    @Test
    void splitStatesPastIntRangeAreRejectedByName() {
        // 2^21 heads x 1024 deterministic splits of a 2^20-key request: 2^31 partial states.
        MlaProblem p = problem(new int[] {1}, new int[] {1 << 20}, 1 << 21, true);
        InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> MlaSchedule.of(p, 132));
        assertTrue(e.getMessage().contains("pageTable"), e.getMessage());
    }

    @Test
    void sharedMemoryMatchesTheKernelsLayout() {
        // 2 * (64 * 584 + 3 * 32 * 584) + 4 * 256 * 16: attention/mla.cuh's MlaSmem.
        assertEquals(203_264, CudaMlaPlan.tensorCoreSharedBytes(MlaHeadConfig.deepSeek(128)));
        assertEquals(70_144, CudaMlaPlan.tensorCoreSharedBytes(new MlaHeadConfig(8, 128, 32)));
    }
}
