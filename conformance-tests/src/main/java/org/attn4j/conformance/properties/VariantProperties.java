package org.attn4j.conformance.properties;

import static org.attn4j.conformance.properties.CaseProperty.Shape.EITHER;
import static org.attn4j.conformance.properties.CaseProperty.Shape.PREFILL;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.attn4j.AttentionBackend;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.AttentionCase.AlibiKind;
import org.attn4j.conformance.cases.AttentionCase.MaskKind;
import org.attn4j.conformance.cases.AttentionCase.RopeKind;
import org.attn4j.conformance.cases.AttentionCase.SinkKind;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecOracle;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.conformance.ops.Operations.CascadeShape;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;

/**
 * spec §3's attention sinks and ALiBi, and §4's rule for sinks under a merge: agreement with the
 * oracle on every attention operation, combined with the other options, paging and GQA groups
 * the shared generator draws; the exact o and lse of rows without keys; a sink counted once when
 * split keys merge and in a cascade; partial rotary (spec §3's rotary dim) on the fly against the
 * oracle, with the same operations. A backend without {@code SINKS} or {@code ALIBI} skips those
 * with the reason {@code feature SINKS absent} or {@code feature ALIBI absent}.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class VariantProperties {
    /** Longest lengths of an F32 case with ALiBi (spec §9: its bias adds to the logit's rounding). */
    static final int F32_ALIBI_MAX_LEN = 16;
    /** Longest keys of an F32 case with RoPE, as the shared generator draws them (spec §9). */
    static final int F32_ROPE_MAX_KV = 96;

    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public VariantProperties(Subject subject) {
        this.s = subject;
    }

    private static EnumSet<Feature> needs(Feature... f) {
        EnumSet<Feature> set = EnumSet.noneOf(Feature.class);
        set.addAll(List.of(f));
        return set;
    }

    private static Tolerance tol(AttentionCase c) {
        return Tolerance.forOutput(c.qDtype());
    }

    /**
     * Every property of the group, each keyed by the suite's test that runs it.
     *
     * @return new properties, in the order the suite lists them
     */
    public List<Property<?>> all() {
        return List.of(
                new CaseProperty(s, "sinksMatchOracle",
                        "attention sinks ≈ oracle on every operation; rows without keys give o 0 and lse = sink",
                        EITHER, sinks(), needs(Feature.SINKS), this::againstOracle),
                new CaseProperty(s, "alibiMatchesOracle",
                        "ALiBi (standard and drawn slopes) ≈ oracle on every operation", EITHER, alibi(),
                        needs(Feature.ALIBI), this::againstOracle),
                new CaseProperty(s, "sinksWithAlibiMatchOracle", "sinks and ALiBi together ≈ oracle", EITHER,
                        sinksAndAlibi(), needs(Feature.SINKS, Feature.ALIBI), this::againstOracle),
                new CaseProperty(s, "sinksSplitMergeEqualsWhole",
                        "sinks on one part of split KV, or merged in as the state (0, sink), ≡ whole", EITHER,
                        splittable(), needs(Feature.SINKS, Feature.LSE, Feature.MERGE), this::splitMerge),
                new CaseProperty(s, "cascadeWithSinksEqualsFlat", "cascade with sinks ≡ flat attention with sinks",
                        PREFILL, cascadable(), needs(Feature.PREFILL, Feature.CASCADE, Feature.MERGE, Feature.SINKS),
                        this::cascade),
                new CaseProperty(s, "partialRotaryMatchesOracle",
                        "RoPE on the fly over the first R < D dims (both pairings) ≈ oracle on every operation",
                        EITHER, partialRotary(), needs(Feature.ROPE), this::againstOracle));
    }

    // ------------------------------------------------------------------ case adapters

    private static UnaryOperator<AttentionCase.Builder> sinks() {
        return b -> {
            b.sinks = SinkKind.DRAWN;
            b.alibi = AlibiKind.NONE;
            return b;
        };
    }

    private static UnaryOperator<AttentionCase.Builder> alibi() {
        return b -> {
            b.sinks = SinkKind.NONE;
            b.alibi = (b.seed & 1) == 0 ? AlibiKind.STANDARD : AlibiKind.DRAWN;
            return shortForF32(b);
        };
    }

    private static UnaryOperator<AttentionCase.Builder> sinksAndAlibi() {
        return b -> {
            b.sinks = SinkKind.DRAWN;
            b.alibi = (b.seed & 1) == 0 ? AlibiKind.STANDARD : AlibiKind.DRAWN;
            return shortForF32(b);
        };
    }

    /**
     * F32 outputs with ALiBi: lengths capped so that {@code |slope * (j - pq)|} stays below about
     * 16, where a binary32 bias keeps F32's tolerance (spec §9).
     */
    private static AttentionCase.Builder shortForF32(AttentionCase.Builder b) {
        if (b.qDtype == DType.F32) {
            for (int i = 0; i < b.kvLens.length; i++) {
                b.kvLens[i] = Math.min(b.kvLens[i], F32_ALIBI_MAX_LEN);
                b.qoLens[i] = Math.min(b.qoLens[i], F32_ALIBI_MAX_LEN);
            }
        }
        return b;
    }

    /**
     * Partial rotary on the fly, rotate-half or interleaved by the seed, with whatever else the
     * generator drew; F32 keeps its keys within {@link #F32_ROPE_MAX_KV} as the generator does for
     * every RoPE case (float angles drift with the position).
     */
    private static UnaryOperator<AttentionCase.Builder> partialRotary() {
        return b -> {
            b.rope = (b.seed & 2) == 0 ? RopeKind.PARTIAL_HALF : RopeKind.PARTIAL_INTERLEAVED;
            if (b.qDtype == DType.F32) {
                for (int i = 0; i < b.kvLens.length; i++) {
                    b.kvLens[i] = Math.min(b.kvLens[i], F32_ROPE_MAX_KV);
                }
            }
            return b;
        };
    }

    /** Keys split in two lose their positions (RoPE, ALiBi) and their place relative to the query (masks). */
    private static UnaryOperator<AttentionCase.Builder> splittable() {
        return b -> {
            AttentionProperties.unmasked().apply(b);
            b.alibi = AlibiKind.NONE;
            b.sinks = SinkKind.DRAWN;
            b.lse = true;
            return b;
        };
    }

    /** A cascade takes neither RoPE on the fly nor ALiBi; causal and window it carries per level. */
    private static UnaryOperator<AttentionCase.Builder> cascadable() {
        return b -> {
            AttentionProperties.cascadable().apply(b);
            b.alibi = AlibiKind.NONE;
            b.sinks = SinkKind.DRAWN;
            return b;
        };
    }

    // ------------------------------------------------------------------ agreement with the oracle

    /** An operation of spec §6 and its name, run on any backend. */
    private record Op(String name, Function<AttentionBackend, AttentionOutput> run) {}

    /**
     * The case's operation, chosen from its seed: batch (paged), ragged prefill, or single calls;
     * decode when every request has one row and no mask (decode takes none), prefill otherwise.
     */
    private static Op operation(CaseData data) {
        AttentionCase c = data.kase();
        boolean decode = c.isDecode() && c.mask() == MaskKind.NONE;
        int pick = (int) Math.floorMod(c.seed() >>> 8, 3L);
        return switch (pick) {
            case 0 -> new Op(decode ? "batch decode" : "batch prefill", be -> {
                try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
                    return Operations.batch(be, data, pool, decode, PlanOptions.DEFAULT);
                }
            });
            case 1 -> decode
                    ? new Op("batch decode, deterministic", be -> {
                        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
                            return Operations.batch(be, data, pool, true, PlanOptions.DETERMINISTIC);
                        }
                    })
                    : new Op("ragged prefill", be -> Operations.ragged(be, data, PlanOptions.DEFAULT));
            default -> new Op(decode ? "single decodes" : "single prefills",
                    be -> Operations.singles(be, data, c.layout(), decode));
        };
    }

    private void againstOracle(AttentionCase c) {
        CaseData data = CaseData.of(c);
        Op op = operation(data);
        if (op.name().contains("deterministic") && !s.capabilities().has(Feature.DETERMINISTIC)) {
            op = new Op("batch decode", be -> {
                try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
                    return Operations.batch(be, data, pool, true, PlanOptions.DEFAULT);
                }
            });
        }
        AttentionOutput actual = op.run().apply(s.backend());
        AttentionOutput exp = s.hasOracleBackend() ? op.run().apply(s.oracle()) : SpecOracle.attention(data);
        if (!c.lse()) {
            exp = exp.withoutLse();
        }
        String oracle = s.hasOracleBackend() ? "oracle '" + s.oracle().id() + "'" : "spec formula";
        Compare.outputs(op.name() + " vs " + oracle, actual, exp, tol(c));
        rowsWithoutKeysExact(op.name(), data, actual);
    }

    /** spec §3: a row no key is allowed in has o exactly 0 and lse exactly the sink (-inf without). */
    private static void rowsWithoutKeysExact(String what, CaseData data, AttentionOutput actual) {
        AttentionCase c = data.kase();
        boolean[] empty = SpecOracle.rowsWithoutKeys(data);
        float[] sinks = c.sinkLogits();
        int hq = c.numQoHeads();
        int d = c.headDimQk();
        for (int row = 0; row < empty.length; row++) {
            if (!empty[row]) {
                continue;
            }
            for (int h = 0; h < hq; h++) {
                for (int t = 0; t < d; t++) {
                    float x = actual.o()[(row * hq + h) * d + t];
                    if (x != 0) {
                        throw new AssertionError(what + ": row " + row + " allows no key, so o must be 0; o[row "
                                + row + ", head " + h + ", d " + t + "] = " + x);
                    }
                }
                if (actual.lse() != null) {
                    float want = sinks == null ? Float.NEGATIVE_INFINITY : sinks[h];
                    float got = actual.lse()[row * hq + h];
                    if (Float.compare(got, want) != 0) {
                        throw new AssertionError(what + ": row " + row + " allows no key, so lse must be "
                                + (sinks == null ? "-inf" : "head " + h + "'s sink " + want) + " exactly; actual "
                                + got);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ merge laws

    /**
     * Each request's keys cut in two at a drawn point, each half attended as a request of its own:
     * the sinks given to one half (which, drawn from the seed) and merged ≡ the whole with sinks;
     * both halves without sinks, merged, then merged with the state {@code (0, sink)} ≡ the same.
     */
    private void splitMerge(AttentionCase c) {
        CaseData data = CaseData.of(c);
        AttentionCase.Builder nb = c.toBuilder();
        nb.sinks = SinkKind.NONE;
        CaseData plain = data.withCase(nb.build());
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x51A4C0L);
        int batch = c.batchSize();
        int w = c.numKvHeads() * c.headDimQk();
        float[][] k = new float[2 * batch][];
        float[][] v = new float[2 * batch][];
        int[] lens = new int[2 * batch];
        for (int b = 0; b < batch; b++) {
            int cut = rng.nextInt(c.kvLen(b) + 1);
            k[b] = Arrays.copyOf(data.k(b), cut * w);
            v[b] = Arrays.copyOf(data.v(b), cut * w);
            k[batch + b] = Arrays.copyOfRange(data.k(b), cut * w, c.kvLen(b) * w);
            v[batch + b] = Arrays.copyOfRange(data.v(b), cut * w, c.kvLen(b) * w);
            lens[b] = cut;
            lens[batch + b] = c.kvLen(b) - cut;
        }
        boolean sinkOnFirst = rng.nextBoolean();
        String cuts = Arrays.toString(Arrays.copyOf(lens, batch));
        AttentionOutput whole;
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            whole = Operations.batch(s.backend(), data, pool, c.isDecode(), PlanOptions.DEFAULT);
        }
        try (PagedPool pool = PagedPool.build(k, v, lens, c.numKvHeads(), c.headDimQk(), c.kvDtype(),
                new KvScales(c.kScale(), c.vScale()), c.pageSize(), c.layout(), c.combinedCache(), c.extraPages(),
                c.seed() + 5, Fill.GARBAGE)) {
            PageTable first = Operations.subTable(pool.table(), 0, batch, lens);
            PageTable second = Operations.subTable(pool.table(), batch, 2 * batch, lens);
            AttentionBackend be = s.backend();
            AttentionOutput a = Operations.batch(be, sinkOnFirst ? data : plain, pool, first, c.isDecode(),
                    PlanOptions.DEFAULT);
            AttentionOutput b = Operations.batch(be, sinkOnFirst ? plain : data, pool, second, c.isDecode(),
                    PlanOptions.DEFAULT);
            Compare.outputs("merge(attention" + (sinkOnFirst ? " with sinks" : "") + "(first keys), attention"
                    + (sinkOnFirst ? "" : " with sinks") + "(rest)), cut after " + cuts
                    + " keys, vs attention with sinks(all keys)", Operations.merge(be, a, b), whole, tol(c));
            AttentionOutput a0 = sinkOnFirst ? Operations.batch(be, plain, pool, first, c.isDecode(),
                    PlanOptions.DEFAULT) : a;
            AttentionOutput b0 = sinkOnFirst ? b : Operations.batch(be, plain, pool, second, c.isDecode(),
                    PlanOptions.DEFAULT);
            AttentionOutput merged = Operations.merge(be, Operations.merge(be, a0, b0), sinkState(c, whole.rows()));
            Compare.outputs("merge(merge(attention(first keys), attention(rest)), (0, sink)), cut after " + cuts
                    + " keys, vs attention with sinks(all keys)", merged, whole, tol(c));
        }
    }

    /** spec §4: the sinks as a state of their own, o 0 and lse the head's sink on every row. */
    private static AttentionOutput sinkState(AttentionCase c, int rows) {
        float[] sinks = c.sinkLogits();
        int hq = c.numQoHeads();
        float[] lse = new float[rows * hq];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(sinks, 0, lse, r * hq, hq);
        }
        return new AttentionOutput(new float[rows * hq * c.headDimVo()], lse, c.qDtype(), rows, hq, c.headDimVo());
    }

    private void cascade(AttentionCase c) {
        CascadeShape shape = CascadeShape.random(c, new SplittableRandom(c.seed() ^ 0xCA5CADEL));
        CaseData shared = Operations.sharePrefixes(CaseData.of(c), shape);
        AttentionOutput cascade = Operations.cascade(s.backend(), shared, shape, PlanOptions.DEFAULT);
        AttentionOutput flat;
        try (PagedPool pool = PagedPool.of(shared, Fill.GARBAGE)) {
            flat = Operations.batch(s.backend(), shared, pool, false, PlanOptions.DEFAULT);
        }
        Compare.outputs("cascade with sinks (" + shape + ") vs flat attention with sinks", cascade, flat, tol(c));
    }
}
