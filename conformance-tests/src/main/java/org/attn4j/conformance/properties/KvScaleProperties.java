package org.attn4j.conformance.properties;

import static org.attn4j.conformance.properties.CaseProperty.Shape.EITHER;

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
import org.attn4j.conformance.cases.AttentionCase.ScaleKind;
import org.attn4j.conformance.cases.AttentionCase.SinkKind;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.Fp8AppendCase;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.cases.PagedPool.Fill;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.conformance.check.Compare;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.SpecOracle;
import org.attn4j.conformance.check.Tolerance;
import org.attn4j.conformance.harness.Property;
import org.attn4j.conformance.ops.DeviceScope;
import org.attn4j.conformance.ops.Operations;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * spec §1, §2 and §5's KV scales per KV head and per token: attention over FP8 caches with them
 * agrees with the oracle on every operation that takes them (per-token scales: the paged ones),
 * with the options, paging, layouts and GQA groups of the shared generator; split KV + merge
 * equals the whole under per-token scales; per-head scales all equal to the scalar give the
 * scalar's result; append quantises with per-head scales and computes, writes and quantises
 * with per-token scales bit-exactly. The oracle and split-merge properties come again over cases
 * with {@code Dvo != Dqk} (needing {@code DISTINCT_VO_HEAD_DIM} too), and append runs with a V
 * head dim of its own where the backend has that feature. A backend without
 * {@code KV_SCALES_PER_HEAD} or {@code KV_SCALES_PER_TOKEN} skips these with the reason
 * {@code feature ... absent}.
 *
 * <p>Holds only its subject, so thread-safe; the suite runs its properties one at a time.
 */
public final class KvScaleProperties {
    private final Subject s;

    /**
     * The group's properties for one backend.
     *
     * @param subject the backend under test and its oracle
     */
    public KvScaleProperties(Subject subject) {
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
        CaseProperty perHead = new CaseProperty(s, "kvScalesPerHeadMatchOracle",
                "FP8 attention with per-KV-head scales ≈ oracle on every operation", EITHER,
                fp8(ScaleKind.PER_HEAD), needs(), this::againstOracle);
        CaseProperty perToken = new CaseProperty(s, "kvScalesPerTokenMatchOracle",
                "FP8 attention with per-token scales ≈ oracle on batch decode and paged prefill", EITHER,
                fp8(ScaleKind.PER_TOKEN), needs(), this::againstOracle);
        CaseProperty splitMerge = new CaseProperty(s, "kvScalesPerTokenSplitMergeEqualsWhole",
                "split KV + merge ≡ whole under per-token scales", EITHER, splittable(),
                needs(Feature.LSE, Feature.MERGE), this::splitMerge);
        return List.of(perHead, perToken, splitMerge,
                perHead.withDistinctHeadDims("distinctHeadDimsKvScalesPerHeadMatchOracle",
                        "FP8 attention with per-KV-head scales and Dvo != Dqk ≈ oracle on every operation"),
                perToken.withDistinctHeadDims("distinctHeadDimsKvScalesPerTokenMatchOracle",
                        "FP8 attention with per-token scales and Dvo != Dqk ≈ oracle on batch decode and paged "
                                + "prefill"),
                splitMerge.withDistinctHeadDims("distinctHeadDimsKvScalesPerTokenSplitMergeEqualsWhole",
                        "split KV + merge ≡ whole under per-token scales with Dvo != Dqk"),
                new CaseProperty(s, "kvScalesUniformPerHeadEqualsScalar",
                        "per-head scales all equal to the scalar ≈ the scalar scales", EITHER, fp8(ScaleKind.SCALAR),
                        needs(Feature.KV_SCALES_PER_HEAD), this::uniformPerHead),
                new SimpleProperty<>("kvScalesAppendBitExact",
                        "append with per-head scales and with amax-computed per-token scales bit-exact in codes "
                                + "and written scales, with V rows of K's head dim and (DISTINCT_VO_HEAD_DIM) of "
                                + "another", Fp8AppendCase::edgeCases, Fp8AppendCase::random,
                        Fp8AppendCase::shrink, this::unsupportedAppend, this::append, Fp8AppendCase::toJava));
    }

