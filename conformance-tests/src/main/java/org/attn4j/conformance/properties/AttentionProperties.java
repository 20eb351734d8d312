package org.attn4j.conformance.properties;

import static org.attn4j.conformance.properties.CaseProperty.Shape.DECODE;
import static org.attn4j.conformance.properties.CaseProperty.Shape.EITHER;
import static org.attn4j.conformance.properties.CaseProperty.Shape.PREFILL;

import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.attn4j.AttentionBackend;
import org.attn4j.options.PlanOptions;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.AttentionCase.MaskKind;
import org.attn4j.conformance.cases.AttentionCase.RopeKind;
import org.attn4j.conformance.cases.AttentionCase.ScaleKind;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.SpecOracle;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.CaseSkipped;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.conformance.ops.Operations.CascadeShape;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;

/**
 * spec §9's attention properties: agreement with the oracle for every operation, and the
 * metamorphic laws a backend must keep on its own (layouts, paging, garbage, batching, masks,
 * cascade, split and merge).
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class AttentionProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public AttentionProperties(Subject subject) {
        this.s = subject;
    }

    private static UnaryOperator<AttentionCase.Builder> noMask() {
        return b -> {
            b.mask = MaskKind.NONE;
            return b;
        };
    }

    private static UnaryOperator<AttentionCase.Builder> any() {
        return b -> b;
    }

    private static EnumSet<Feature> needs(Feature... f) {
        EnumSet<Feature> set = EnumSet.noneOf(Feature.class);
        set.addAll(List.of(f));
        return set;
    }

    private static Tolerance tol(AttentionCase c) {
        return Tolerance.forOutput(c.qDtype());
    }

    /** The oracle backend's answer to {@code op}, or spec §3 evaluated directly when there is none. */
    private AttentionOutput expected(CaseData data, Function<AttentionBackend, AttentionOutput> op) {
        AttentionOutput e = s.hasOracleBackend() ? op.apply(s.oracle()) : SpecOracle.attention(data);
        return data.kase().lse() ? e : e.withoutLse();
    }

    private String oracleName() {
        return s.hasOracleBackend() ? "oracle '" + s.oracle().id() + "'" : "spec formula";
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        List<Property<?>> base = List.of(
                new CaseProperty(s, "singleDecodeMatchesOracle", "single decode ≈ oracle", DECODE, noMask(),
                        needs(Feature.DECODE), this::singleDecode),
                new CaseProperty(s, "singlePrefillMatchesOracle", "single prefill ≈ oracle", PREFILL, any(),
                        needs(Feature.PREFILL), this::singlePrefill),
                new CaseProperty(s, "batchDecodeMatchesOracle", "batch decode (paged) ≈ oracle", DECODE, noMask(),
                        needs(Feature.DECODE), c -> batchVsOracle(c, true)),
                new CaseProperty(s, "batchPrefillMatchesOracle", "batch prefill (paged) ≈ oracle", PREFILL, any(),
                        needs(Feature.PREFILL), c -> batchVsOracle(c, false)),
                new CaseProperty(s, "raggedPrefillMatchesOracle", "batch prefill (ragged) ≈ oracle", PREFILL, any(),
                        needs(Feature.PREFILL), this::raggedVsOracle),
                new CaseProperty(s, "cascadeMatchesOracle", "cascade ≈ oracle's flat attention", PREFILL, cascadable(),
                        needs(Feature.PREFILL, Feature.CASCADE, Feature.MERGE), this::cascadeVsOracle),
                new CaseProperty(s, "nhdEqualsHnd", "NHD ≡ HND", EITHER, any(), needs(), this::nhdEqualsHnd),
                new CaseProperty(s, "pageSizeInvariance", "result independent of the page size", EITHER, any(),
                        needs(), this::pageSizeInvariance),
                new CaseProperty(s, "pagePermutationInvariance", "result independent of which pages hold the keys",
                        EITHER, any(), needs(), this::permutationInvariance),
                new CaseProperty(s, "unusedSlotsIgnored", "garbage, NaN and Inf in unused slots and pages ignored",
                        EITHER, any(), needs(), this::garbageIgnored),
                new CaseProperty(s, "batchEqualsSingles", "batch ≡ per-request single ops", EITHER, any(), needs(),
                        this::batchEqualsSingles),
                new CaseProperty(s, "decodeEqualsPrefillWithQoLen1", "decode ≡ prefill with qoLen 1", DECODE,
                        noMask(), needs(Feature.DECODE, Feature.PREFILL), this::decodeEqualsPrefill),
                new CaseProperty(s, "splitKvMergeEqualsWhole", "split KV + merge ≡ whole", EITHER, unmasked(),
                        needs(Feature.LSE, Feature.MERGE), this::splitMergeEqualsWhole),
                new CaseProperty(s, "cascadeEqualsFlat", "cascade ≡ flat attention", PREFILL, cascadable(),
                        needs(Feature.PREFILL, Feature.CASCADE, Feature.MERGE), this::cascadeEqualsFlat),
                new CaseProperty(s, "contextParallelDecodeEqualsSingle",
                        "context-parallel decode over 1-4 logical shards ≡ batch decode on one device", DECODE,
                        contextParallel(true), needs(Feature.DECODE, Feature.PREFILL, Feature.CUSTOM_MASK,
                        Feature.LSE, Feature.MERGE), c -> contextParallelEqualsSingle(c, true)),
                new CaseProperty(s, "contextParallelPrefillEqualsSingle",
                        "context-parallel prefill over 1-4 logical shards ≡ batch prefill on one device", PREFILL,
                        contextParallel(false), needs(Feature.PREFILL, Feature.CUSTOM_MASK, Feature.LSE,
                        Feature.MERGE), c -> contextParallelEqualsSingle(c, false)),
                new CaseProperty(s, "lowerTriangularMaskEqualsCausal", "lower-triangular custom mask ≡ causal",
                        PREFILL, causalOnly(), needs(Feature.PREFILL, Feature.CUSTOM_MASK),
                        this::maskEqualsCausal),
                new CaseProperty(s, "deterministicIsBatchInvariant",
                        "deterministic plans: a request's result bitwise independent of the batch", EITHER, any(),
                        needs(Feature.DETERMINISTIC), this::deterministic),
                new CaseProperty(s, "fp8QueryMatchesOracle",
                        "FP8 q (e4m3, e5m2), o in the case's dtype, ≈ oracle on the same q values (paged, ragged, "
                                + "and planned ahead in a caller workspace)", EITHER, any(),
                        needs(Feature.FP8_QUERY), this::fp8QueryVsOracle));
        List<Property<?>> all = new java.util.ArrayList<>(base);
        for (Property<?> p : base) {
            String[] distinct = DISTINCT_HEAD_DIMS.get(p.key());
            if (distinct != null) {
                all.add(((CaseProperty) p).withDistinctHeadDims(distinct[0], distinct[1]));
            }
        }
        return all;
    }

    /**
     * The properties that run again over cases with {@code Dvo != Dqk} (spec §2, e.g. 192/128):
     * each operation against the oracle (decode, prefill, paged, ragged, single, cascade; causal,
     * window, soft cap, RoPE and GQA come with the drawn cases), split KV + merge and cascade against
     * the whole. Their keys and descriptions.
     */
    private static final java.util.Map<String, String[]> DISTINCT_HEAD_DIMS = java.util.Map.of(
            "singleDecodeMatchesOracle", new String[] {"distinctHeadDimsSingleDecodeMatchesOracle",
                "single decode, Dvo != Dqk ≈ oracle"},
            "singlePrefillMatchesOracle", new String[] {"distinctHeadDimsSinglePrefillMatchesOracle",
                "single prefill, Dvo != Dqk ≈ oracle"},
            "batchDecodeMatchesOracle", new String[] {"distinctHeadDimsBatchDecodeMatchesOracle",
                "batch decode (paged), Dvo != Dqk ≈ oracle"},
            "batchPrefillMatchesOracle", new String[] {"distinctHeadDimsBatchPrefillMatchesOracle",
                "batch prefill (paged), Dvo != Dqk ≈ oracle"},
            "raggedPrefillMatchesOracle", new String[] {"distinctHeadDimsRaggedPrefillMatchesOracle",
                "batch prefill (ragged), Dvo != Dqk ≈ oracle"},
            "cascadeMatchesOracle", new String[] {"distinctHeadDimsCascadeMatchesOracle",
                "cascade, Dvo != Dqk ≈ oracle's flat attention"},
            "splitKvMergeEqualsWhole", new String[] {"distinctHeadDimsSplitKvMergeEqualsWhole",
                "split KV + merge ≡ whole, Dvo != Dqk"},
            "cascadeEqualsFlat", new String[] {"distinctHeadDimsCascadeEqualsFlat",
                "cascade ≡ flat attention, Dvo != Dqk"});

    static UnaryOperator<AttentionCase.Builder> cascadable() {
        return b -> {
            b.mask = MaskKind.NONE;
            b.rope = RopeKind.NONE;
            return b;
        };
    }

    /** Keys split in two lose their positions (RoPE) and their place relative to the query (masks). */
    static UnaryOperator<AttentionCase.Builder> unmasked() {
        return b -> {
            b.mask = MaskKind.NONE;
            b.rope = RopeKind.NONE;
            b.causal = false;
            b.windowLeft = -1;
            return b;
        };
    }

    private static UnaryOperator<AttentionCase.Builder> causalOnly() {
        return b -> {
            b.mask = MaskKind.NONE;
            b.causal = true;
            return b;
        };
    }

    // ------------------------------------------------------------------ agreement with the oracle

    private void singleDecode(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionOutput actual = Operations.singles(s.backend(), data, c.layout(), true);
        AttentionOutput exp = expected(data, o -> Operations.singles(o, data, c.layout(), true));
        Compare.outputs("single decode vs " + oracleName(), actual, exp, tol(c));
    }

    private void singlePrefill(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionOutput actual = Operations.singles(s.backend(), data, c.layout(), false);
        AttentionOutput exp = expected(data, o -> Operations.singles(o, data, c.layout(), false));
        Compare.outputs("single prefill vs " + oracleName(), actual, exp, tol(c));
    }

    private void batchVsOracle(AttentionCase c, boolean decode) {
        CaseData data = CaseData.of(c);
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            AttentionOutput actual = Operations.batch(s.backend(), data, pool, decode, PlanOptions.DEFAULT);
            AttentionOutput exp = expected(data, o -> Operations.batch(o, data, pool, decode, PlanOptions.DEFAULT));
            Compare.outputs((decode ? "batch decode" : "batch prefill") + " vs " + oracleName(), actual, exp, tol(c));
        }
    }

    /**
     * Batch decode or prefill with q stored in FP8 (e4m3 or e5m2 by the seed) and o in the case's
     * dtype (spec §1). The oracle reads the same q values in the case's dtype, which holds every
     * e4m3 and e5m2 value exactly.
     */
    private void fp8QueryVsOracle(AttentionCase c) {
        DType q8 = (c.seed() & 1) == 0 ? DType.FP8_E4M3 : DType.FP8_E5M2;
        CaseData drawn = CaseData.of(c);
        float[] q = drawn.q().clone();
        for (int i = 0; i < q.length; i++) {
            q[i] = SpecFormats.round(q8, q[i]);
        }
        CaseData data = drawn.withQ(q);
        boolean decode = Operations.runsAsDecode(c);
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            // Half the cases plan ahead in a caller workspace: an FP8 q's plan may hold more than a
            // plan (a scratch for q, plans for each o dtype), all of which must fit where the
            // backend said. A quarter run a ragged prefill over the same keys instead.
            boolean ahead = (c.seed() & 2) != 0;
            boolean ragged = !ahead && !decode && (c.seed() & 4) != 0 && c.scaleKind() != ScaleKind.PER_TOKEN;
            AttentionOutput actual = ahead
                    ? Operations.batchInWorkspace(s.backend(), data, pool, decode, PlanOptions.DEFAULT, q8)
                    : ragged ? Operations.ragged(s.backend(), data, PlanOptions.DEFAULT, q8)
                    : Operations.batch(s.backend(), data, pool, decode, PlanOptions.DEFAULT, q8);
            AttentionOutput exp = expected(data, o -> Operations.batch(o, data, pool, decode,
                    PlanOptions.DEFAULT));
            String op = ragged ? "ragged prefill" : (decode ? "batch decode" : "batch prefill")
                    + (ahead ? " planned ahead in a workspace" : "");
            Compare.outputs(op + " with a " + q8 + " q vs " + oracleName(), actual, exp, tol(c));
        }
    }

    private void raggedVsOracle(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionOutput actual = Operations.ragged(s.backend(), data, PlanOptions.DEFAULT);
        AttentionOutput exp = expected(data, o -> Operations.ragged(o, data, PlanOptions.DEFAULT));
        Compare.outputs("ragged prefill vs " + oracleName(), actual, exp, tol(c));
    }

    private static CascadeShape cascadeShape(AttentionCase c) {
        return CascadeShape.random(c, new SplittableRandom(c.seed() ^ 0xCA5CADEL));
    }

    private void cascadeVsOracle(AttentionCase c) {
        CascadeShape shape = cascadeShape(c);
        CaseData shared = Operations.sharePrefixes(CaseData.of(c), shape);
        AttentionOutput actual = Operations.cascade(s.backend(), shared, shape, PlanOptions.DEFAULT);
        AttentionOutput exp;
        try (PagedPool pool = PagedPool.of(shared, Fill.GARBAGE)) {
            exp = expected(shared, o -> Operations.batch(o, shared, pool, false, PlanOptions.DEFAULT));
        }
        Compare.outputs("cascade (" + shape + ") vs " + oracleName() + " flat", actual, exp, tol(c));
    }

    // ------------------------------------------------------------------ metamorphic laws

    /** Batch decode for decode cases, paged prefill otherwise, over a pool built as given. */
    private AttentionOutput paged(CaseData data, int pageSize, KvLayout layout, boolean combined, int extra,
                                  long perm, Fill fill) {
        AttentionCase c = data.kase();
        try (PagedPool pool = PagedPool.of(data, pageSize, layout, combined, extra, perm, fill)) {
            return Operations.batch(s.backend(), data, pool, c.isDecode(), PlanOptions.DEFAULT);
        }
    }

    private AttentionOutput paged(CaseData data) {
        AttentionCase c = data.kase();
        return paged(data, c.pageSize(), c.layout(), c.combinedCache(), c.extraPages(), c.seed() * 31 + 7,
                Fill.GARBAGE);
    }

    private void nhdEqualsHnd(AttentionCase c) {
        for (KvLayout l : KvLayout.values()) {
            if (!s.capabilities().layouts().contains(l)) {
                throw new CaseSkipped("layout " + l + " unsupported");
            }
        }
        CaseData data = CaseData.of(c);
        long perm = c.seed() * 31 + 7;
        AttentionOutput nhd = paged(data, c.pageSize(), KvLayout.NHD, c.combinedCache(), c.extraPages(), perm,
                Fill.GARBAGE);
        AttentionOutput hnd = paged(data, c.pageSize(), KvLayout.HND, c.combinedCache(), c.extraPages(), perm,
                Fill.GARBAGE);
        Compare.outputs("HND vs NHD", hnd, nhd, tol(c));
    }

    /**
     * The case's page size against the plainest paging there is: every request whole in one page
     * of a power-of-two size (twice that when the case already uses it). The page size under test
     * is the case's own, so the reproduction prints the page size that failed and shrinking moves
     * it, instead of a page size drawn from the seed that the printed case never shows.
     */
    private void pageSizeInvariance(AttentionCase c) {
        int longest = java.util.Arrays.stream(c.kvLens()).max().orElse(0);
        int whole = Integer.highestOneBit(Math.max(1, longest - 1)) << (longest > 1 ? 1 : 0);
        if (whole == c.pageSize()) {
            whole *= 2;
        }
        CaseData data = CaseData.of(c);
        AttentionOutput paged = paged(data);
        AttentionOutput onePage = paged(data, whole, c.layout(), c.combinedCache(), c.extraPages(), c.seed() + 99,
                Fill.GARBAGE);
        Compare.outputs("page size " + c.pageSize() + " vs every request in one page of " + whole, paged, onePage,
                tol(c));
    }

    private void permutationInvariance(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionOutput base = paged(data);
        AttentionOutput moved = paged(data, c.pageSize(), c.layout(), c.combinedCache(), c.extraPages() + 3,
                ~c.seed(), Fill.GARBAGE);
        Compare.outputs("other page permutation vs case's", moved, base, tol(c));
    }

    private void garbageIgnored(AttentionCase c) {
        CaseData data = CaseData.of(c);
        long perm = c.seed() * 31 + 7;
        AttentionOutput clean = paged(data, c.pageSize(), c.layout(), c.combinedCache(), c.extraPages() + 1, perm,
                Fill.ZEROS);
        AttentionOutput dirty = paged(data, c.pageSize(), c.layout(), c.combinedCache(), c.extraPages() + 1, perm,
                Fill.GARBAGE);
        Compare.outputs("garbage-filled pool vs zero-filled pool", dirty, clean, tol(c));
    }

    private void batchEqualsSingles(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionOutput batch = paged(data);
        AttentionOutput singles = Operations.singles(s.backend(), data, c.layout(), c.isDecode());
        Compare.outputs((c.isDecode() ? "single decodes" : "single prefills") + " vs batch", singles, batch, tol(c));
    }

    private void decodeEqualsPrefill(AttentionCase c) {
        CaseData data = CaseData.of(c);
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            AttentionOutput decode = Operations.batch(s.backend(), data, pool, true, PlanOptions.DEFAULT);
            AttentionOutput prefill = Operations.batch(s.backend(), data, pool, false, PlanOptions.DEFAULT);
            Compare.outputs("prefill with qoLen 1 vs decode", prefill, decode, tol(c));
        }
    }

    private void splitMergeEqualsWhole(AttentionCase c) {
        AttentionCase.Builder withLse = c.toBuilder();
        withLse.lse = true;
        AttentionCase cl = withLse.build();
        CaseData data = CaseData.of(cl);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x5B117L);
        int batch = c.batchSize();
        int w = c.numKvHeads() * c.headDimQk();
        int wv = c.numKvHeads() * c.headDimVo();
        float[][] k = new float[2 * batch][];
        float[][] v = new float[2 * batch][];
        int[] lens = new int[2 * batch];
        for (int b = 0; b < batch; b++) {
            int cut = rng.nextInt(c.kvLen(b) + 1);
            k[b] = java.util.Arrays.copyOf(data.k(b), cut * w);
            v[b] = java.util.Arrays.copyOf(data.v(b), cut * wv);
            k[batch + b] = java.util.Arrays.copyOfRange(data.k(b), cut * w, c.kvLen(b) * w);
            v[batch + b] = java.util.Arrays.copyOfRange(data.v(b), cut * wv, c.kvLen(b) * wv);
            lens[b] = cut;
            lens[batch + b] = c.kvLen(b) - cut;
        }
        AttentionOutput whole = paged(data);
        try (PagedPool pool = PagedPool.build(k, v, lens, c.numKvHeads(), c.headDimQk(), c.headDimVo(), c.kvDtype(),
                new org.attn4j.kv.KvScales(c.kScale(), c.vScale()), c.pageSize(), c.layout(), c.combinedCache(),
                c.extraPages(), c.seed() + 5, Fill.GARBAGE)) {
            PageTable first = Operations.subTable(pool.table(), 0, batch, lens);
            PageTable second = Operations.subTable(pool.table(), batch, 2 * batch, lens);
            AttentionOutput a = Operations.batch(s.backend(), data, pool, first, c.isDecode(), PlanOptions.DEFAULT);
            AttentionOutput b = Operations.batch(s.backend(), data, pool, second, c.isDecode(), PlanOptions.DEFAULT);
            AttentionOutput merged = Operations.merge(s.backend(), a, b);
            Compare.outputs("merge(attention(first keys), attention(rest)), cut after "
                    + java.util.Arrays.toString(java.util.Arrays.copyOf(lens, batch)) + " keys, vs attention(all keys)",
                    merged, whole,
                    tol(c));
        }
    }

    private void cascadeEqualsFlat(AttentionCase c) {
        CascadeShape shape = cascadeShape(c);
        CaseData shared = Operations.sharePrefixes(CaseData.of(c), shape);
        AttentionOutput cascade = Operations.cascade(s.backend(), shared, shape, PlanOptions.DEFAULT);
        AttentionOutput flat = paged(shared);
        Compare.outputs("cascade (" + shape + ") vs flat", cascade, flat, tol(c));
    }

    /** Context parallelism rejects RoPE on the fly and ALiBi (spec §12); decode takes no custom mask. */
    private static UnaryOperator<AttentionCase.Builder> contextParallel(boolean decode) {
        return b -> {
            b.rope = RopeKind.NONE;
            b.alibi = AttentionCase.AlibiKind.NONE;
            if (decode) {
                b.mask = MaskKind.NONE;
            }
            return b;
        };
    }

    /** The case's batch over 1 + (seed mod 4) logical shards against the same batch unsharded. */
    private void contextParallelEqualsSingle(AttentionCase c, boolean decode) {
        CaseData data = CaseData.of(c);
        int shards = 1 + (int) Math.floorMod(c.seed(), 4L);
        AttentionOutput whole;
        AttentionOutput sharded;
        try (PagedPool pool = PagedPool.of(data, c.pageSize(), c.layout(), c.combinedCache(), c.extraPages(),
                c.seed() * 31 + 7, Fill.GARBAGE)) {
            // A prefill case may have one row per request: plan it as a prefill all the same (its mask).
            whole = Operations.batch(s.backend(), data, pool, decode, PlanOptions.DEFAULT);
            sharded = Operations.contextParallel(s.backend(), data, pool, shards, decode);
        }
        Compare.outputs("context-parallel " + (decode ? "decode" : "prefill") + " over " + shards
                + " logical shards vs one batch", sharded, whole, tol(c));
    }

    private void maskEqualsCausal(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionOutput causal = paged(data);
        boolean[][] tri = new boolean[c.batchSize()][];
        for (int b = 0; b < c.batchSize(); b++) {
            int qo = c.qoLen(b);
            int kv = c.kvLen(b);
            tri[b] = new boolean[qo * kv];
            for (int i = 0; i < qo; i++) {
                for (int j = 0; j < kv; j++) {
                    tri[b][i * kv + j] = j <= i + kv - qo;
                }
            }
        }
        MaskKind form = MaskKind.values()[1 + (int) Math.floorMod(c.seed(), 3L)];
        AttentionCase.Builder nb = c.toBuilder();
        nb.causal = false;
        nb.mask = form;
        CaseData masked = data.withCase(nb.build()).withMask(tri, form);
        AttentionOutput viaMask = paged(masked);
        Compare.outputs("lower-triangular " + form + " mask vs causal", viaMask, causal, tol(c));
    }

    /** The table's requests in another order. */
    private static PageTable reversedTable(PageTable t, int[] order) {
        int[][] pages = new int[order.length][];
        int[] lens = new int[order.length];
        for (int i = 0; i < order.length; i++) {
            pages[i] = new int[t.pageCount(order[i])];
            for (int p = 0; p < pages[i].length; p++) {
                pages[i][p] = t.page(order[i], p);
            }
            lens[i] = t.kvLen(order[i]);
        }
        return PageTable.of(t.pageSize(), pages, lens);
    }

    private void deterministic(AttentionCase c) {
        CaseData data = CaseData.of(c);
        boolean decode = c.isDecode();
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            AttentionOutput all = Operations.batch(s.backend(), data, pool, decode, PlanOptions.DETERMINISTIC);
            AttentionOutput again = Operations.batch(s.backend(), data, pool, decode, PlanOptions.DETERMINISTIC);
            int hd = c.numQoHeads() * c.headDimVo(); // a row of o
            Compare.bitwise("deterministic batch run twice", again.o(), all.o(), hd);
            int[] qoIndptr = c.qoIndptr();
            int batch = c.batchSize();
            int[] lens = c.kvLens();
            if (batch > 1) {
                int[] reversed = new int[batch];
                for (int b = 0; b < batch; b++) {
                    reversed[b] = batch - 1 - b;
                }
                CaseData backwards = data.select(reversed);
                PageTable table = reversedTable(pool.table(), reversed);
                AttentionOutput rev = Operations.batch(s.backend(), backwards, pool, table, decode,
                        PlanOptions.DETERMINISTIC);
                int[] revIndptr = backwards.kase().qoIndptr();
                for (int i = 0; i < batch; i++) {
                    int b = reversed[i];
                    Compare.bitwise("request " + b + " in the reversed batch vs in order",
                            rev.rows(revIndptr[i], revIndptr[i + 1]).o(), all.rows(qoIndptr[b], qoIndptr[b + 1]).o(),
                            hd);
                }
            }
            for (int b = 0; b < Math.min(batch, 3); b++) {
                if (c.qoLen(b) == 0 || batch == 1) {
                    continue;
                }
                CaseData alone = data.select(b);
                AttentionOutput one = Operations.batch(s.backend(), alone, pool,
                        Operations.subTable(pool.table(), b, b + 1, lens), decode, PlanOptions.DETERMINISTIC);
                AttentionOutput inBatch = all.rows(qoIndptr[b], qoIndptr[b + 1]);
                Compare.bitwise("request " + b + " alone vs in the batch", one.o(), inBatch.o(), hd);
                if (c.lse()) {
                    Compare.bitwise("lse of request " + b + " alone vs in the batch", one.lse(), inBatch.lse(),
                            c.numQoHeads());
                }
            }
        }
    }
}
