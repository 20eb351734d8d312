package org.attn4j.conformance.properties;

import static org.attn4j.conformance.properties.CaseProperty.Shape.DECODE;
import static org.attn4j.conformance.properties.CaseProperty.Shape.EITHER;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.AttentionCase.MaskKind;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.SpecOracle;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.CaseSkipped;
import org.attn4j.conformance.harness.ExternalAllocator;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.conformance.ops.StridedRows;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * spec §11, what an engine plugs in: strided views of one fused projection output for q, o,
 * appended K/V and RoPE inputs; memory the caller owns; page tables and positions that live in
 * device memory and change between runs of one plan. Each agrees with the oracle (or bitwise
 * with the same call on contiguous, owned, host-described inputs) and writes nothing outside its
 * views.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class EngineProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public EngineProperties(Subject subject) {
        this.s = subject;
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        return List.of(
                new CaseProperty(s, "stridedViewsMatchOracle",
                        "q and o as strided views (token and head strides) ≈ oracle, nothing outside them written",
                        EITHER, b -> b, EnumSet.noneOf(Feature.class), this::stridedViews),
                new CaseProperty(s, "appendFromViewsIsBitExact",
                        "append from K/V views of a fused buffer ≡ append from contiguous tensors, bitwise",
                        EITHER, b -> b, EnumSet.of(Feature.APPEND), this::appendFromViews),
                new CaseProperty(s, "ropeOnViewsMatchesContiguous",
                        "RoPE in place on q/k views of a fused buffer ≡ on contiguous tensors, the rest untouched",
                        EITHER, b -> b, EnumSet.of(Feature.STANDALONE_ROPE), this::ropeOnViews),
                new CaseProperty(s, "borrowedMemoryMatchesOracle",
                        "tensors over caller-owned memory (with an offset) ≈ oracle", EITHER, b -> b,
                        EnumSet.noneOf(Feature.class), this::borrowed),
                new CaseProperty(s, "deviceTableDecodeMatchesOracle",
                        "decode over a device page table ≈ oracle, and again after new values in the same buffers",
                        DECODE, EngineProperties::noMask, EnumSet.of(Feature.DECODE, Feature.DEVICE_METADATA),
                        this::deviceTable),
                new CaseProperty(s, "deviceMetadataMatchesHost",
                        "append and RoPE with device-resident indices and positions ≡ with host arrays, bitwise",
                        EITHER, b -> b, EnumSet.of(Feature.APPEND, Feature.STANDALONE_ROPE, Feature.DEVICE_METADATA),
                        this::deviceMetadata),
                new CaseProperty(s, "replanningAllocatesNothing",
                        "after warm-up, planning and running a decode step again makes no device allocation",
                        DECODE, EngineProperties::noMask, EnumSet.of(Feature.DECODE), this::noAllocations),
                new CaseProperty(s, "graphReplayEqualsEager",
                        "a captured decode step (RoPE, append, attention per layer) replayed ≡ eager, bitwise",
                        DECODE, EngineProperties::stepCase, EnumSet.of(Feature.DECODE, Feature.APPEND,
                                Feature.STANDALONE_ROPE, Feature.DEVICE_METADATA, Feature.GRAPH_CAPTURE),
                        this::graphReplay));
    }

    private static AttentionCase.Builder noMask(AttentionCase.Builder b) {
        b.mask = MaskKind.NONE;
        return b;
    }

    /** A decode step as engines run it: RoPE applied standalone, K/V appended in q's dtype or FP8. */
    private static AttentionCase.Builder stepCase(AttentionCase.Builder b) {
        b.mask = MaskKind.NONE;
        b.rope = AttentionCase.RopeKind.NONE;
        if (b.headDimQk % 2 != 0) {
            b.headDim(b.headDimQk + 1);
        }
        return b;
    }

    private AttentionOutput expected(CaseData data, java.util.function.Function<AttentionBackend, AttentionOutput> op) {
        AttentionOutput e = s.hasOracleBackend() ? op.apply(s.oracle()) : SpecOracle.attention(data);
        return data.kase().lse() ? e : e.withoutLse();
    }

    // ------------------------------------------------------------------ views

    private void stridedViews(AttentionCase c) {
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x5781DEL);
        int rows = c.totalQ();
        int hq = c.numQoHeads();
        int d = c.headDimQk();
        StridedRows qLayout = StridedRows.random(rng, hq, d, c.qDtype());
        StridedRows oLayout = StridedRows.random(rng, hq, d, c.qDtype());
        AttentionBackend be = s.backend();
        AttentionOutput actual;
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE); DeviceScope sc = new DeviceScope(be)) {
            Tensor q = qLayout.upload(sc, c.qDtype(), data.q(), rows, hq, d);
            Tensor oBase = sc.upload(oLayout.host(c.qDtype(), new float[rows * hq * d], rows, hq, d));
            sentinelRows(sc, oBase);
            Tensor o = oLayout.view(oBase, rows, hq, d);
            Tensor lse = c.lse() ? sc.allocate(DType.F32, rows, hq) : null;
            try (BatchAttentionPlan plan = plan(be, data, pool, PlanOptions.DEFAULT)) {
                plan.run(q, sc.cache(pool), o, lse);
            }
            try (HostTensor ob = be.download(oBase)) {
                oLayout.checkGaps("o's buffer", ob, rows, hq, d);
                actual = new AttentionOutput(oLayout.gather(ob, rows, hq, d), lse == null ? null : sc.floats(lse),
                        c.qDtype(), rows, hq, d);
            }
        }
        AttentionOutput exp;
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            exp = expected(data, o -> Operations.batch(o, data, pool, decode(c), PlanOptions.DEFAULT));
        }
        Compare.outputs("attention with q and o views " + qLayout + ", " + oLayout + " vs oracle", actual, exp,
                Tolerance.forOutput(c.qDtype()));
    }

    /** Refills the whole buffer with the sentinel bytes (the view's elements included). */
    private static void sentinelRows(DeviceScope sc, Tensor base) {
        try (HostTensor h = HostTensor.allocate(base.dtype(), base.shape())) {
            h.fillBytes(StridedRows.SENTINEL);
            sc.backend().upload(h, base);
        }
    }

    private static BatchAttentionPlan plan(AttentionBackend be, CaseData data, PagedPool pool, PlanOptions plan) {
        AttentionCase c = data.kase();
        return decode(c) ? be.planBatchDecode(pool.table(), c.heads(), c.options(), plan)
                : be.planBatchPrefill(c.qoIndptr(), pool.table(), c.heads(), c.options(), data.customMask(), plan);
    }

    /** Whether a case runs as batch decode: one row per request and no mask (decode takes none). */
    static boolean decode(AttentionCase c) {
        return Operations.runsAsDecode(c);
    }

    /** The new tokens of an append: the last {@code count[b]} of each request, rows of a fused buffer. */
    private record NewTokens(int[] indptr, float[] k, float[] v, int n) {
        static NewTokens of(AttentionCase c, CaseData data, SplittableRandom rng) {
            int batch = c.batchSize();
            int[] indptr = new int[batch + 1];
            for (int b = 0; b < batch; b++) {
                int count = rng.nextInt(4) == 0 ? c.kvLen(b) : rng.nextInt(c.kvLen(b) + 1);
                indptr[b + 1] = indptr[b] + count;
            }
            int n = indptr[batch];
            int w = c.numKvHeads() * c.headDimQk();
            float[] k = new float[n * w];
            float[] v = new float[n * w];
            for (int b = 0; b < batch; b++) {
                int count = indptr[b + 1] - indptr[b];
                int from = c.kvLen(b) - count;
                for (int i = 0; i < count * w; i++) {
                    k[indptr[b] * w + i] = data.k(b)[from * w + i] * c.kScale();
                    v[indptr[b] * w + i] = data.v(b)[from * w + i] * c.vScale();
                }
            }
            return new NewTokens(indptr, k, v, n);
        }
    }

    /** The dtype appended tokens come in: the cache's, or q's for FP8 caches (quantised on append). */
    private static DType inputDtype(AttentionCase c) {
        return c.kvDtype().isFp8() ? c.qDtype() : c.kvDtype();
    }

    private void appendFromViews(AttentionCase c) {
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0xF0FEDL);
        NewTokens t = NewTokens.of(c, data, rng);
        if (t.n() == 0) {
            throw new CaseSkipped("no token to append");
        }
        int hkv = c.numKvHeads();
        int d = c.headDimQk();
        DType in = inputDtype(c);
        // One fused buffer [n, 2 * Hkv (+ padding) , D]: k's heads first, then v's.
        StridedRows kRows = StridedRows.random(rng, 2 * hkv, d, in);
        StridedRows vRows = new StridedRows(kRows.offset() + hkv * kRows.headStride(), kRows.tokStride(),
                kRows.headStride());
        float[] fused = new float[t.n() * 2 * hkv * d];
        for (int i = 0; i < t.n(); i++) {
            System.arraycopy(t.k(), i * hkv * d, fused, i * 2 * hkv * d, hkv * d);
            System.arraycopy(t.v(), i * hkv * d, fused, i * 2 * hkv * d + hkv * d, hkv * d);
        }
        AttentionBackend be = s.backend();
        int[][] bits = new int[2][];
        for (int pass = 0; pass < 2; pass++) {
            try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE); DeviceScope sc = new DeviceScope(be)) {
                pool.scribble(froms(c, t), c.seed() + 5);
                PagedKvCache cache = sc.cache(pool);
                Tensor k;
                Tensor v;
                if (pass == 0) {
                    Tensor base = sc.upload(kRows.host(in, fused, t.n(), 2 * hkv, d));
                    k = kRows.view(base, t.n(), hkv, d);
                    v = vRows.view(base, t.n(), hkv, d);
                } else {
                    k = sc.upload(in, t.k(), t.n(), hkv, d);
                    v = sc.upload(in, t.v(), t.n(), hkv, d);
                }
                be.appendPagedKv(k, v, AppendPositions.fromIndptr(t.indptr(), pool.table()), cache, pool.table());
                bits[pass] = pool.combined() ? sc.bits(cache.k()) : concat(sc.bits(cache.k()), sc.bits(cache.v()));
            }
        }
        Compare.bits("cache after appending views " + kRows + " vs contiguous K/V", bits[0], bits[1]);
    }

    /** Where each request's appended tokens start. */
    private static int[] froms(AttentionCase c, NewTokens t) {
        int[] from = new int[c.batchSize()];
        for (int b = 0; b < from.length; b++) {
            from[b] = c.kvLen(b) - (t.indptr()[b + 1] - t.indptr()[b]);
        }
        return from;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private void ropeOnViews(AttentionCase c) {
        if (c.headDimQk() % 2 != 0) {
            throw new CaseSkipped("odd head dim");
        }
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x2073L);
        int n = c.totalQ();
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDimQk();
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = rng.nextInt(4) == 0 ? rng.nextInt(1 << 20) : rng.nextInt(4096);
        }
        float[] kv = new float[n * hkv * d];
        for (int i = 0; i < kv.length; i++) {
            kv[i] = (float) (rng.nextDouble() * 2 - 1);
        }
        // Fused [n, Hq + 2 Hkv, D]: q's heads, then k's, then v's (which RoPE must leave alone).
        int heads = hq + 2 * hkv;
        float[] fused = new float[n * heads * d];
        for (int i = 0; i < n; i++) {
            System.arraycopy(data.q(), i * hq * d, fused, i * heads * d, hq * d);
            System.arraycopy(kv, i * hkv * d, fused, i * heads * d + hq * d, hkv * d);
            System.arraycopy(kv, i * hkv * d, fused, i * heads * d + (hq + hkv) * d, hkv * d);
        }
        DType dt = c.qDtype();
        StridedRows all = StridedRows.random(rng, heads, d, dt);
        StridedRows kRows = new StridedRows(all.offset() + hq * all.headStride(), all.tokStride(), all.headStride());
        StridedRows vRows = new StridedRows(all.offset() + (hq + hkv) * all.headStride(), all.tokStride(),
                all.headStride());
        AttentionBackend be = s.backend();
        float[] qViewed;
        float[] kViewed;
        try (DeviceScope sc = new DeviceScope(be)) {
            Tensor base = sc.upload(all.host(dt, fused, n, heads, d));
            be.applyRope(all.view(base, n, hq, d), kRows.view(base, n, hkv, d), positions, c.ropeOptions() == null
                    ? org.attn4j.options.RopeOptions.DEFAULT : c.ropeOptions());
            try (HostTensor h = be.download(base)) {
                qViewed = all.gather(h, n, hq, d);
                kViewed = kRows.gather(h, n, hkv, d);
                float[] vAfter = vRows.gather(h, n, hkv, d);
                try (HostTensor before = all.host(dt, fused, n, heads, d)) {
                    Compare.bitwise("v's heads of the fused buffer after RoPE on q and k", vAfter,
                            vRows.gather(before, n, hkv, d), hkv * d);
                }
                all.checkGaps("the fused buffer", h, n, heads, d);
            }
        }
        float[] qPlain;
        float[] kPlain;
        try (DeviceScope sc = new DeviceScope(be)) {
            Tensor q = sc.upload(dt, data.q(), n, hq, d);
            Tensor k = sc.upload(dt, kv, n, hkv, d);
            be.applyRope(q, k, positions, c.ropeOptions() == null ? org.attn4j.options.RopeOptions.DEFAULT
                    : c.ropeOptions());
            qPlain = sc.floats(q);
            kPlain = sc.floats(k);
        }
        Compare.bitwise("q rotated as a view " + all + " vs contiguous", qViewed, qPlain, hq * d);
        Compare.bitwise("k rotated as a view vs contiguous", kViewed, kPlain, hkv * d);
    }

    // ------------------------------------------------------------------ borrowed memory

    private void borrowed(AttentionCase c) {
        ExternalAllocator ext = s.external();
        if (ext == null) {
            throw new CaseSkipped("this backend's suite lends no external memory (no ExternalAllocator)");
        }
        CaseData data = CaseData.of(c);
        AttentionBackend be = s.backend();
        int rows = c.totalQ();
        int hq = c.numQoHeads();
        int d = c.headDimQk();
        List<ExternalMemory> lent = new ArrayList<>();
        AttentionOutput actual;
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            try (DeviceScope sc = new DeviceScope(be)) {
                Tensor q = lend(sc, ext, lent, c.qDtype(), rows, hq, d);
                try (HostTensor qh = DeviceScope.host(c.qDtype(), data.q(), rows, hq, d)) {
                    be.upload(qh, q);
                }
                Tensor o = lend(sc, ext, lent, c.qDtype(), rows, hq, d);
                Tensor lse = c.lse() ? lend(sc, ext, lent, DType.F32, rows, hq) : null;
                Tensor k = lend(sc, ext, lent, pool.k().dtype(), pool.k().shape());
                be.upload(pool.k(), k);
                PagedKvCache cache;
                if (pool.combined()) {
                    cache = PagedKvCache.combined(k, pool.layout(), pool.scales());
                } else {
                    Tensor v = lend(sc, ext, lent, pool.v().dtype(), pool.v().shape());
                    be.upload(pool.v(), v);
                    cache = PagedKvCache.separate(k, v, pool.layout(), pool.scales());
                }
                try (BatchAttentionPlan plan = plan(be, data, pool, PlanOptions.DEFAULT)) {
                    plan.run(q, cache, o, lse);
                }
                actual = new AttentionOutput(sc.floats(o), lse == null ? null : sc.floats(lse), c.qDtype(), rows, hq,
                        d);
            } finally {
                s.backend().synchronize();
                lent.forEach(ext::free);
            }
            AttentionOutput exp = expected(data, o -> Operations.batch(o, data, pool, decode(c),
                    PlanOptions.DEFAULT));
            Compare.outputs("attention over borrowed memory vs oracle", actual, exp, Tolerance.forOutput(c.qDtype()));
        }
    }

    /** A tensor over freshly lent memory, 256 bytes in (an offset the caller's memory may well have). */
    private static Tensor lend(DeviceScope sc, ExternalAllocator ext, List<ExternalMemory> lent, DType dtype,
                               long... shape) {
        long bytes = org.attn4j.tensor.Shapes.elementCount(shape) * dtype.byteSize();
        ExternalMemory m = ext.allocate(sc.backend(), bytes + 256);
        lent.add(m);
        Tensor whole = sc.own(sc.backend().wrap(m, dtype, (bytes + 256) / dtype.byteSize()));
        return whole.view(256 / dtype.byteSize(), shape);
    }

    // ------------------------------------------------------------------ device-resident metadata

    /** A host page table's arrays as I32 device tensors, {@code indices} padded to {@code capacity} with -7. */
    private static DevicePageTable deviceTable(DeviceScope sc, PageTable t, int capacity, int maxKvLen) {
        int[] indices = java.util.Arrays.copyOf(t.indices(), capacity);
        java.util.Arrays.fill(indices, t.totalPages(), capacity, -7);
        Tensor indptr = sc.upload(HostTensor.ofInts(t.indptr(), t.indptr().length));
        Tensor ind = sc.upload(HostTensor.ofInts(indices, capacity));
        Tensor last = sc.upload(HostTensor.ofInts(t.lastPageLen(), t.batchSize()));
        return new DevicePageTable(indptr, ind, last, t.pageSize(), maxKvLen);
    }

    /** Writes {@code t}'s arrays into an existing device table's buffers, as an engine does between steps. */
    private static void rewrite(AttentionBackend be, DevicePageTable dt, PageTable t) {
        int[] indices = java.util.Arrays.copyOf(t.indices(), dt.capacity());
        java.util.Arrays.fill(indices, t.totalPages(), dt.capacity(), -7);
        // Queued behind the runs that read the old table, not waited for, the host copies closed at once.
        try (HostTensor ip = HostTensor.ofInts(t.indptr(), t.indptr().length);
             HostTensor ix = HostTensor.ofInts(indices, dt.capacity());
             HostTensor lp = HostTensor.ofInts(t.lastPageLen(), t.batchSize())) {
            be.uploadAsync(ip, dt.indptr());
            be.uploadAsync(ix, dt.indices());
            be.uploadAsync(lp, dt.lastPageLen());
        }
    }

    private void deviceTable(AttentionCase c) {
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0xDE71CEL);
        AttentionBackend be = s.backend();
        int maxLen = 0;
        for (int b = 0; b < c.batchSize(); b++) {
            maxLen = Math.max(maxLen, c.kvLen(b));
        }
        int bound = maxLen + rng.nextInt(3) * c.pageSize() + rng.nextInt(5);
        // A second table over the same pool: every request one token shorter (or as long, when empty).
        int[] shorter = new int[c.batchSize()];
        for (int b = 0; b < shorter.length; b++) {
            // Causal decode needs a key per row, so a request keeps at least one.
            shorter[b] = c.kvLen(b) == 0 ? 0 : Math.max(1, c.kvLen(b) - 1 - rng.nextInt(2));
        }
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE); DeviceScope sc = new DeviceScope(be)) {
            PageTable first = pool.table();
            PageTable second = truncate(first, shorter);
            int capacity = Math.max(first.totalPages(), (bound + c.pageSize() - 1) / c.pageSize()) + 3;
            DevicePageTable dt = deviceTable(sc, first, capacity, bound);
            PagedKvCache cache = sc.cache(pool);
            int rows = c.totalQ();
            Tensor q = sc.upload(c.qDtype(), data.q(), rows, c.numQoHeads(), c.headDimQk());
            List<PageTable> tables = List.of(first, second);
            Tensor[] o = new Tensor[2];
            Tensor[] lse = new Tensor[2];
            try (BatchAttentionPlan plan = be.planBatchDecode(dt, c.heads(), c.options(),
                    PlanOptions.DEFAULT.withDtypes(c.qDtype(), c.kvDtype()))) {
                // Run, rewrite the table, run again, and only then wait: the rewrite must land
                // after the first run read the table and before the second.
                for (int i = 0; i < 2; i++) {
                    if (i > 0) {
                        rewrite(be, dt, tables.get(i));
                    }
                    o[i] = sc.allocate(c.qDtype(), rows, c.numQoHeads(), c.headDimVo());
                    lse[i] = c.lse() ? sc.allocate(DType.F32, rows, c.numQoHeads()) : null;
                    plan.run(q, cache, o[i], lse[i]);
                }
                for (int i = 0; i < 2; i++) {
                    PageTable t = tables.get(i);
                    AttentionOutput actual = new AttentionOutput(sc.floats(o[i]),
                            lse[i] == null ? null : sc.floats(lse[i]), c.qDtype(), rows, c.numQoHeads(), c.headDimQk());
                    CaseData truncated = i == 0 ? data : data.withCase(lengths(c, t.kvLens()));
                    AttentionOutput exp = expected(truncated, or -> Operations.batch(or, truncated, pool, t, true,
                            PlanOptions.DEFAULT));
                    Compare.outputs("decode over a device page table" + (i == 0 ? "" : " rewritten shorter")
                            + " (bound " + bound + ") vs oracle", actual, exp, Tolerance.forOutput(c.qDtype()));
                }
            }
        }
    }

    /** The case with other key lengths (its data's first keys stand). */
    private static AttentionCase lengths(AttentionCase c, int[] kvLens) {
        AttentionCase.Builder b = c.toBuilder();
        b.kvLens = kvLens.clone();
        return b.build();
    }

    /** {@code t} with each request cut to {@code lens[b]} keys (its first pages). */
    private static PageTable truncate(PageTable t, int[] lens) {
        int[][] pages = new int[t.batchSize()][];
        for (int b = 0; b < pages.length; b++) {
            int n = (lens[b] + t.pageSize() - 1) / t.pageSize();
            pages[b] = new int[n];
            for (int i = 0; i < n; i++) {
                pages[b][i] = t.page(b, i);
            }
        }
        return PageTable.of(t.pageSize(), pages, lens);
    }

    private void deviceMetadata(AttentionCase c) {
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0xD3E7AL);
        NewTokens t = NewTokens.of(c, data, rng);
        AttentionBackend be = s.backend();
        DType in = inputDtype(c);
        int hkv = c.numKvHeads();
        int d = c.headDimQk();
        int[][] bits = new int[2][];
        float[][] rotated = new float[2][];
        for (int pass = 0; pass < 2; pass++) {
            try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE); DeviceScope sc = new DeviceScope(be)) {
                pool.scribble(froms(c, t), c.seed() + 5);
                PagedKvCache cache = sc.cache(pool);
                AppendPositions at = AppendPositions.fromIndptr(t.indptr(), pool.table());
                if (t.n() > 0) {
                    Tensor k = sc.upload(in, t.k(), t.n(), hkv, d);
                    Tensor v = sc.upload(in, t.v(), t.n(), hkv, d);
                    if (pass == 0) {
                        DevicePageTable dt = deviceTable(sc, pool.table(), pool.table().totalPages() + 1,
                                java.util.Arrays.stream(c.kvLens()).max().orElse(0));
                        Tensor bi = sc.upload(HostTensor.ofInts(at.batchIndices(), t.n()));
                        Tensor pos = sc.upload(HostTensor.ofInts(at.positions(), t.n()));
                        be.appendPagedKv(k, v, bi, pos, cache, dt);
                    } else {
                        be.appendPagedKv(k, v, at, cache, pool.table());
                    }
                }
                bits[pass] = pool.combined() ? sc.bits(cache.k()) : concat(sc.bits(cache.k()), sc.bits(cache.v()));
                if (c.headDimQk() % 2 == 0 && c.totalQ() > 0) {
                    int n = c.totalQ();
                    int[] positions = new int[n];
                    for (int i = 0; i < n; i++) {
                        positions[i] = (int) ((c.seed() >>> 3) + 977L * i) & 0xFFFFF;
                    }
                    Tensor q = sc.upload(c.qDtype(), data.q(), n, c.numQoHeads(), d);
                    org.attn4j.options.RopeOptions rope = c.ropeOptions() == null
                            ? org.attn4j.options.RopeOptions.DEFAULT : c.ropeOptions();
                    if (pass == 0) {
                        be.applyRope(q, null, sc.upload(HostTensor.ofInts(positions, n)), rope);
                    } else {
                        be.applyRope(q, null, positions, rope);
                    }
                    rotated[pass] = sc.floats(q);
                }
                be.synchronize(); // no fault: every value was in range
            }
        }
        Compare.bits("cache after a device-described append vs a host-described one", bits[0], bits[1]);
        if (rotated[0] != null) {
            Compare.bitwise("q rotated at device positions vs host positions", rotated[0], rotated[1],
                    c.numQoHeads() * c.headDimQk());
        }
    }

    // ------------------------------------------------------------------ allocation-free steps

    private void noAllocations(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionBackend be = s.backend();
        PlanOptions typed = PlanOptions.DEFAULT.withDtypes(c.qDtype(), c.kvDtype());
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE); DeviceScope sc = new DeviceScope(be)) {
            PagedKvCache cache = sc.cache(pool);
            Tensor q = sc.upload(c.qDtype(), data.q(), c.totalQ(), c.numQoHeads(), c.headDimQk());
            Tensor o = sc.allocate(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo());
            Tensor lse = c.lse() ? sc.allocate(DType.F32, c.totalQ(), c.numQoHeads()) : null;
            for (int warm = 0; warm < 2; warm++) { // the arena grows to the working set here
                try (BatchAttentionPlan plan = be.planBatchDecode(pool.table(), c.heads(), c.options(), typed)) {
                    plan.run(q, cache, o, lse);
                }
            }
            be.synchronize();
            long before = be.deviceAllocations();
            for (int step = 0; step < 3; step++) {
                try (BatchAttentionPlan plan = be.planBatchDecode(pool.table(), c.heads(), c.options(), typed)) {
                    plan.run(q, cache, o, lse);
                }
            }
            be.synchronize();
            long made = be.deviceAllocations() - before;
            if (made != 0) {
                throw new AssertionError(made + " device allocations in 3 steps of plan + run after warm-up");
            }
        }
    }

    // ------------------------------------------------------------------ graphs

    /** Decode steps of two layers, captured once and replayed, against the same calls made eagerly. */
    private void graphReplay(AttentionCase c) {
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x62A9L);
        AttentionBackend be = s.backend();
        int batch = c.batchSize();
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDimQk();
        int ps = c.pageSize();
        int steps = 3;
        int layers = 2;
        int[] start = c.kvLens();
        for (int b = 0; b < batch; b++) {
            start[b] = Math.max(start[b], 1); // causal decode needs a key; the step appends one anyway
        }
        int maxLen = java.util.Arrays.stream(start).max().orElse(1) + steps;
        int pagesPer = (maxLen + ps - 1) / ps;
        int numPages = batch * pagesPer + 1;
        // Request b owns pages b * pagesPer .. : a page table that only grows.
        long[] cacheShape = c.layout() == org.attn4j.kv.KvLayout.NHD ? new long[] {numPages, ps, hkv, d}
                : new long[] {numPages, hkv, ps, d};
        org.attn4j.options.RopeOptions rope = org.attn4j.options.RopeOptions.DEFAULT.withInterleaved(rng.nextBoolean());
        int heads = hq + 2 * hkv;
        try (DeviceScope sc = new DeviceScope(be)) {
            Tensor fused = sc.allocate(c.qDtype(), batch, heads, d);
            Tensor q = fused.view(0, new long[] {batch, hq, d}, new long[] {(long) heads * d, d, 1});
            Tensor k = fused.view((long) hq * d, new long[] {batch, hkv, d}, new long[] {(long) heads * d, d, 1});
            Tensor v = fused.view((long) (hq + hkv) * d, new long[] {batch, hkv, d},
                    new long[] {(long) heads * d, d, 1});
            Tensor positions = sc.allocate(DType.I32, batch);
            int[] bi = new int[batch];
            for (int b = 0; b < batch; b++) {
                bi[b] = b;
            }
            Tensor batchIndices = sc.upload(HostTensor.ofInts(bi, batch));
            DevicePageTable table = new DevicePageTable(sc.allocate(DType.I32, batch + 1),
                    sc.allocate(DType.I32, (long) batch * pagesPer), sc.allocate(DType.I32, batch), ps, maxLen);
            PagedKvCache[][] caches = new PagedKvCache[2][layers];
            Tensor[][] outs = new Tensor[2][layers];
            for (int w = 0; w < 2; w++) {
                for (int l = 0; l < layers; l++) {
                    Tensor kc = sc.allocate(c.kvDtype(), cacheShape);
                    Tensor vc = sc.allocate(c.kvDtype(), cacheShape);
                    caches[w][l] = PagedKvCache.separate(kc, vc, c.layout(),
                            new org.attn4j.kv.KvScales(c.kScale(), c.vScale()));
                    outs[w][l] = sc.allocate(c.qDtype(), batch, hq, d);
                }
            }
            PlanOptions typed = PlanOptions.DEFAULT.withDtypes(c.qDtype(), c.kvDtype());
            try (BatchAttentionPlan plan = be.planBatchDecode(table, c.heads(), c.options().withRope(null), typed)) {
                Runnable[] step = new Runnable[2];
                for (int w = 0; w < 2; w++) {
                    int which = w;
                    step[w] = () -> {
                        for (int l = 0; l < layers; l++) {
                            be.applyRope(q, k, positions, rope);
                            be.appendPagedKv(k, v, batchIndices, positions, caches[which][l], table);
                            plan.run(q, caches[which][l], outs[which][l], null);
                        }
                    };
                }
                // Each step: new tokens and positions written into the same buffers, then the step,
                // eagerly and replayed. The graph is captured after the first eager step, as an engine
                // captures once its first step has run (first uses upload what a capture cannot record).
                org.attn4j.CapturedGraph graph = null;
                try {
                    for (int t = 0; t < steps; t++) {
                        long seed = rng.nextLong();
                        writeStep(be, c, fused, positions, table, start, t, pagesPer, new SplittableRandom(seed));
                        step[0].run();
                        if (graph == null) {
                            graph = be.captureGraph(step[1]);
                        }
                        writeStep(be, c, fused, positions, table, start, t, pagesPer, new SplittableRandom(seed));
                        graph.replay();
                        for (int l = 0; l < layers; l++) {
                            Compare.bitwise("layer " + l + ", step " + t + ": o replayed vs eager",
                                    sc.floats(outs[1][l]), sc.floats(outs[0][l]), hq * d);
                        }
                    }
                } finally {
                    if (graph != null) {
                        graph.close();
                    }
                }
            }
            for (int l = 0; l < layers; l++) {
                Compare.bits("layer " + l + " K after the steps: replayed vs eager", sc.bits(caches[1][l].k()),
                        sc.bits(caches[0][l].k()));
                Compare.bits("layer " + l + " V after the steps: replayed vs eager", sc.bits(caches[1][l].v()),
                        sc.bits(caches[0][l].v()));
            }
            be.synchronize();
        }
    }

    /** Step t's fused q/k/v (random), positions (start + t) and the page table that counts them. */
    private static void writeStep(AttentionBackend be, AttentionCase c, Tensor fused, Tensor positions,
                                  DevicePageTable table, int[] start, int t, int pagesPer, SplittableRandom rng) {
        int batch = c.batchSize();
        try (HostTensor f = HostTensor.allocate(fused.dtype(), fused.shape())) {
            for (long i = 0; i < f.elementCount(); i++) {
                f.setBits(i, SpecFormats.encode(f.dtype(), rng.nextDouble() * 2 - 1));
            }
            be.uploadAsync(f, fused); // closed at once: the bytes were taken (spec §11)
        }
        int[] pos = new int[batch];
        int[] indptr = new int[batch + 1];
        int[] last = new int[batch];
        int[] indices = new int[batch * pagesPer];
        int ps = table.pageSize();
        for (int b = 0; b < batch; b++) {
            int len = start[b] + t + 1;
            pos[b] = len - 1;
            int n = (len + ps - 1) / ps;
            for (int i = 0; i < n; i++) {
                indices[indptr[b] + i] = b * pagesPer + i;
            }
            indptr[b + 1] = indptr[b] + n;
            last[b] = len - (n - 1) * ps;
        }
        // As an engine writes a step's metadata: queued behind the previous step, not waited for.
        try (HostTensor p = HostTensor.ofInts(pos, batch);
             HostTensor ip = HostTensor.ofInts(indptr, batch + 1);
             HostTensor ix = HostTensor.ofInts(indices, indices.length);
             HostTensor lp = HostTensor.ofInts(last, batch)) {
            be.uploadAsync(p, positions);
            be.uploadAsync(ip, table.indptr());
            be.uploadAsync(ix, table.indices());
            be.uploadAsync(lp, table.lastPageLen());
        }
    }
}
