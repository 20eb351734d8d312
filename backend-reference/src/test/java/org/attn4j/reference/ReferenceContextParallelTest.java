package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.attn4j.reference.ReferenceTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.RopeOptions;
import org.attn4j.parallel.ContextParallelPlan;
import org.attn4j.parallel.ContextShards;
import org.attn4j.parallel.ShardPlacement;
import org.attn4j.parallel.StateGather;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Context-parallel attention (spec §12) on the reference: N logical shards (1 to 4), and shards on
 * separate reference backends gathered in process, against the same batch on one backend.
 * Lengths that are not multiples of the page size, requests that leave shards empty, GQA, causal
 * prefill and decode, windows, soft cap, sinks and custom masks; F32 throughout, so the tolerance
 * is the merge's rounding alone.
 */
class ReferenceContextParallelTest {
    private static final int HQ = 4;
    private static final int HKV = 2;
    private static final int D = 8;
    private static final int PAGE = 3;
    private static final HeadConfig HEADS = new HeadConfig(HQ, HKV, D);
    private static final int[] KV_LENS = {7, 2, 1, 14, 5};
    private static final int[] QO_LENS = {3, 0, 1, 14, 2};

    private final AttentionBackend attn = ReferenceTestSupport.open();
    private final Random random = new Random(23);
    private final PageTable table;
    private final int numPages;
    private final float[] kPool;
    private final float[] vPool;

    ReferenceContextParallelTest() {
        int[][] pages = new int[KV_LENS.length][];
        List<Integer> ids = new ArrayList<>();
        int total = 0;
        for (int len : KV_LENS) {
            total += (len + PAGE - 1) / PAGE;
        }
        numPages = total + 2;
        for (int i = 0; i < numPages; i++) {
            ids.add(i);
        }
        java.util.Collections.shuffle(ids, random);
        int next = 0;
        for (int r = 0; r < KV_LENS.length; r++) {
            pages[r] = new int[(KV_LENS[r] + PAGE - 1) / PAGE];
            for (int p = 0; p < pages[r].length; p++) {
                pages[r][p] = ids.get(next++);
            }
        }
        table = PageTable.of(PAGE, pages, KV_LENS);
        kPool = gaussian(numPages * PAGE * HKV * D);
        vPool = gaussian(numPages * PAGE * HKV * D);
    }

    @AfterEach
    void close() {
        attn.close();
    }

