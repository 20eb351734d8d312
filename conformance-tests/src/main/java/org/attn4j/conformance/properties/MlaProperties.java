package org.attn4j.conformance.properties;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.MlaAttentionPlan;
import org.attn4j.conformance.cases.MlaCase;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.SpecMla;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.CaseSkipped;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * spec §13's multi-head latent attention: decode and prefill (causal and not) agree with the
 * spec's formulas ({@link SpecMla}, which shares no code with any backend), MLA equals plain
 * attention with the expanded keys {@code [ckv ; kpe]} and values {@code ckv} over one KV head,
 * the latent append is bit-exact (FP8 quantised as spec §5 says), split KV + merge equals the
 * whole, and invalid inputs are rejected with their names and nothing written. Small dims for
 * speed, plus DeepSeek-V3's shape (128 heads, 512/64) among the edge cases. A backend without
 * {@link Feature#MLA} skips them with the reason {@code feature MLA absent}, and must reject MLA
 * calls with {@code backend '...' does not support MLA}.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class MlaProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test
     */
    public MlaProperties(Subject subject) {
        this.s = subject;
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        return List.of(
                mla("mlaDecodeMatchesOracle", "MLA batch decode ≈ spec §13's formulas (DeepSeek shape included)",
                        true, this::againstOracle),
                mla("mlaPrefillMatchesOracle", "MLA paged prefill, causal and not, ≈ spec §13's formulas", false,
                        this::againstOracle),
                new SimpleProperty<>("mlaEqualsExpandedAttention",
                        "MLA ≈ plain attention over one KV head with keys [ckv ; kpe] and values ckv, any page size",
                        rng -> MlaCase.edgeCases(rng, rng.nextBoolean()), rng -> MlaCase.random(rng, rng.nextBoolean()),
                        MlaCase::shrink, this::unsupportedExpanded, this::expanded, MlaCase::toJava),
                new SimpleProperty<>("mlaAppendIsBitExact",
                        "latent append writes ckv and kpe codes bit-exactly (copies, FP8 quantised with the two "
                                + "scales), nothing else", rng -> MlaCase.edgeCases(rng, false),
                        rng -> MlaCase.random(rng, false), MlaCase::shrink, this::unsupported, this::append,
                        MlaCase::toJava),
                new SimpleProperty<>("mlaSplitMergeEqualsWhole", "MLA decode: split KV + merge ≡ whole",
                        rng -> MlaCase.edgeCases(rng, true), rng -> MlaCase.random(rng, true), MlaCase::shrink,
                        this::unsupportedSplit, this::splitMerge, MlaCase::toJava),
                new SimpleProperty<>("mlaInvalidInputsRejected",
                        "invalid MLA inputs rejected with their names and nothing written; without MLA every call is "
                                + "refused", rng -> List.of(base()), rng -> base(), c -> List.of(), c -> null,
                        this::invalid, MlaCase::toJava));
    }

    private Property<MlaCase> mla(String key, String description, boolean decode,
                                  java.util.function.Consumer<MlaCase> check) {
        return new SimpleProperty<>(key, description, rng -> MlaCase.edgeCases(rng, decode),
                rng -> MlaCase.random(rng, decode), MlaCase::shrink, this::unsupported, check, MlaCase::toJava);
    }

    // ------------------------------------------------------------------ support

    private String unsupported(MlaCase c) {
        Capabilities caps = s.capabilities();
        if (!caps.has(Feature.MLA)) {
            return "feature " + Feature.MLA + " absent";
        }
        if (!caps.qDtypes().contains(c.qDtype())) {
            return "q dtype " + c.qDtype() + " unsupported";
        }
        if (!caps.kvDtypes().contains(c.kvDtype())) {
            return "KV dtype " + c.kvDtype() + " unsupported";
        }
        if (c.causal() && !caps.has(Feature.CAUSAL)) {
            return "feature " + Feature.CAUSAL + " absent";
        }
        return caps.has(Feature.LSE) ? null : "feature " + Feature.LSE + " absent";
    }

    private String unsupportedExpanded(MlaCase c) {
        String r = unsupported(c);
        if (r != null) {
            return r;
        }
        Capabilities caps = s.capabilities();
        if (!caps.has(Feature.DISTINCT_VO_HEAD_DIM)) {
            return "feature " + Feature.DISTINCT_VO_HEAD_DIM + " absent";
        }
        for (int d : new int[] {c.dCkv() + c.dKpe(), c.dCkv()}) {
            if (!caps.supportsHeadDim(d)) {
                return "head dim " + d + " unsupported (" + caps.headDimsDescription() + ")";
            }
        }
        return null;
    }

    private String unsupportedSplit(MlaCase c) {
        String r = unsupported(c);
        return r != null ? r : s.capabilities().has(Feature.MERGE) ? null : "feature " + Feature.MERGE + " absent";
    }

    // ------------------------------------------------------------------ running MLA

    /** The latent cache of a case, uploaded. */
    private static PagedMlaCache cache(DeviceScope scope, MlaCase c, MlaCase.Data d) {
        Tensor ckv = scope.upload(c.kvDtype(), d.ckvPool(c), d.numPages(), c.pageSize(), c.dCkv());
        Tensor kpe = scope.upload(c.kvDtype(), d.kpePool(c), d.numPages(), c.pageSize(), c.dKpe());
        return PagedMlaCache.of(ckv, kpe, c.ckvScale(), c.kpeScale());
    }

    private static PageTable table(MlaCase c, MlaCase.Data d) {
        return PageTable.of(c.pageSize(), d.pages(), c.kvLens());
    }

    /** q as {@code [T, H, dCkv + dKpe]}, each head's nope part first. */
    private static float[] fused(MlaCase c, float[] nope, float[] pe) {
        int rows = c.totalQ() * c.heads();
        int dc = c.dCkv();
        int dp = c.dKpe();
        float[] out = new float[rows * (dc + dp)];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(nope, r * dc, out, r * (dc + dp), dc);
            System.arraycopy(pe, r * dp, out, r * (dc + dp) + dc, dp);
        }
        return out;
    }

    /** Runs the case's MLA on {@code be} over the table; qNope and qPe are views of one fused q on odd seeds. */
    private static Tensor[] run(DeviceScope scope, MlaCase c, MlaCase.Data d, PagedMlaCache cache, PageTable table) {
        AttentionBackend be = scope.backend();
        int t = c.totalQ();
        int h = c.heads();
        int dc = c.dCkv();
        int dp = c.dKpe();
        Tensor qNope;
        Tensor qPe;
        if ((c.seed() & 1) == 1 && t > 0) {
            Tensor q = scope.upload(c.qDtype(), fused(c, d.qNope(), d.qPe()), t, h, dc + dp);
            long[] st = {(long) h * (dc + dp), dc + dp, 1};
            qNope = q.view(0, new long[] {t, h, dc}, st);
            qPe = q.view(dc, new long[] {t, h, dp}, st);
        } else {
            qNope = scope.upload(c.qDtype(), d.qNope(), t, h, dc);
            qPe = scope.upload(c.qDtype(), d.qPe(), t, h, dp);
        }
        Tensor o = scope.sentinel(c.qDtype(), t, h, dc);
        Tensor lse = scope.sentinel(DType.F32, t, h);
        MlaHeadConfig heads = new MlaHeadConfig(h, dc, dp);
        PlanOptions po = (c.seed() & 2) == 0 ? PlanOptions.DEFAULT
                : PlanOptions.DEFAULT.withDtypes(c.qDtype(), c.kvDtype());
        int[] qoIndptr = c.qoIndptr();
        try (MlaAttentionPlan plan = c.decode() ? be.planMlaDecode(table, heads, c.smScale(), po)
                : be.planMlaPrefill(qoIndptr, table, heads, c.causal(), c.smScale(), po)) {
            plan.run(qNope, qPe, cache, o, lse);
        }
        return new Tensor[] {o, lse};
    }

    private static AttentionOutput read(DeviceScope scope, MlaCase c, Tensor[] out) {
        return new AttentionOutput(scope.floats(out[0]), scope.floats(out[1]), c.qDtype(), c.totalQ(), c.heads(),
                c.dCkv());
    }

    // ------------------------------------------------------------------ properties

    private void againstOracle(MlaCase c) {
        MlaCase.Data d = c.data();
        try (DeviceScope scope = new DeviceScope(s.backend())) {
            AttentionOutput out = read(scope, c, run(scope, c, d, cache(scope, c, d), table(c, d)));
            Compare.outputs("MLA vs spec §13", out, SpecMla.attention(c, d), Tolerance.forOutput(c.qDtype()));
        }
    }

    private void expanded(MlaCase c0) {
        MlaCase c = c0.withEqualScales();
        MlaCase.Data d = c.data();
        int dc = c.dCkv();
        int dp = c.dKpe();
        int t = c.totalQ();
        try (DeviceScope scope = new DeviceScope(s.backend())) {
            PageTable table = table(c, d);
            AttentionOutput mla = read(scope, c, run(scope, c, d, cache(scope, c, d), table));
            // Keys [ckv ; kpe] and values ckv as a plain paged cache of one KV head.
            float[] ckv = d.ckvPool(c);
            float[] kpe = d.kpePool(c);
            int slots = d.numPages() * c.pageSize();
            float[] keys = new float[slots * (dc + dp)];
            for (int i = 0; i < slots; i++) {
                System.arraycopy(ckv, i * dc, keys, i * (dc + dp), dc);
                System.arraycopy(kpe, i * dp, keys, i * (dc + dp) + dc, dp);
            }
            Tensor k = scope.upload(c.kvDtype(), keys, d.numPages(), c.pageSize(), 1, dc + dp);
            Tensor v = scope.upload(c.kvDtype(), ckv, d.numPages(), c.pageSize(), 1, dc);
            PagedKvCache cache = PagedKvCache.separate(k, v, KvLayout.NHD, new KvScales(c.ckvScale(), c.ckvScale()));
            Tensor q = scope.upload(c.qDtype(), fused(c, d.qNope(), d.qPe()), t, c.heads(), dc + dp);
            Tensor o = scope.sentinel(c.qDtype(), t, c.heads(), dc);
            Tensor lse = scope.sentinel(DType.F32, t, c.heads());
            HeadConfig heads = new MlaHeadConfig(c.heads(), dc, dp).expanded();
            AttentionOptions opt = AttentionOptions.DEFAULT.withCausal(c.causal()).withSmScale(c.smScale());
            AttentionBackend be = scope.backend();
            try (BatchAttentionPlan plan = c.decode() ? be.planBatchDecode(table, heads, opt, null)
                    : be.planBatchPrefill(c.qoIndptr(), table, heads, opt, null, null)) {
                plan.run(q, cache, o, lse);
            }
            AttentionOutput plain = new AttentionOutput(scope.floats(o), scope.floats(lse), c.qDtype(), t, c.heads(),
                    dc);
            Tolerance tol = Tolerance.forOutput(c.qDtype());
            Compare.outputs("MLA vs expanded attention", mla, plain, new Tolerance(2 * tol.atol(), 2 * tol.rtol()));
        }
    }

    private void splitMerge(MlaCase c) {
        MlaCase.Data d = c.data();
        int[] kvLens = c.kvLens();
        int batch = c.batchSize();
        int[][] pa = new int[batch][];
        int[][] pb = new int[batch][];
        int[] la = new int[batch];
        int[] lb = new int[batch];
        for (int b = 0; b < batch; b++) {
            int[] pages = d.pages()[b];
            int na = pages.length / 2;
            pa[b] = java.util.Arrays.copyOf(pages, na);
            pb[b] = java.util.Arrays.copyOfRange(pages, na, pages.length);
            la[b] = na * c.pageSize();
            lb[b] = kvLens[b] - la[b];
        }
        try (DeviceScope scope = new DeviceScope(s.backend())) {
            PagedMlaCache cache = cache(scope, c, d);
            Tensor[] whole = run(scope, c, d, cache, table(c, d));
            Tensor[] a = run(scope, c, d, cache, PageTable.of(c.pageSize(), pa, la));
            Tensor[] b = run(scope, c, d, cache, PageTable.of(c.pageSize(), pb, lb));
            Tensor o = scope.allocate(c.qDtype(), c.totalQ(), c.heads(), c.dCkv());
            Tensor lse = scope.allocate(DType.F32, c.totalQ(), c.heads());
            scope.backend().mergeState(a[0], a[1], b[0], b[1], o, lse);
            Compare.outputs("MLA split + merge vs whole", read(scope, c, new Tensor[] {o, lse}),
                    read(scope, c, whole), Tolerance.forOutput(c.qDtype()));
        }
    }

    /** Every token of every request appended in a shuffled order, from a q dtype or the cache's own. */
    private void append(MlaCase c) {
        MlaCase.Data d = c.data();
        int dc = c.dCkv();
        int dp = c.dKpe();
        int[] kvLens = c.kvLens();
        SplittableRandom r = new SplittableRandom(c.seed() ^ 0x5EED);
        boolean fp8 = c.kvDtype().byteSize() == 1;
        DType src = fp8 || (c.seed() & 4) == 0 ? c.qDtype() : c.kvDtype();
        int n = java.util.Arrays.stream(kvLens).sum();
        int[] bi = new int[n];
        int[] pos = new int[n];
        int t = 0;
        for (int b = 0; b < kvLens.length; b++) {
            for (int j = 0; j < kvLens[b]; j++) {
                bi[t] = b;
                pos[t++] = j;
            }
        }
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int x = bi[i];
            bi[i] = bi[j];
            bi[j] = x;
            x = pos[i];
            pos[i] = pos[j];
            pos[j] = x;
        }
        // Values that FP8 saturates now and then (e4m3's largest is 448).
        double range = fp8 ? 600 : 4;
        float[] ckvRows = new float[n * dc];
        float[] kpeRows = new float[n * dp];
        for (int i = 0; i < ckvRows.length; i++) {
            ckvRows[i] = SpecFormats.round(src, (r.nextDouble() * 2 - 1) * range);
        }
        for (int i = 0; i < kpeRows.length; i++) {
            kpeRows[i] = SpecFormats.round(src, (r.nextDouble() * 2 - 1) * range);
        }
        int slots = d.numPages() * c.pageSize();
        int sentinel = SpecFormats.width(c.kvDtype()) == 8 ? 0x5A : SpecFormats.width(c.kvDtype()) == 16 ? 0x5A5A
                : 0x5A5A5A5A;
        int[] expCkv = new int[slots * dc];
        int[] expKpe = new int[slots * dp];
        java.util.Arrays.fill(expCkv, sentinel);
        java.util.Arrays.fill(expKpe, sentinel);
        for (int i = 0; i < n; i++) {
            int slot = d.pages()[bi[i]][pos[i] / c.pageSize()] * c.pageSize() + pos[i] % c.pageSize();
            for (int x = 0; x < dc; x++) {
                expCkv[slot * dc + x] = SpecFormats.encode(c.kvDtype(), (double) ckvRows[i * dc + x] / c.ckvScale());
            }
            for (int x = 0; x < dp; x++) {
                expKpe[slot * dp + x] = SpecFormats.encode(c.kvDtype(), (double) kpeRows[i * dp + x] / c.kpeScale());
            }
        }
        try (DeviceScope scope = new DeviceScope(s.backend())) {
            Tensor ckvPool = scope.sentinel(c.kvDtype(), d.numPages(), c.pageSize(), dc);
            Tensor kpePool = scope.sentinel(c.kvDtype(), d.numPages(), c.pageSize(), dp);
            PagedMlaCache cache = PagedMlaCache.of(ckvPool, kpePool, c.ckvScale(), c.kpeScale());
            Tensor ckv;
            Tensor kpe;
            if ((c.seed() & 1) == 1 && n > 0) {
                // As DeepSeek's projection writes them: one [n, dCkv + dKpe] row per token.
                float[] rows = new float[n * (dc + dp)];
                for (int i = 0; i < n; i++) {
                    System.arraycopy(ckvRows, i * dc, rows, i * (dc + dp), dc);
                    System.arraycopy(kpeRows, i * dp, rows, i * (dc + dp) + dc, dp);
                }
                Tensor both = scope.upload(src, rows, n, dc + dp);
                ckv = both.view(0, new long[] {n, dc}, new long[] {dc + dp, 1});
                kpe = both.view(dc, new long[] {n, dp}, new long[] {dc + dp, 1});
            } else {
                ckv = scope.upload(src, ckvRows, n, dc);
                kpe = scope.upload(src, kpeRows, n, dp);
            }
            scope.backend().appendPagedMlaKv(ckv, kpe, new AppendPositions(bi, pos), cache, table(c, d));
            Compare.bits("ckv pool after append", scope.bits(ckvPool), expCkv);
            Compare.bits("kpe pool after append", scope.bits(kpePool), expKpe);
        }
    }

    // ------------------------------------------------------------------ invalid inputs

    /** A valid base: 4 heads, 32/16, pages of 4, two requests of 5 and 9 keys, one decode row each. */
    private static MlaCase base() {
        return new MlaCase(7, 4, 32, 16, 4, DType.F16, DType.F16, true, false, new int[] {1, 1}, new int[] {5, 9},
                0.2f, 1f, 1f);
    }

    private record Scenario(String name, String[] fragments, Runnable call) {}

    private void invalid(MlaCase c) {
        AttentionBackend be = s.backend();
        MlaCase.Data d = c.data();
        PageTable table = table(c, d);
        MlaHeadConfig heads = new MlaHeadConfig(c.heads(), c.dCkv(), c.dKpe());
        if (!s.capabilities().has(Feature.MLA)) {
            expectRejected("MLA on a backend without it", () -> be.planMlaDecode(table, heads, 0.2f, null).close(),
                    "mla", "backend '" + s.backendId() + "' does not support MLA");
            return;
        }
        try (DeviceScope scope = new DeviceScope(be)) {
            PagedMlaCache cache = cache(scope, c, d);
            int t = c.totalQ();
            int h = c.heads();
            Tensor qNope = scope.upload(c.qDtype(), d.qNope(), t, h, c.dCkv());
            Tensor qPe = scope.upload(c.qDtype(), d.qPe(), t, h, c.dKpe());
            Tensor o = scope.sentinel(c.qDtype(), t, h, c.dCkv());
            Tensor lse = scope.sentinel(DType.F32, t, h);
            int[] oBits = scope.bits(o);
            int[] lseBits = scope.bits(lse);
            List<Scenario> l = new ArrayList<>();
            l.add(new Scenario("no smScale", new String[] {"smScale", "NaN"},
                    () -> be.planMlaDecode(table, heads, Float.NaN, null).close()));
            l.add(new Scenario("smScale 0", new String[] {"smScale", "0.0"},
                    () -> be.planMlaDecode(table, heads, 0f, null).close()));
            l.add(new Scenario("causal prefill with qoLen > kvLen", new String[] {"qoLen[0]", "6 > kvLen 5"},
                    () -> be.planMlaPrefill(new int[] {0, 6, 7}, table, heads, true, 0.2f, null).close()));
            l.add(new Scenario("qNope of another dim", new String[] {"qNope.shape", "[2, 4, 33]"}, () -> run(be, table,
                    heads, scope.allocate(c.qDtype(), t, h, c.dCkv() + 1), qPe, cache, o, lse)));
            l.add(new Scenario("qPe of another dtype", new String[] {"qPe.dtype", "F32"}, () -> run(be, table, heads,
                    qNope, scope.allocate(DType.F32, t, h, c.dKpe()), cache, o, lse)));
            l.add(new Scenario("o of the key's dim", new String[] {"o.shape", "[2, 4, 48]"}, () -> run(be, table,
                    heads, qNope, qPe, cache, scope.allocate(c.qDtype(), t, h, c.dCkv() + c.dKpe()), lse)));
            l.add(new Scenario("lse of another shape", new String[] {"lse.shape", "[2, 5]"}, () -> run(be, table,
                    heads, qNope, qPe, cache, o, scope.allocate(DType.F32, t, h + 1))));
            l.add(new Scenario("o is qNope", new String[] {"o", "shares memory with qNope"}, () -> run(be, table,
                    heads, qNope, qPe, cache, qNope, lse)));
            l.add(new Scenario("kpe pool of another dim", new String[] {"cache.headDimKpe", "24"}, () -> run(be, table,
                    heads, qNope, qPe, PagedMlaCache.of(cache.ckv(), scope.allocate(c.kvDtype(), d.numPages(),
                            c.pageSize(), 24)), o, lse)));
            l.add(new Scenario("page ids outside the pools", new String[] {"kvIndices[", "outside [0, 1)"},
                    () -> run(be, table, heads, qNope, qPe, new PagedMlaCache(cache.ckv(), cache.kpe(), 1,
                            c.pageSize(), c.dCkv(), c.dKpe(), 0, 0, (long) c.pageSize() * c.dCkv(),
                            (long) c.pageSize() * c.dKpe(), 1f, 1f), o, lse)));
            l.add(new Scenario("pools smaller than their pages", new String[] {"cache.ckv", "elements"},
                    () -> run(be, table, heads, qNope, qPe, new PagedMlaCache(cache.ckv(), cache.kpe(),
                            d.numPages() + 1, c.pageSize(), c.dCkv(), c.dKpe(), 0, 0, (long) c.pageSize() * c.dCkv(),
                            (long) c.pageSize() * c.dKpe(), 1f, 1f), o, lse)));
            l.add(new Scenario("a cache of another dtype than planned", new String[] {"cache.dtype", "BF16"}, () -> {
                try (MlaAttentionPlan p = be.planMlaDecode(table, heads, 0.2f,
                        PlanOptions.DEFAULT.withDtypes(c.qDtype(), DType.BF16))) {
                    p.run(qNope, qPe, cache, o, lse);
                }
            }));
            l.add(new Scenario("append at a position past the request", new String[] {"positions[0]", "9"},
                    () -> be.appendPagedMlaKv(scope.allocate(c.qDtype(), 1, c.dCkv()),
                            scope.allocate(c.qDtype(), 1, c.dKpe()), new AppendPositions(new int[] {1},
                                    new int[] {9}), cache, table)));
            l.add(new Scenario("append kpe rows of another dim", new String[] {"kpe.shape", "[1, 8]"},
                    () -> be.appendPagedMlaKv(scope.allocate(c.qDtype(), 1, c.dCkv()),
                            scope.allocate(c.qDtype(), 1, 8), new AppendPositions(new int[] {0}, new int[] {0}),
                            cache, table)));
            for (Scenario sc : l) {
                expectRejected(sc.name(), sc.call(), sc.fragments());
                Compare.bits(sc.name() + ": o untouched", scope.bits(o), oBits);
                Compare.bits(sc.name() + ": lse untouched", scope.bits(lse), lseBits);
            }
        }
    }

    private static void run(AttentionBackend be, PageTable table, MlaHeadConfig heads, Tensor qNope, Tensor qPe,
                            PagedMlaCache cache, Tensor o, Tensor lse) {
        try (MlaAttentionPlan p = be.planMlaDecode(table, heads, 0.2f, null)) {
            p.run(qNope, qPe, cache, o, lse);
        }
    }

    private static void expectRejected(String name, Runnable call, String... fragments) {
        try {
            call.run();
        } catch (InvalidArgumentException e) {
            for (String f : fragments) {
                if (!e.getMessage().contains(f)) {
                    throw new AssertionError(name + ": the message '" + e.getMessage() + "' lacks '" + f + "'");
                }
            }
            return;
        } catch (CaseSkipped e) {
            throw e;
        }
        throw new AssertionError(name + ": accepted, expected an InvalidArgumentException naming "
                + String.join(", ", fragments));
    }
}
