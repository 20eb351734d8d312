package org.attn4j.conformance.properties;

import org.attn4j.options.RopeOptions;
import java.util.ArrayList;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionSinks;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.AttentionCases;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.harness.CaseSkipped;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * spec §7: every invalid input is rejected with an {@link IllegalArgumentException} whose message
 * names the argument and its actual value, and every output keeps its sentinel bytes.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class InvalidInputProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public InvalidInputProperties(Subject subject) {
        this.s = subject;
    }

    /**
     * One invalid input on top of a valid base case; public so that a printed reproduction compiles
     * in a backend's suite subclass.
     *
     * <p>Immutable and thread-safe.
     *
     * @param scenario which input is made invalid, by the scenario's name
     * @param base     the valid case the invalid input is put into
     */
    public record InvalidCase(String scenario, AttentionCase base) {
        @Override
        public String toString() {
            return scenario + " on " + base;
        }
    }

    /** A valid setup, uploaded, with sentinel-filled outputs. */
    static final class Fixture {
        final AttentionCase c;
        final CaseData data;
        final PagedPool pool;
        final DeviceScope scope;
        final Tensor q;
        final Tensor o;
        final Tensor lse;
        final PagedKvCache cache;
        final List<Tensor> watched = new ArrayList<>();

        Fixture(AttentionBackend be, AttentionCase c) {
            this.c = c;
            this.data = CaseData.of(c);
            this.pool = PagedPool.of(data, Fill.GARBAGE);
            this.scope = new DeviceScope(be);
            this.q = scope.upload(c.qDtype(), data.q(), c.totalQ(), c.numQoHeads(), c.headDimQk());
            this.o = watch(scope.sentinel(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo()));
            this.lse = watch(scope.sentinel(DType.F32, c.totalQ(), c.numQoHeads()));
            this.cache = scope.cache(pool);
        }

        Tensor watch(Tensor t) {
            watched.add(t);
            return t;
        }

        void run(PageTable table, HeadConfig heads, AttentionOptions opt, CustomMask mask, int[] qoIndptr, Tensor q,
                 Tensor o, Tensor lse) {
            AttentionBackend be = scope.backend();
            try (BatchAttentionPlan plan = be.planBatchPrefill(qoIndptr, table, heads, opt, mask, PlanOptions.DEFAULT)) {
                plan.run(q, cache, o, lse);
            }
        }

        void run(PageTable table) {
            run(table, c.heads(), c.options(), data.customMask(), c.qoIndptr(), q, o, lse);
        }

        /** The fixture's call over another cache. */
        void runOn(PagedKvCache other) {
            try (BatchAttentionPlan plan = scope.backend().planBatchPrefill(c.qoIndptr(), pool.table(), c.heads(),
                    c.options(), data.customMask(), PlanOptions.DEFAULT)) {
                plan.run(q, other, o, lse);
            }
        }

        /** An FP8_E4M3 cache of the pool's geometry (contents unset), scalar scales. */
        PagedKvCache fp8Cache() {
            long[] shape = pool.k().shape();
            Tensor k = scope.allocate(DType.FP8_E4M3, shape);
            return pool.combined() ? PagedKvCache.combined(k, pool.layout())
                    : PagedKvCache.separate(k, scope.allocate(DType.FP8_E4M3, shape), pool.layout());
        }

        /** Per-token scale pools shaped for {@code cache} (spec §2). */
        KvScales tokenScales(PagedKvCache cache) {
            long[] shape = cache.layout() == org.attn4j.kv.KvLayout.NHD
                    ? new long[] {cache.numPages(), cache.pageSize(), cache.numKvHeads()}
                    : new long[] {cache.numPages(), cache.numKvHeads(), cache.pageSize()};
            return KvScales.perToken(scope.allocate(DType.F32, shape), scope.allocate(DType.F32, shape));
        }

        void runWith(AttentionOptions opt) {
            run(pool.table(), c.heads(), opt, data.customMask(), c.qoIndptr(), q, o, lse);
        }

        void close() {
            scope.close();
            pool.close();
        }
    }

    /** A scenario: the rejected call, and fragments its message must hold (argument, actual value). */
    private record Scenario(String name, Feature needs, java.util.function.Function<Fixture, Call> call) {}

    /** The rejected call and the fragments its message must contain. */
    private record Call(Runnable action, String... fragments) {}

    private static int[] ints(int... v) {
        return v;
    }

    /** The case's head dim, or the even one below it: what RoPE can rotate. */
    private static int evenHeadDim(AttentionCase c) {
        return Math.max(2, c.headDimQk() & ~1);
    }

    private List<Scenario> scenarios() {
        List<Scenario> l = new ArrayList<>();
        l.add(new Scenario("Hq % Hkv != 0", null, f -> new Call(() -> f.run(f.pool.table(),
                new HeadConfig(f.c.numKvHeads() * 2 + 1, 2, f.c.headDimQk()), f.c.options(), null, f.c.qoIndptr(), f.q,
                f.o, f.lse), "numQoHeads", "% 2")));
        l.add(new Scenario("page id out of range", null, f -> {
            PageTable t = f.pool.table();
            int[] idx = t.indices();
            if (idx.length == 0) {
                throw new CaseSkipped("base case has no pages");
            }
            idx[idx.length - 1] = f.pool.numPages();
            PageTable bad = new PageTable(t.indptr(), idx, t.lastPageLen(), t.pageSize());
            return new Call(() -> f.run(bad), "kvIndices[" + (idx.length - 1) + "]", "= " + f.pool.numPages());
        }));
        // page tables built by hand take the base case's page size, so the case printed is the one rejected
        l.add(new Scenario("kvIndptr decreasing", null, f -> new Call(() -> new PageTable(ints(0, 2, 1), ints(0, 1),
                ints(1, 1), f.c.pageSize()), "kvIndptr[2]", "= 1")));
        l.add(new Scenario("kvIndptr not starting at 0", null, f -> new Call(() -> new PageTable(ints(1, 2), ints(0),
                ints(1), f.c.pageSize()), "kvIndptr[0]", "actual 1")));
        l.add(new Scenario("kvLastPageLen 0", null, f -> new Call(() -> new PageTable(ints(0, 1), ints(0), ints(0),
                f.c.pageSize()), "kvLastPageLen[0]", "= 0")));
        l.add(new Scenario("kvLastPageLen above pageSize", null, f -> new Call(() -> new PageTable(ints(0, 1),
                ints(0), ints(f.c.pageSize() + 1), f.c.pageSize()), "kvLastPageLen[0]", "= " + (f.c.pageSize() + 1),
                "[1, " + f.c.pageSize() + "]")));
        l.add(new Scenario("causal with qoLen > kvLen", Feature.CAUSAL, f -> {
            int kv = f.c.kvLen(0);
            int[] qo = f.c.qoIndptr();
            int b0 = qo[1] - qo[0];
            if (b0 <= kv) {
                throw new CaseSkipped("base case has qoLen <= kvLen");
            }
            return new Call(() -> f.runWith(f.c.options().withCausal(true)), "qoLen[0]", "qoLen " + b0);
        }));
        l.add(new Scenario("mask length mismatch", Feature.CUSTOM_MASK, f -> {
            int bits = 0;
            for (int b = 0; b < f.c.batchSize(); b++) {
                bits += f.c.qoLen(b) * f.c.kvLen(b);
            }
            CustomMask m = CustomMask.fromBooleans(new boolean[bits + 3]);
            int n = bits + 3;
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), m, f.c.qoIndptr(), f.q, f.o,
                    f.lse), "mask.length", "actual " + n);
        }));
        l.add(new Scenario("window below -1", null, f -> new Call(() -> f.runWith(f.c.options().withWindowLeft(-2)),
                "windowLeft", "-2")));
        l.add(new Scenario("negative soft cap", null, f -> new Call(
                () -> f.runWith(f.c.options().withLogitsSoftCap(-1f)), "logitsSoftCap", "-1.0")));
        l.add(new Scenario("infinite smScale", null, f -> new Call(
                () -> f.runWith(f.c.options().withSmScale(Float.POSITIVE_INFINITY)), "smScale", "Infinity")));
        l.add(new Scenario("zero smScale", null, f -> new Call(() -> f.runWith(f.c.options().withSmScale(0f)),
                "smScale", "0.0")));
        l.add(new Scenario("non-positive kScale", null, f -> new Call(() -> new KvScales(0f, 1f), "kScale", "0.0")));
        l.add(new Scenario("NaN vScale", null, f -> new Call(() -> new KvScales(1f, Float.NaN), "vScale", "NaN")));
        l.add(new Scenario("q rows mismatch", null, f -> {
            Tensor q2 = f.scope.allocate(f.c.qDtype(), f.c.totalQ() + 1, f.c.numQoHeads(), f.c.headDimQk());
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), q2, f.o, f.lse), "q.shape", "[" + (f.c.totalQ() + 1) + ",");
        }));
        l.add(new Scenario("o dtype mismatch", null, f -> {
            DType other = f.c.qDtype() == DType.F32 ? DType.F16 : DType.F32;
            Tensor o2 = f.watch(f.scope.sentinel(other, f.c.totalQ(), f.c.numQoHeads(), f.c.headDimVo()));
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), f.q, o2, f.lse), "o.dtype", "actual " + other);
        }));
        l.add(new Scenario("lse shape mismatch", Feature.LSE, f -> {
            Tensor l2 = f.watch(f.scope.sentinel(DType.F32, f.c.totalQ(), f.c.numQoHeads() + 1));
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), f.q, f.o, l2), "lse.shape", String.valueOf(f.c.numQoHeads() + 1));
        }));
        l.add(new Scenario("o is q", null, f -> {
            if (f.c.headDimVo() != f.c.headDimQk()) {
                throw new CaseSkipped("o and q differ in head dim");
            }
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), f.q, f.q, f.lse), "o", "shares memory with q");
        }));
        l.add(new Scenario("lse inside o", Feature.LSE, f -> {
            if (f.c.qDtype() != DType.F32) {
                throw new CaseSkipped("o is not F32, so no view of it is an lse");
            }
            Tensor l2 = f.o.view(0, new long[] {f.c.totalQ(), f.c.numQoHeads()},
                    new long[] {f.c.numQoHeads(), 1});
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), f.q, f.o, l2), "lse", "shares memory with o");
        }));
        l.add(new Scenario("upload from a freed host tensor", null, f -> {
            org.attn4j.tensor.HostTensor h = org.attn4j.tensor.HostTensor.allocate(f.c.qDtype(), f.c.totalQ(),
                    f.c.numQoHeads(), f.c.headDimQk());
            h.close();
            return new Call(() -> f.scope.backend().upload(h, f.q), "host", "freed");
        }));
        l.add(new Scenario("closed q", null, f -> {
            Tensor q2 = f.scope.upload(f.c.qDtype(), f.data.q(), f.c.totalQ(), f.c.numQoHeads(), f.c.headDimQk());
            q2.close();
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), q2, f.o, f.lse), "q", "closed");
        }));
        l.add(new Scenario("unsupported head dim", null, f -> {
            int d = unsupportedHeadDim(s.backend());
            if (d < 0) {
                throw new CaseSkipped("backend supports every head dim tried");
            }
            return new Call(() -> f.scope.backend().planBatchPrefill(f.c.qoIndptr(), f.pool.table(),
                    new HeadConfig(f.c.numQoHeads(), f.c.numKvHeads(), d), f.c.options(), null, PlanOptions.DEFAULT)
                    .close(), "headDim", "actual " + d);
        }));
        l.add(new Scenario("unsupported q dtype", null, f -> {
            Tensor q2 = f.scope.allocate(DType.I32, f.c.totalQ(), f.c.numQoHeads(), f.c.headDimQk());
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), q2, f.o, f.lse), "q.dtype", "I32");
        }));
        l.add(new Scenario("FP8 q without FP8_QUERY", null, f -> {
            if (s.capabilities().has(Feature.FP8_QUERY)) {
                throw new CaseSkipped("backend takes FP8 q");
            }
            Tensor q2 = f.scope.allocate(DType.FP8_E4M3, f.c.totalQ(), f.c.numQoHeads(), f.c.headDimQk());
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), q2, f.o, f.lse), "q.dtype", "FP8_QUERY", "FP8_E4M3");
        }));
        l.add(new Scenario("FP8 q with an FP8 o", Feature.FP8_QUERY, f -> {
            Tensor q2 = f.scope.allocate(DType.FP8_E5M2, f.c.totalQ(), f.c.numQoHeads(), f.c.headDimQk());
            Tensor o2 = f.watch(f.scope.sentinel(DType.FP8_E5M2, f.c.totalQ(), f.c.numQoHeads(), f.c.headDimVo()));
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), q2, o2, f.lse), "o.dtype", "F32, F16 or BF16", "FP8_E5M2");
        }));
        l.add(new Scenario("cache head count mismatch", null, f -> {
            HeadConfig h = new HeadConfig(f.c.numQoHeads() * 2, f.c.numKvHeads() * 2, f.c.headDimQk());
            Tensor q2 = f.scope.allocate(f.c.qDtype(), f.c.totalQ(), h.numQoHeads(), f.c.headDimQk());
            Tensor o2 = f.watch(f.scope.sentinel(f.c.qDtype(), f.c.totalQ(), h.numQoHeads(), f.c.headDimVo()));
            return new Call(() -> f.run(f.pool.table(), h, f.c.options(), f.data.customMask(), f.c.qoIndptr(), q2, o2,
                    null), "cache.numKvHeads", "actual " + f.c.numKvHeads());
        }));
        l.add(new Scenario("qoIndptr not starting at 0", null, f -> {
            int[] qo = f.c.qoIndptr();
            qo[0] = -1;
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), null, qo, f.q, f.o, f.lse),
                    "qoIndptr[0]", "actual -1");
        }));
        l.add(new Scenario("qoIndptr length mismatch", null, f -> {
            int[] qo = java.util.Arrays.copyOf(f.c.qoIndptr(), f.c.batchSize() + 2);
            qo[qo.length - 1] = qo[qo.length - 2];
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), null, qo, f.q, f.o, f.lse),
                    "qoIndptr.length", "actual " + qo.length);
        }));
        l.add(new Scenario("append position out of range", Feature.APPEND, f -> {
            int len = f.pool.table().kvLen(0);
            Tensor k = f.scope.allocate(f.c.kvDtype().isFp8() ? f.c.qDtype() : f.c.kvDtype(), 1, f.c.numKvHeads(),
                    f.c.headDimQk());
            return new Call(() -> f.scope.backend().appendPagedKv(k, k, new AppendPositions(ints(0), ints(len)),
                    f.cache, f.pool.table()), "positions[0]", "= " + len);
        }));
        l.add(new Scenario("append batch index out of range", Feature.APPEND, f -> {
            int b = f.c.batchSize();
            Tensor k = f.scope.allocate(f.c.kvDtype().isFp8() ? f.c.qDtype() : f.c.kvDtype(), 1, f.c.numKvHeads(),
                    f.c.headDimQk());
            return new Call(() -> f.scope.backend().appendPagedKv(k, k, new AppendPositions(ints(b), ints(0)),
                    f.cache, f.pool.table()), "batchIndices[0]", "= " + b);
        }));
        // The standalone RoPE scenarios rotate a q of an even head dim: an odd one is refused first.
        l.add(new Scenario("RoPE at a negative position", Feature.STANDALONE_ROPE, f -> {
            Tensor q2 = f.watch(f.scope.sentinel(f.c.qDtype(), 2, f.c.numQoHeads(), evenHeadDim(f.c)));
            return new Call(() -> f.scope.backend().applyRope(q2, null, ints(3, -1), org.attn4j.options.RopeOptions.DEFAULT),
                    "positions[1]", "-1");
        }));
        l.add(new Scenario("rotary dim above the head dim, on the fly", Feature.ROPE, f -> {
            if (f.c.headDimQk() % 2 != 0) {
                throw new CaseSkipped("odd head dim: RoPE on the fly refuses the head dim before the rotary dim");
            }
            int r = f.c.headDimQk() + 2;
            return new Call(() -> f.runWith(f.c.options().withRope(RopeOptions.DEFAULT.withRotaryDim(r))),
                    "rope.rotaryDim", "D = " + f.c.headDimQk(), "actual " + r);
        }));
        l.add(new Scenario("RoPE on the fly at an odd head dim", Feature.ROPE, f -> {
            if (f.c.headDimQk() % 2 == 0) {
                throw new CaseSkipped("even head dim: RoPE pairs its dims");
            }
            return new Call(() -> f.runWith(f.c.options().withRope(RopeOptions.DEFAULT)), "headDimQk", "even",
                    "actual " + f.c.headDimQk());
        }));
        l.add(new Scenario("rotary dim above the head dim, standalone", Feature.STANDALONE_ROPE, f -> {
            Tensor q2 = f.watch(f.scope.sentinel(f.c.qDtype(), 2, f.c.numQoHeads(), evenHeadDim(f.c)));
            int r = evenHeadDim(f.c) + 2;
            return new Call(() -> f.scope.backend().applyRope(q2, null, ints(3, 1),
                    RopeOptions.DEFAULT.withRotaryDim(r)), "rope.rotaryDim", "actual " + r);
        }));
        l.add(new Scenario("odd rotary dim", null, f -> new Call(() -> RopeOptions.DEFAULT.withRotaryDim(3),
                "rope.rotaryDim", "actual 3")));
        l.add(new Scenario("negative rotary dim", null, f -> new Call(
                () -> RopeOptions.DEFAULT.withInterleaved(true).withRotaryDim(-2), "rope.rotaryDim", "actual -2")));
        l.add(new Scenario("merge state shape mismatch", Feature.MERGE, f -> {
            int rows = f.c.totalQ();
            Tensor oa = f.scope.allocate(f.c.qDtype(), rows, f.c.numQoHeads(), f.c.headDimVo());
            Tensor sa = f.scope.allocate(DType.F32, rows, f.c.numQoHeads());
            Tensor sb = f.scope.allocate(DType.F32, rows + 1, f.c.numQoHeads());
            return new Call(() -> f.scope.backend().mergeState(oa, sa, oa, sb, f.o, f.lse), "sB.shape",
                    "[" + (rows + 1) + ",");
        }));
        l.add(new Scenario("closed cache", null, f -> {
            Tensor k2 = f.scope.upload(f.pool.k());
            PagedKvCache closed = f.pool.combined() ? PagedKvCache.combined(k2, f.pool.layout(), f.pool.scales())
                    : PagedKvCache.separate(k2, f.scope.upload(f.pool.v()), f.pool.layout(), f.pool.scales());
            k2.close();
            return new Call(() -> {
                try (BatchAttentionPlan plan = f.scope.backend().planBatchPrefill(f.c.qoIndptr(), f.pool.table(),
                        f.c.heads(), f.c.options(), f.data.customMask(), PlanOptions.DEFAULT)) {
                    plan.run(f.q, closed, f.o, f.lse);
                }
            }, "cache.k", "closed");
        }));
        l.add(new Scenario("closed plan", null, f -> {
            BatchAttentionPlan plan = f.scope.backend().planBatchPrefill(f.c.qoIndptr(), f.pool.table(), f.c.heads(),
                    f.c.options(), f.data.customMask(), PlanOptions.DEFAULT);
            plan.close();
            return new Call(() -> plan.run(f.q, f.cache, f.o, f.lse), "plan", "is closed");
        }));
        l.add(new Scenario("lse dtype mismatch", Feature.LSE, f -> {
            Tensor l2 = f.watch(f.scope.sentinel(DType.F16, f.c.totalQ(), f.c.numQoHeads()));
            return new Call(() -> f.run(f.pool.table(), f.c.heads(), f.c.options(), f.data.customMask(),
                    f.c.qoIndptr(), f.q, f.o, l2), "lse.dtype", "actual F16");
        }));
        l.add(new Scenario("single decode with V shaped unlike K", Feature.DECODE, f -> {
            int hkv = f.c.numKvHeads();
            int d = f.c.headDimQk();
            Tensor k = f.scope.allocate(f.c.kvDtype(), 5, hkv, d);
            Tensor v = f.scope.allocate(f.c.kvDtype(), 6, hkv, d);
            Tensor q1 = f.scope.allocate(f.c.qDtype(), f.c.numQoHeads(), d);
            Tensor o1 = f.watch(f.scope.sentinel(f.c.qDtype(), f.c.numQoHeads(), d));
            return new Call(() -> f.scope.backend().singleDecode(q1, new org.attn4j.kv.ContiguousKv(k, v,
                    org.attn4j.kv.KvLayout.NHD), f.c.options(), o1, null), "v.shape", "[6, ");
        }));
        l.add(new Scenario("ragged K with too many rows", null, f -> {
            int total = f.c.totalKv();
            Tensor k = f.scope.allocate(f.c.kvDtype(), total + 1, f.c.numKvHeads(), f.c.headDimQk());
            Tensor v = f.scope.allocate(f.c.kvDtype(), total, f.c.numKvHeads(), f.c.headDimVo());
            return new Call(() -> {
                try (var plan = f.scope.backend().planBatchPrefillRagged(f.c.qoIndptr(), f.c.kvIndptr(), f.c.heads(),
                        f.c.options(), f.data.customMask(), PlanOptions.DEFAULT)) {
                    plan.run(f.q, new org.attn4j.kv.RaggedKv(k, v), f.o, f.lse);
                }
            }, "k.shape", "[" + (total + 1) + ",");
        }));
        // On odd seeds at an odd head dim: RoPE cannot pair it at all, but what the caller must drop
        // is the RoPE.
        l.add(new Scenario("cascade with RoPE on the fly", Feature.CASCADE, f -> {
            HeadConfig heads = (f.c.seed() & 1) == 0 ? f.c.heads()
                    : new HeadConfig(f.c.numQoHeads(), f.c.numKvHeads(), (f.c.headDimQk() - 1) | 1);
            return new Call(() -> f.scope.backend().planCascade(List.of(new org.attn4j.kv.CascadeLevel(
                    f.c.qoIndptr(), f.pool.table())), heads, f.c.options().withRope(RopeOptions.DEFAULT),
                    PlanOptions.DEFAULT).close(), "options.rope", "RoPE");
        }));
        l.add(new Scenario("cascade with window below -1", Feature.CASCADE, f -> new Call(
                () -> f.scope.backend().planCascade(List.of(new org.attn4j.kv.CascadeLevel(f.c.qoIndptr(),
                        f.pool.table())), f.c.heads(), f.c.options().withRope(null).withWindowLeft(-3),
                        PlanOptions.DEFAULT).close(), "windowLeft", "actual -3")));
        l.add(new Scenario("sinks not one per query head", Feature.SINKS, f -> {
            int n = f.c.numQoHeads() + 1;
            return new Call(() -> f.runWith(f.c.options().withSinks(AttentionSinks.of(new float[n]))),
                    "sinks.length", "Hq = " + f.c.numQoHeads(), "actual " + n);
        }));
        l.add(new Scenario("ALiBi slopes not one per query head", Feature.ALIBI, f -> {
            int n = f.c.numQoHeads() + 2;
            return new Call(() -> f.runWith(f.c.options().withAlibiSlopes(AlibiSlopes.of(new float[n]))),
                    "alibiSlopes.length", "Hq = " + f.c.numQoHeads(), "actual " + n);
        }));
        l.add(new Scenario("NaN sink", null, f -> new Call(() -> AttentionSinks.of(0f, Float.NaN), "sinks[1]",
                "NaN")));
        l.add(new Scenario("infinite ALiBi slope", null, f -> new Call(
                () -> AlibiSlopes.of(0.5f, Float.NEGATIVE_INFINITY), "alibiSlopes[1]", "-Infinity")));
        // Refused whether or not the backend has ALiBi, and before the slopes' count is looked at.
        // RoPE off: a cascade rejects it too, and core-api names it first.
        l.add(new Scenario("cascade with ALiBi", Feature.CASCADE, f -> new Call(
                () -> f.scope.backend().planCascade(List.of(new org.attn4j.kv.CascadeLevel(f.c.qoIndptr(),
                        f.pool.table())), f.c.heads(), f.c.options().withRope(null).withAlibiSlopes(
                        AlibiSlopes.of(new float[f.c.numQoHeads() + (int) (f.c.seed() & 1)])),
                        PlanOptions.DEFAULT).close(), "options.alibiSlopes", "cascade")));
        // What a backend without the features (CUDA today) gets: core-api refuses the option by name
        // before the backend plans.
        l.add(new Scenario("sinks on a backend without SINKS", null, f -> {
            if (s.capabilities().has(Feature.SINKS)) {
                throw new CaseSkipped("backend has SINKS: nothing to reject");
            }
            return new Call(() -> f.runWith(f.c.options().withSinks(AttentionSinks.of(new float[f.c.numQoHeads()]))),
                    "sinks", "backend '" + s.backendId() + "' does not support SINKS");
        }));
        l.add(new Scenario("ALiBi on a backend without ALIBI", null, f -> {
            if (s.capabilities().has(Feature.ALIBI)) {
                throw new CaseSkipped("backend has ALIBI: nothing to reject");
            }
            return new Call(() -> f.runWith(f.c.options().withAlibiSlopes(
                    AlibiSlopes.of(new float[f.c.numQoHeads()]))), "alibiSlopes",
                    "backend '" + s.backendId() + "' does not support ALIBI");
        }));
        l.add(new Scenario("per-head KV scales not [Hkv]", Feature.KV_SCALES_PER_HEAD, f -> {
            int n = f.c.numKvHeads() + 1;
            PagedKvCache bad = f.cache.withScales(KvScales.perHead(f.scope.allocate(DType.F32, n),
                    f.scope.allocate(DType.F32, n)));
            return new Call(() -> f.runOn(bad), "cache.scales.k.shape", "[" + f.c.numKvHeads() + "]",
                    "[" + n + "]");
        }));
        l.add(new Scenario("per-head KV scales not F32", Feature.KV_SCALES_PER_HEAD, f -> {
            int n = f.c.numKvHeads();
            PagedKvCache bad = f.cache.withScales(KvScales.perHead(f.scope.allocate(DType.F16, n),
                    f.scope.allocate(DType.F16, n)));
            return new Call(() -> f.runOn(bad), "cache.scales.k.dtype", "F16");
        }));
        l.add(new Scenario("per-token KV scales not shaped like the cache", Feature.KV_SCALES_PER_TOKEN, f -> {
            PagedKvCache fp8 = f.fp8Cache();
            long[] shape = {fp8.numPages() + 1, fp8.pageSize(), fp8.numKvHeads()};
            PagedKvCache bad = fp8.withScales(KvScales.perToken(f.scope.allocate(DType.F32, shape),
                    f.scope.allocate(DType.F32, shape)));
            return new Call(() -> f.runOn(bad), "cache.scales.k.shape", java.util.Arrays.toString(shape));
        }));
        l.add(new Scenario("per-token KV scales on a non-FP8 cache", Feature.KV_SCALES_PER_TOKEN, f -> {
            long[] shape = f.pool.k().shape();
            Tensor k = f.scope.allocate(DType.F16, shape);
            PagedKvCache f16 = f.pool.combined() ? PagedKvCache.combined(k, f.pool.layout())
                    : PagedKvCache.separate(k, f.scope.allocate(DType.F16, shape), f.pool.layout());
            PagedKvCache bad = f16.withScales(f.tokenScales(f16));
            return new Call(() -> f.runOn(bad), "cache.scales", "FP8", "F16");
        }));
        l.add(new Scenario("per-token KV scales on ragged K/V", Feature.KV_SCALES_PER_TOKEN, f -> {
            int total = f.c.totalKv();
            Tensor k = f.scope.allocate(DType.FP8_E4M3, total, f.c.numKvHeads(), f.c.headDimQk());
            Tensor v = f.scope.allocate(DType.FP8_E4M3, total, f.c.numKvHeads(), f.c.headDimVo());
            KvScales scales = f.tokenScales(f.fp8Cache());
            return new Call(() -> {
                try (org.attn4j.RaggedAttentionPlan plan = f.scope.backend().planBatchPrefillRagged(f.c.qoIndptr(),
                        f.c.kvIndptr(), f.c.heads(), f.c.options(), f.data.customMask(), PlanOptions.DEFAULT)) {
                    plan.run(f.q, new org.attn4j.kv.RaggedKv(k, v, scales), f.o, f.lse);
                }
            }, "kv.scales", "per-token");
        }));
        l.add(new Scenario("per-token append from the cache's own dtype", Feature.KV_SCALES_PER_TOKEN, f -> {
            if (!s.capabilities().has(Feature.APPEND)) {
                throw new CaseSkipped("feature APPEND absent");
            }
            PagedKvCache fp8 = f.fp8Cache();
            PagedKvCache cache = fp8.withScales(f.tokenScales(fp8));
            Tensor k = f.scope.allocate(DType.FP8_E4M3, 1, f.c.numKvHeads(), f.c.headDimQk());
            Tensor v = f.scope.allocate(DType.FP8_E4M3, 1, f.c.numKvHeads(), f.c.headDimVo());
            return new Call(() -> f.scope.backend().appendPagedKv(k, v, new org.attn4j.kv.AppendPositions(
                    new int[] {0}, new int[] {0}), cache, f.pool.table()), "k.dtype", "FP8_E4M3");
        }));
        l.add(new Scenario("per-head KV scales on a backend without KV_SCALES_PER_HEAD", null, f -> {
            if (s.capabilities().has(Feature.KV_SCALES_PER_HEAD)) {
                throw new CaseSkipped("backend has KV_SCALES_PER_HEAD: nothing to reject");
            }
            int n = f.c.numKvHeads();
            PagedKvCache bad = f.cache.withScales(KvScales.perHead(f.scope.allocate(DType.F32, n),
                    f.scope.allocate(DType.F32, n)));
            return new Call(() -> f.runOn(bad), "cache.scales",
                    "backend '" + s.backendId() + "' does not support KV_SCALES_PER_HEAD");
        }));
        l.add(new Scenario("unsupported KV dtype", null, f -> {
            long[] shape = f.pool.k().shape();
            Tensor k = f.scope.allocate(DType.I32, shape);
            PagedKvCache bad = f.pool.combined() ? PagedKvCache.combined(k, f.pool.layout())
                    : PagedKvCache.separate(k, f.scope.allocate(DType.I32, shape), f.pool.layout());
            return new Call(() -> {
                try (BatchAttentionPlan plan = f.scope.backend().planBatchPrefill(f.c.qoIndptr(), f.pool.table(),
                        f.c.heads(), f.c.options(), f.data.customMask(), PlanOptions.DEFAULT)) {
                    plan.run(f.q, bad, f.o, f.lse);
                }
            }, "cache.dtype", "I32");
        }));
        return l;
    }

    /** A head dim the backend rejects, or -1. */
    private static int unsupportedHeadDim(AttentionBackend be) {
        for (int d : new int[] {24, 8, 2, 1000, 512, 130}) {
            if (!be.capabilities().supportsHeadDim(d)) {
                return d;
            }
        }
        return -1;
    }

    private Scenario scenario(String name) {
        return scenarios().stream().filter(x -> x.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no scenario " + name));
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        List<String> names = scenarios().stream().map(Scenario::name).toList();
        return List.of(new SimpleProperty<InvalidCase>("invalidInputsRejected",
                "every spec §7 invalid input rejected, naming argument and value, outputs untouched",
                rng -> names.stream().map(n -> new InvalidCase(n, base(rng))).toList(),
                rng -> new InvalidCase(names.get(rng.nextInt(names.size())),
                        AttentionCases.random(false, rng)),
                c -> AttentionCases.shrink(c.base()).stream().map(b -> new InvalidCase(c.scenario(), b)).toList(),
                this::unsupported, this::check,
                c -> "new InvalidInputProperties.InvalidCase(\"" + c.scenario() + "\", " + c.base().toJava() + ")"));
    }

    /** A small valid base with three query rows over two keys in request 0 (for the causal scenario). */
    private static AttentionCase base(SplittableRandom rng) {
        AttentionCase c = AttentionCases.edgeCases(false, rng).get(3);
        AttentionCase.Builder b = c.toBuilder().lengths(ints(3, 2), ints(2, 9));
        b.seed = rng.nextLong();
        return b.build();
    }

    private String unsupported(InvalidCase ic) {
        Scenario sc = scenario(ic.scenario());
        java.util.Set<Feature> need = java.util.EnumSet.of(Feature.PREFILL);
        if (sc.needs() != null) {
            need.add(sc.needs());
        }
        AttentionCase c = ic.base();
        return Support.reason(s.capabilities(), c, need);
    }

    private void check(InvalidCase ic) {
        Scenario sc = scenario(ic.scenario());
        Fixture f = new Fixture(s.backend(), ic.base());
        try {
            Call call = sc.call().apply(f);
            List<int[]> before = new ArrayList<>();
            for (Tensor t : f.watched) {
                before.add(f.scope.bits(t));
            }
            int[] cacheBefore = f.scope.bits(f.cache.k());
            IllegalArgumentException thrown = null;
            try {
                call.action().run();
            } catch (IllegalArgumentException e) {
                thrown = e;
            }
            if (thrown == null) {
                throw new AssertionError(ic.scenario() + ": accepted, expected IllegalArgumentException");
            }
            String msg = String.valueOf(thrown.getMessage());
            for (String frag : call.fragments()) {
                if (!msg.contains(frag)) {
                    throw new AssertionError(ic.scenario() + ": message \"" + msg + "\" lacks \"" + frag + "\"");
                }
            }
            for (int i = 0; i < f.watched.size(); i++) {
                if (!java.util.Arrays.equals(before.get(i), f.scope.bits(f.watched.get(i)))) {
                    throw new AssertionError(ic.scenario() + ": output " + i + " changed although the call was rejected");
                }
            }
            if (!java.util.Arrays.equals(cacheBefore, f.scope.bits(f.cache.k()))) {
                throw new AssertionError(ic.scenario() + ": the KV cache changed although the call was rejected");
            }
        } finally {
            f.close();
        }
    }
}