    private float[] gaussian(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private PagedKvCache cache(AttentionBackend be) {
        Tensor k = tensor(be, DType.F32, kPool, numPages, PAGE, HKV, D);
        Tensor v = tensor(be, DType.F32, vPool, numPages, PAGE, HKV, D);
        return PagedKvCache.separate(k, v, KvLayout.NHD);
    }

    private static int[] indptr(int[] lens) {
        int[] p = new int[lens.length + 1];
        for (int i = 0; i < lens.length; i++) {
            p[i + 1] = p[i] + lens[i];
        }
        return p;
    }

    private record Out(float[] o, float[] lse) {}

    private Out whole(boolean decode, float[] q, int rows, AttentionOptions options, CustomMask mask) {
        PagedKvCache kv = cache(attn);
        try (Tensor qt = tensor(attn, DType.F32, q, rows, HQ, D);
             Tensor o = attn.allocate(DType.F32, rows, HQ, D);
             Tensor lse = attn.allocate(DType.F32, rows, HQ);
             BatchAttentionPlan plan = decode ? attn.planBatchDecode(table, HEADS, options, null)
                     : attn.planBatchPrefill(indptr(QO_LENS), table, HEADS, options, mask, null)) {
            plan.run(qt, kv, o, lse);
            return new Out(read(attn, o), read(attn, lse));
        } finally {
            kv.k().close();
            kv.v().close();
        }
    }

    private Out sharded(ShardPlacement placement, ContextShards shards, boolean decode, float[] q, int rows,
                        AttentionOptions options, CustomMask mask) {
        AttentionBackend owner = placement.ownerBackend();
        List<AttentionBackend> distinct = placement.backends().stream().distinct().toList();
        List<PagedKvCache> caches = distinct.stream().map(this::cache).toList();
        List<Tensor> qs = distinct.stream().map(be -> tensor(be, DType.F32, q, rows, HQ, D)).toList();
        List<Tensor> qPerShard = new ArrayList<>();
        List<PagedKvCache> kvPerShard = new ArrayList<>();
        for (AttentionBackend be : placement.backends()) {
            qPerShard.add(qs.get(distinct.indexOf(be)));
            kvPerShard.add(caches.get(distinct.indexOf(be)));
        }
        try (Tensor o = owner.allocate(DType.F32, rows, HQ, D);
             Tensor lse = owner.allocate(DType.F32, rows, HQ);
             ContextParallelPlan plan = decode ? ContextParallelPlan.decode(placement, shards, HEADS, options, null)
                     : ContextParallelPlan.prefill(placement, indptr(QO_LENS), shards, HEADS, options, mask, null)) {
            plan.run(qPerShard, kvPerShard, o, lse);
            plan.run(qPerShard, kvPerShard, o, lse); // buffers reused
            return new Out(read(owner, o), read(owner, lse));
        } finally {
            qs.forEach(Tensor::close);
            for (PagedKvCache c : caches) {
                c.k().close();
                c.v().close();
            }
        }
    }

    private static void assertSame(String what, Out expected, Out actual) {
        for (int i = 0; i < expected.o.length; i++) {
            assertEquals(expected.o[i], actual.o[i], 1e-5 * (1 + Math.abs(expected.o[i])), what + ": o[" + i + "]");
        }
        for (int i = 0; i < expected.lse.length; i++) {
            if (Float.isInfinite(expected.lse[i])) {
                assertEquals(expected.lse[i], actual.lse[i], what + ": lse[" + i + "] must be exactly -inf");
            } else {
                assertEquals(expected.lse[i], actual.lse[i], 1e-5 * (1 + Math.abs(expected.lse[i])),
                        what + ": lse[" + i + "]");
            }
        }
    }

    private static List<AttentionOptions> variants() {
        AttentionSinks sinks = AttentionSinks.of(0.5f, -1f, 2f, -30f);
        AttentionOptions causal = AttentionOptions.DEFAULT.withCausal(true);
        return List.of(AttentionOptions.DEFAULT, causal, causal.withLogitsSoftCap(3f),
                causal.withWindowLeft(2), AttentionOptions.DEFAULT.withWindowLeft(4).withSmScale(0.2f),
                AttentionOptions.DEFAULT.withSinks(sinks), causal.withSinks(sinks).withWindowLeft(5));
    }

    @Test
    void logicalShardsDecodeEqualsSingleDevice() {
        float[] q = gaussian(KV_LENS.length * HQ * D);
        for (AttentionOptions options : variants()) {
            Out expected = whole(true, q, KV_LENS.length, options, null);
            for (int n = 1; n <= 4; n++) {
                Out actual = sharded(ShardPlacement.logical(attn, n), ContextShards.split(table, n), true, q,
                        KV_LENS.length, options, null);
                assertSame(n + " shards, decode, " + options, expected, actual);
            }
        }
    }

    @Test
    void logicalShardsPrefillEqualsSingleDevice() {
        int rows = indptr(QO_LENS)[QO_LENS.length];
        float[] q = gaussian(rows * HQ * D);
        for (AttentionOptions options : variants()) {
            Out expected = whole(false, q, rows, options, null);
            for (int n = 1; n <= 4; n++) {
                Out actual = sharded(ShardPlacement.logical(attn, n), ContextShards.split(table, n), false, q, rows,
                        options, null);
                assertSame(n + " shards, prefill, " + options, expected, actual);
            }
        }
    }

    @Test
    void customMaskIsSlicedToEachShard() {
        int rows = indptr(QO_LENS)[QO_LENS.length];
        float[] q = gaussian(rows * HQ * D);
        int bits = 0;
        for (int r = 0; r < KV_LENS.length; r++) {
            bits += QO_LENS[r] * KV_LENS[r];
        }
        boolean[] m = new boolean[bits];
        for (int i = 0; i < bits; i++) {
            m[i] = random.nextInt(3) != 0;
        }
        CustomMask mask = CustomMask.fromBooleans(m);
        AttentionOptions options = AttentionOptions.DEFAULT.withCausal(true);
        Out expected = whole(false, q, rows, options, mask);
        for (int n = 1; n <= 4; n++) {
            assertSame(n + " shards, masked prefill", expected, sharded(ShardPlacement.logical(attn, n),
                    ContextShards.split(table, n), false, q, rows, options, mask));
        }
    }

    @Test
    void shardsOnSeparateBackendsGatherInProcess() {
        float[] q = gaussian(KV_LENS.length * HQ * D);
        try (AttentionBackend second = ReferenceTestSupport.open()) {
            ShardPlacement placement = ShardPlacement.of(List.of(attn, second, second, attn), 1,
                    StateGather.inProcess());
            for (AttentionOptions options : variants()) {
                assertSame("4 shards on 2 backends, " + options, whole(true, q, KV_LENS.length, options, null),
                        sharded(placement, ContextShards.split(table, 4), true, q, KV_LENS.length, options, null));
            }
            // One shard off the owner: its state is the result, gathered into o and lse.
            ShardPlacement one = ShardPlacement.of(List.of(second), 0, StateGather.inProcess());
            assertSame("1 shard", whole(true, q, KV_LENS.length, AttentionOptions.DEFAULT, null),
                    sharded(one, ContextShards.split(table, 1), true, q, KV_LENS.length, AttentionOptions.DEFAULT,
                            null));
        }
    }

    @Test
    void callersOwnShardTablesKeepGlobalPositions() {
        // Request 0: 2 keys in shard 0, then its 7 keys in shard 1; the other requests all in shard 1.
        PageTable first = PageTable.of(PAGE, new int[][] {{table.page(0, 0)}, {}, {}, {}, {}},
                new int[] {2, 0, 0, 0, 0});
        int[][] restPages = new int[KV_LENS.length][];
        int[] restLens = new int[KV_LENS.length];
        for (int r = 0; r < KV_LENS.length; r++) {
            restPages[r] = new int[table.pageCount(r)];
            for (int p = 0; p < restPages[r].length; p++) {
                restPages[r][p] = table.page(r, p);
            }
            restLens[r] = KV_LENS[r];
        }
        ContextShards shards = ContextShards.of(List.of(first, PageTable.of(PAGE, restPages, restLens)));
        assertEquals(2, shards.keyStart(1, 0));
        assertEquals(9, shards.kvLen(0));
        assertEquals(0, shards.keyStart(1, 3));
        ContextShards split = ContextShards.split(table, 4);
        assertEquals(0, split.table(1).kvLen(2), "request 2 has one page: shards 1..3 hold none of it");
        assertEquals(1, split.table(0).kvLen(2) + split.table(3).kvLen(2));
        for (int r = 0; r < KV_LENS.length; r++) {
            int sum = 0;
            for (int s = 0; s < 4; s++) {
                assertEquals(sum, split.keyStart(s, r));
                sum += split.table(s).kvLen(r);
            }
            assertEquals(KV_LENS[r], sum);
        }
    }

    @Test
    void positionDependentOptionsAreRejected() {
        ShardPlacement p = ShardPlacement.logical(attn, 2);
        ContextShards shards = ContextShards.split(table, 2);
        InvalidArgumentException rope = assertThrows(InvalidArgumentException.class, () ->
                ContextParallelPlan.decode(p, shards, HEADS, AttentionOptions.DEFAULT.withRope(RopeOptions.DEFAULT),
                        null));
        assertEquals("options.rope", rope.argument());
        InvalidArgumentException alibi = assertThrows(InvalidArgumentException.class, () ->
                ContextParallelPlan.decode(p, shards, HEADS,
                        AttentionOptions.DEFAULT.withAlibiSlopes(AlibiSlopes.standard(HQ)), null));
        assertEquals("options.alibiSlopes", alibi.argument());
        InvalidArgumentException count = assertThrows(InvalidArgumentException.class, () ->
                ContextParallelPlan.decode(p, ContextShards.split(table, 3), HEADS, AttentionOptions.DEFAULT, null));
        assertTrue(count.getMessage().contains("shards.shardCount"), count.getMessage());
        assertThrows(InvalidArgumentException.class, () -> ContextShards.split(table, 0));
    }
}