    // ------------------------------------------------------------------ case adapters

    /** An FP8 cache (format from the seed) with the given scale kind. */
    private static UnaryOperator<AttentionCase.Builder> fp8(ScaleKind kind) {
        return b -> {
            b.kvDtype = ((b.seed >>> 3) & 1) == 0 ? DType.FP8_E4M3 : DType.FP8_E5M2;
            b.scaleKind = kind;
            return b;
        };
    }

    /** Keys split in two lose their positions (RoPE, ALiBi) and their place relative to the query (masks). */
    private static UnaryOperator<AttentionCase.Builder> splittable() {
        return b -> {
            fp8(ScaleKind.PER_TOKEN).apply(b);
            AttentionProperties.unmasked().apply(b);
            b.alibi = AlibiKind.NONE;
            b.sinks = SinkKind.NONE;
            b.lse = true;
            return b;
        };
    }

    // ------------------------------------------------------------------ agreement with the oracle

    /** An operation of spec §6 and its name, run on any backend. */
    private record Op(String name, Function<AttentionBackend, AttentionOutput> run) {}

    /**
     * The case's operation, chosen from its seed: batch (paged) always; with per-head scales also
     * ragged prefill and single calls, which per-token scales do not take (spec §2).
     */
    private Op operation(CaseData data) {
        AttentionCase c = data.kase();
        boolean decode = c.isDecode() && c.mask() == MaskKind.NONE;
        int pick = (int) Math.floorMod(c.seed() >>> 8, 3L);
        if (c.scaleKind() == ScaleKind.PER_TOKEN) {
            pick = Math.min(pick, 1);
        }
        boolean deterministic = s.capabilities().has(Feature.DETERMINISTIC)
                && (!s.hasOracleBackend() || s.oracle().capabilities().has(Feature.DETERMINISTIC));
        return switch (pick) {
            case 0 -> new Op(decode ? "batch decode" : "batch prefill", be -> {
                try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
                    return Operations.batch(be, data, pool, decode, PlanOptions.DEFAULT);
                }
            });
            case 1 -> decode || c.scaleKind() == ScaleKind.PER_TOKEN
                    ? new Op("batch " + (decode ? "decode" : "prefill") + (deterministic ? ", deterministic" : ""),
                        be -> {
                            try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
                                return Operations.batch(be, data, pool, decode,
                                        deterministic ? PlanOptions.DETERMINISTIC : PlanOptions.DEFAULT);
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
        AttentionOutput actual = op.run().apply(s.backend());
        AttentionOutput exp = s.hasOracleBackend() ? op.run().apply(s.oracle()) : SpecOracle.attention(data);
        if (!c.lse()) {
            exp = exp.withoutLse();
        }
        String oracle = s.hasOracleBackend() ? "oracle '" + s.oracle().id() + "'" : "spec formula";
        Compare.outputs(op.name() + " with " + c.scaleKind() + " scales vs " + oracle, actual, exp, tol(c));
    }

    // ------------------------------------------------------------------ merge law

    /**
     * Each request's keys cut in two at a drawn point, each half attended as a request of its own
     * with its keys' per-token scales in a pool of its own paging, merged ≡ the whole.
     */
    private void splitMerge(AttentionCase c) {
        CaseData data = CaseData.of(c);
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x5CA1ED1L);
        int batch = c.batchSize();
        int hkv = c.numKvHeads();
        int w = hkv * c.headDimQk();
        int wv = hkv * c.headDimVo();
        float[][] k = new float[2 * batch][];
        float[][] v = new float[2 * batch][];
        float[][] ks = new float[2 * batch][];
        float[][] vs = new float[2 * batch][];
        int[] lens = new int[2 * batch];
        for (int b = 0; b < batch; b++) {
            int cut = rng.nextInt(c.kvLen(b) + 1);
            int len = c.kvLen(b);
            k[b] = Arrays.copyOf(data.k(b), cut * w);
            v[b] = Arrays.copyOf(data.v(b), cut * wv);
            ks[b] = Arrays.copyOf(data.kScales(b), cut * hkv);
            vs[b] = Arrays.copyOf(data.vScales(b), cut * hkv);
            k[batch + b] = Arrays.copyOfRange(data.k(b), cut * w, len * w);
            v[batch + b] = Arrays.copyOfRange(data.v(b), cut * wv, len * wv);
            ks[batch + b] = Arrays.copyOfRange(data.kScales(b), cut * hkv, len * hkv);
            vs[batch + b] = Arrays.copyOfRange(data.vScales(b), cut * hkv, len * hkv);
            lens[b] = cut;
            lens[batch + b] = len - cut;
        }
        AttentionBackend be = s.backend();
        AttentionOutput whole;
        try (PagedPool pool = PagedPool.of(data, Fill.GARBAGE)) {
            whole = Operations.batch(be, data, pool, c.isDecode(), PlanOptions.DEFAULT);
        }
        try (PagedPool pool = PagedPool.build(k, v, lens, hkv, c.headDimQk(), c.headDimVo(), c.kvDtype(),
                new KvScales(c.kScale(), c.vScale()), c.pageSize(), c.layout(), c.combinedCache(), c.extraPages(),
                c.seed() + 5, Fill.GARBAGE).withTokenScales(ks, vs, Fill.GARBAGE, c.seed() + 6)) {
            PageTable first = Operations.subTable(pool.table(), 0, batch, lens);
            PageTable second = Operations.subTable(pool.table(), batch, 2 * batch, lens);
            AttentionOutput a = Operations.batch(be, data, pool, first, c.isDecode(), PlanOptions.DEFAULT);
            AttentionOutput b = Operations.batch(be, data, pool, second, c.isDecode(), PlanOptions.DEFAULT);
            Compare.outputs("merge(attention(first keys), attention(rest)) with per-token scales, cut after "
                    + Arrays.toString(Arrays.copyOf(lens, batch)) + " keys, vs attention(all keys)",
                    Operations.merge(be, a, b), whole, tol(c));
        }
    }

    /** The case's scalar scales as per-head tensors of that one value: the same real K and V. */
    private void uniformPerHead(AttentionCase c) {
        CaseData data = CaseData.of(c);
        float[] kh = new float[c.numKvHeads()];
        float[] vh = new float[c.numKvHeads()];
        Arrays.fill(kh, c.kScale());
        Arrays.fill(vh, c.vScale());
        boolean decode = c.isDecode() && c.mask() == MaskKind.NONE;
        try (PagedPool perHead = PagedPool.of(data, Fill.GARBAGE).withHeadScales(kh, vh)) {
            PagedPool scalar = new PagedPool(perHead.k(), perHead.v(), perHead.combined(), perHead.layout(),
                    perHead.table(), perHead.numPages(), perHead.scales(), null); // shares the tensors, closes none
            AttentionOutput a = Operations.batch(s.backend(), data, perHead, decode, PlanOptions.DEFAULT);
            AttentionOutput b = Operations.batch(s.backend(), data, scalar, decode, PlanOptions.DEFAULT);
            Compare.outputs("per-head scales all " + c.kScale() + "/" + c.vScale() + " vs the scalar scales", a, b,
                    tol(c));
        }
    }

    // ------------------------------------------------------------------ append

    private String unsupportedAppend(Fp8AppendCase c) {
        return Fp8Properties.unsupportedAppend(s.capabilities(), c, Feature.APPEND, Feature.KV_SCALES_PER_HEAD,
                Feature.KV_SCALES_PER_TOKEN);
    }

    private void append(Fp8AppendCase c) {
        append(c, KvScaleMode.PER_HEAD, c.headDim());
        append(c, KvScaleMode.PER_TOKEN, c.headDim());
        // V rows of another length than K rows: the scale pools keep the one shape (spec §2), the
        // V scale is V's own row amax.
        int dv = c.headDim() >= 64 ? c.headDim() / 2 : c.headDim() * 2;
        Capabilities caps = s.capabilities();
        if (!c.combined() && caps.has(Feature.DISTINCT_VO_HEAD_DIM) && caps.supportsHeadDim(dv)) {
            append(c, KvScaleMode.PER_HEAD, dv);
            append(c, KvScaleMode.PER_TOKEN, dv);
        }
    }

    /**
     * Appends every request's new tokens in a drawn order into a pool whose unwritten slots hold
     * garbage; afterwards each appended element holds the code of its input divided by its scale
     * (the head's, or the row's spec §5 amax scale), every per-token scale written is that scale's
     * bits, and every other bit of the cache and of the scale tensors is what it was.
     */
    private void append(Fp8AppendCase c, KvScaleMode mode, int dv) {
        int[] lens = c.lens();
        int[] from = c.from();
        int hkv = c.numKvHeads();
        int d = c.headDim();
        int w = hkv * d;
        int wv = hkv * dv;
        int n = c.appended();
        int[] kIn = c.values(n * w, c.kScale(), 0x4BL);
        int[] vIn = c.values(n * wv, c.vScale(), 0x5CL);
        int[] bi = new int[n];
        int[] pos = new int[n];
        int at = 0;
        for (int b = 0; b < lens.length; b++) {
            for (int t = from[b]; t < lens[b]; t++) {
                bi[at] = b;
                pos[at++] = t;
            }
        }
        int[] order = Fp8Properties.permutation(n, new SplittableRandom(c.seed() ^ 0x0DE5L));
        int[] obi = new int[n];
        int[] opos = new int[n];
        for (int i = 0; i < n; i++) {
            obi[i] = bi[order[i]];
            opos[i] = pos[order[i]];
        }
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x5CA1EL);
        int[][] ks = new int[lens.length][];
        int[][] vs = new int[lens.length][];
        float[][] kTok = new float[lens.length][];
        float[][] vTok = new float[lens.length][];
        for (int b = 0; b < lens.length; b++) {
            ks[b] = new int[lens[b] * w];
            vs[b] = new int[lens[b] * wv];
            for (int i = 0; i < Math.max(ks[b].length, vs[b].length); i++) {
                if (i < ks[b].length) {
                    ks[b][i] = rng.nextInt(0x7F);
                }
                if (i < vs[b].length) {
                    vs[b][i] = 0x80 | rng.nextInt(0x7F);
                }
            }
            kTok[b] = new float[lens[b] * hkv];
            vTok[b] = new float[lens[b] * hkv];
            for (int i = 0; i < kTok[b].length; i++) {
                // tokens already there keep a scale; the slots to be appended hold NaN until written
                boolean old = i / hkv < from[b];
                kTok[b][i] = old ? 0.5f + rng.nextFloat() : Float.NaN;
                vTok[b][i] = old ? 0.5f + rng.nextFloat() : Float.NaN;
            }
        }
        float[] factors = {1f, 0.5f, 2f, 3f, 0.3f};
        float[] kh = new float[hkv];
        float[] vh = new float[hkv];
        for (int h = 0; h < hkv; h++) {
            kh[h] = c.kScale() * factors[h % factors.length];
            vh[h] = c.vScale() * factors[(h + 2) % factors.length];
        }
        AttentionBackend be = s.backend();
        PagedPool plain = PagedPool.buildBits(ks, vs, lens, hkv, d, dv, c.format(), new KvScales(c.kScale(), c.vScale()),
                c.pageSize(), c.layout(), c.combined(), 1, c.seed() + 3, Fill.GARBAGE);
        plain.scribble(from, c.seed() + 5);
        try (PagedPool pool = mode == KvScaleMode.PER_HEAD ? plain.withHeadScales(kh, vh)
                : plain.withTokenScales(kTok, vTok, Fill.GARBAGE, c.seed() + 7);
             DeviceScope sc = new DeviceScope(be)) {
            int[] expectedK = bits(pool.k());
            int[] expectedV = c.combined() ? expectedK : bits(pool.v());
            int[] expectedKs = bits(pool.tensorScales().k());
            int[] expectedVs = bits(pool.tensorScales().v());
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < hkv; h++) {
                    int row = (i * hkv + h) * d;
                    int vRow = (i * hkv + h) * dv;
                    float kScale = mode == KvScaleMode.PER_HEAD ? kh[h] : rowScale(c, kIn, row, d);
                    float vScale = mode == KvScaleMode.PER_HEAD ? vh[h] : rowScale(c, vIn, vRow, dv);
                    if (mode == KvScaleMode.PER_TOKEN) {
                        int si = (int) pool.scaleIndex(obi[i], opos[i], h);
                        expectedKs[si] = Float.floatToRawIntBits(kScale);
                        expectedVs[si] = Float.floatToRawIntBits(vScale);
                    }
                    for (int x = 0; x < d; x++) {
                        expectedK[(int) pool.index(obi[i], opos[i], h, x, false)] = quantise(c, kIn[row + x], kScale);
                    }
                    for (int x = 0; x < dv; x++) {
                        (c.combined() ? expectedK : expectedV)[(int) pool.index(obi[i], opos[i], h, x, true)] =
                                quantise(c, vIn[vRow + x], vScale);
                    }
                }
            }
            PagedKvCache cache = sc.cache(pool);
            if (n > 0) {
                Tensor kt = sc.uploadBits(c.input(), kIn, n, hkv, d);
                Tensor vt = sc.uploadBits(c.input(), vIn, n, hkv, dv);
                be.appendPagedKv(kt, vt, new AppendPositions(obi, opos), cache, pool.table());
            }
            String what = "append with " + mode + " scales" + (dv == d ? "" : ", Dqk " + d + " and Dvo " + dv);
            Compare.bits(what + ": K codes", low8(sc.bits(cache.k())), low8(expectedK));
            if (!c.combined()) {
                Compare.bits(what + ": V codes", low8(sc.bits(cache.v())), low8(expectedV));
            }
            Compare.bits(what + ": K scales", sc.bits(cache.scales().kTensor()), expectedKs);
            Compare.bits(what + ": V scales", sc.bits(cache.scales().vTensor()), expectedVs);
        }
    }

    /**
     * spec §5's per-token scale, computed here in double from the input's values: the largest
     * finite magnitude over the maximum of the format, rounded once to F32; 1 below 2^-126.
     */
    private static float rowScale(Fp8AppendCase c, int[] in, int from, int count) {
        double amax = 0;
        for (int i = 0; i < count; i++) {
            double x = Math.abs(SpecFormats.value(c.input(), in[from + i]));
            if (Double.isFinite(x)) {
                amax = Math.max(amax, x);
            }
        }
        float scale = (float) (amax / SpecFormats.maxFinite(c.format()));
        return scale < 0x1p-126f ? 1f : scale;
    }

    /** The code spec §1 and §5 give input bits {@code in} stored with {@code scale}. */
    private static int quantise(Fp8AppendCase c, int in, float scale) {
        float x = SpecFormats.value(c.input(), in);
        if (Float.isNaN(x)) {
            return SpecFormats.nanCode(c.format(), SpecFormats.negative(c.input(), in));
        }
        return SpecFormats.encode(c.format(), (double) x / scale);
    }

    private static int[] low8(int[] bits) {
        int[] out = new int[bits.length];
        for (int i = 0; i < bits.length; i++) {
            out[i] = bits[i] & 0xFF;
        }
        return out;
    }

    private static int[] bits(org.attn4j.tensor.HostTensor t) {
        int[] out = new int[Math.toIntExact(t.elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.getBits(i);
        }
        return out;
    }
}
