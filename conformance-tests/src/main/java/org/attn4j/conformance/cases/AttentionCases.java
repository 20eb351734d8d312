package org.attn4j.conformance.cases;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.conformance.cases.AttentionCase.DataKind;
import org.attn4j.conformance.cases.AttentionCase.MaskKind;
import org.attn4j.conformance.cases.AttentionCase.RopeKind;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;

/**
 * Generates valid {@link AttentionCase}s: spec §9's edge cases first, then random ones, and
 * shrinks a failing case toward fewer requests, shorter lengths, fewer heads, a smaller head dim
 * and fewer options.
 *
 * <p>Stateless and thread-safe; every draw comes from the random source passed in.
 */
public final class AttentionCases {
    /** Longest random KV length; raise with {@code -Dattn4j.maxKvLen} on fast backends. */
    static final int MAX_KV = Integer.getInteger("attn4j.maxKvLen", 160);
    private static final int MAX_QO = 24;
    private static final int[] PAGE_SIZES = {1, 3, 7, 8, 16, 17, 32};
    /**
     * Multiples of 16 (every backend), then dims that backends may refuse by their capabilities'
     * step and then skip: a multiple of 8 only, of 4 only, and an odd one (drawn without RoPE).
     */
    private static final int[] HEAD_DIMS = {32, 48, 64, 80, 96, 128, 160, 192, 256, 40, 100, 33};
    private static final int[] GROUPS = {1, 2, 3, 4, 7, 8, 16};
    private static final float[] FP8_SCALES = {0.25f, 0.5f, 1f, 2f};

    private AttentionCases() {}

    /** A plain case: F16, NHD, page 16, no options; edge cases change one thing each. */
    private static AttentionCase.Builder plain(boolean decode, long seed) {
        int[] qo = decode ? new int[] {1, 1} : new int[] {5, 3};
        return new AttentionCase(qo, new int[] {20, 9}, 4, 2, 64, 16, KvLayout.NHD, false, 1, DType.F16, DType.F16,
                1f, 1f, false, -1, 0f, Float.NaN, RopeKind.NONE, MaskKind.NONE, true, DataKind.UNIFORM, seed)
                .toBuilder();
    }

    /**
     * spec §9's edge cases, each a plain case (F16, NHD, page 16, no options) with one thing
     * pushed to its edge.
     *
     * @param decode one query row per request, for the decode operations
     * @param rng    the source of seeds
     * @return new cases
     */
    public static List<AttentionCase> edgeCases(boolean decode, SplittableRandom rng) {
        List<AttentionCase.Builder> e = new ArrayList<>();
        int q1 = decode ? 1 : 3;
        // kvLen 0 (alone and next to a normal request) and 1
        e.add(plain(decode, rng.nextLong()).lengths(new int[] {q1}, new int[] {0}));
        e.add(plain(decode, rng.nextLong()).lengths(new int[] {q1, 1}, new int[] {0, 12}));
        e.add(plain(decode, rng.nextLong()).lengths(new int[] {1}, new int[] {1}));
        // around one page: pageSize - 1, exactly full, pageSize + 1
        for (int len : new int[] {15, 16, 17}) {
            e.add(plain(decode, rng.nextLong()).lengths(new int[] {q1, 1}, new int[] {len, len}));
        }
        // long KV next to a short one: long enough that device backends split the keys
        e.add(plain(decode, rng.nextLong()).lengths(new int[] {q1, 1, 1}, new int[] {1500, 3, 700}));
        // qoLen = kvLen, causal
        if (!decode) {
            AttentionCase.Builder b = plain(false, rng.nextLong()).lengths(new int[] {21, 1}, new int[] {21, 1});
            b.causal = true;
            e.add(b);
        } else {
            AttentionCase.Builder b = plain(true, rng.nextLong()).lengths(new int[] {1, 1}, new int[] {1, 33});
            b.causal = true;
            e.add(b);
        }
        // group sizes 1, 4, 8, Hq
        for (int[] h : new int[][] {{4, 4}, {8, 2}, {8, 1}, {6, 1}}) {
            e.add(plain(decode, rng.nextLong()).heads(h[0], h[1]));
        }
        // head dims
        for (int d : new int[] {32, 64, 128, 256}) {
            e.add(plain(decode, rng.nextLong()).headDim(d));
        }
        // page size 1 and a non-power of two
        for (int p : new int[] {1, 7}) {
            AttentionCase.Builder b = plain(decode, rng.nextLong());
            b.pageSize = p;
            e.add(b);
        }
        // logits near +-1e4 (exactly representable, see DataKind.LARGE_LOGITS)
        for (DType q : new DType[] {DType.F16, DType.BF16}) {
            AttentionCase.Builder b = plain(decode, rng.nextLong()).lengths(new int[] {q1, 1}, new int[] {40, 17});
            b.qDtype = q;
            b.kvDtype = q;
            b.data = DataKind.LARGE_LOGITS;
            b.smScale = 256f;
            e.add(b);
        }
        // windows 0 and larger than kvLen
        for (int w : new int[] {0, 1000}) {
            AttentionCase.Builder b = plain(decode, rng.nextLong());
            b.windowLeft = w;
            b.causal = !decode;
            e.add(b);
        }
        // layouts, combined cache, FP8 KV with scales, F32, BF16
        AttentionCase.Builder hnd = plain(decode, rng.nextLong());
        hnd.layout = KvLayout.HND;
        e.add(hnd);
        AttentionCase.Builder comb = plain(decode, rng.nextLong());
        comb.combinedCache = true;
        comb.layout = KvLayout.HND;
        e.add(comb);
        for (DType kv : new DType[] {DType.FP8_E4M3, DType.FP8_E5M2}) {
            AttentionCase.Builder b = plain(decode, rng.nextLong());
            b.qDtype = DType.BF16;
            b.kvDtype = kv;
            b.kScale = 0.5f;
            b.vScale = 2f;
            e.add(b);
        }
        AttentionCase.Builder f32 = plain(decode, rng.nextLong());
        f32.qDtype = DType.F32;
        f32.kvDtype = DType.F32;
        e.add(f32);
        // options: soft cap, RoPE both pairings and Llama 3.1, masks in every form
        AttentionCase.Builder cap = plain(decode, rng.nextLong());
        cap.softCap = 5f;
        cap.smScale = 0.5f;
        e.add(cap);
        for (RopeKind r : new RopeKind[] {RopeKind.HALF, RopeKind.INTERLEAVED, RopeKind.LLAMA31, RopeKind.SCALED}) {
            AttentionCase.Builder b = plain(decode, rng.nextLong());
            b.rope = r;
            e.add(b);
        }
        for (MaskKind m : new MaskKind[] {MaskKind.BOOLEANS, MaskKind.PACKED, MaskKind.PACKED_WITH_OFFSETS}) {
            AttentionCase.Builder b = plain(decode, rng.nextLong());
            b.mask = m;
            e.add(b);
        }
        return e.stream().map(AttentionCase.Builder::build).toList();
    }

    /**
     * A random valid case: up to 8 requests of up to {@code -Dattn4j.maxKvLen} keys (default 160)
     * and 24 query rows, any grouping, head dim, dtypes, paging and options.
     *
     * @param decode one query row per request, for the decode operations
     * @param rng    the source of randomness
     * @return a new case
     */
    public static AttentionCase random(boolean decode, SplittableRandom rng) {
        int batch = rng.nextInt(8) == 0 ? 1 + rng.nextInt(8) : 1 + rng.nextInt(4);
        int pageSize = PAGE_SIZES[rng.nextInt(PAGE_SIZES.length)];
        int[] kv = new int[batch];
        int[] qo = new int[batch];
        for (int b = 0; b < batch; b++) {
            int r = rng.nextInt(20);
            kv[b] = r == 0 ? 0 : r == 1 ? 1 : r == 2 ? pageSize * (1 + rng.nextInt(3)) : rng.nextInt(MAX_KV + 1);
            qo[b] = decode ? 1 : rng.nextInt(10) == 0 ? 0 : 1 + rng.nextInt(MAX_QO);
        }
        if (!decode && Arrays.stream(qo).sum() == 0) {
            qo[0] = 1;
        }
        int hkv = 1 + rng.nextInt(4);
        int hq = hkv * GROUPS[rng.nextInt(GROUPS.length)];
        int d = HEAD_DIMS[rng.nextInt(HEAD_DIMS.length)];
        DType q = pick(rng, DType.F16, DType.F16, DType.BF16, DType.BF16, DType.F32);
        DType kvd = switch (rng.nextInt(8)) {
            case 0, 1, 2, 3 -> q;
            case 4 -> q == DType.F16 ? DType.BF16 : DType.F16;
            case 5, 6 -> DType.FP8_E4M3;
            default -> DType.FP8_E5M2;
        };
        float ks = kvd.isFp8() ? FP8_SCALES[rng.nextInt(FP8_SCALES.length)] : 1f;
        float vs = kvd.isFp8() ? FP8_SCALES[rng.nextInt(FP8_SCALES.length)] : 1f;
        boolean causalOk = true;
        for (int b = 0; b < batch; b++) {
            causalOk &= qo[b] <= kv[b];
        }
        boolean causal = causalOk && rng.nextBoolean();
        int maxKv = Arrays.stream(kv).max().orElse(0);
        int window = switch (rng.nextInt(10)) {
            case 0 -> 0;
            case 1 -> rng.nextInt(Math.max(1, maxKv));
            case 2 -> maxKv + rng.nextInt(5);
            default -> -1;
        };
        float cap = rng.nextInt(4) == 0 ? pickFloat(rng, 5f, 30f, 50f) : 0f;
        float scale = rng.nextInt(5) == 0 ? (float) (0.05 + rng.nextDouble() * 0.3) : Float.NaN;
        RopeKind rope = rng.nextInt(5) < 3 ? RopeKind.NONE
                : RopeKind.values()[1 + rng.nextInt(RopeKind.values().length - 1)];
        if (rope != RopeKind.NONE && q == DType.F32) {
            // float angles at large positions differ from the double ones by more than F32's tolerance
            for (int b = 0; b < batch; b++) {
                kv[b] = Math.min(kv[b], 96);
                if (causal) {
                    qo[b] = Math.min(qo[b], kv[b]);
                }
            }
            if (Arrays.stream(qo).sum() == 0) {
                causal = false;
                qo[0] = 1;
            }
        }
        if (d % 2 != 0) {
            rope = RopeKind.NONE;
        }
        MaskKind mask = rng.nextInt(10) < 7 ? MaskKind.NONE : MaskKind.values()[1 + rng.nextInt(3)];
        KvLayout layout = rng.nextBoolean() ? KvLayout.NHD : KvLayout.HND;
        return new AttentionCase(qo, kv, hq, hkv, d, pageSize, layout, rng.nextInt(4) == 0, rng.nextInt(4), q, kvd,
                ks, vs, causal, window, cap, scale, rope, mask, rng.nextInt(10) < 7, DataKind.UNIFORM, rng.nextLong());
    }

    /**
     * (Dqk, Dvo) pairs with V's head dim differing from K's, from the multiples of 8 the other
     * cases use: DeepSeek's prefill (192, 128), V shorter and longer than K, each a multiple of 16
     * or only of 8.
     */
    private static final int[][] DISTINCT_PAIRS = {{192, 128}, {96, 64}, {64, 128}, {128, 64}, {32, 64},
        {256, 128}, {48, 32}, {80, 96}, {40, 24}, {128, 256}};

    /**
     * Cases whose V and o rows differ in length from q and K rows ({@code Dvo != Dqk}, spec §2),
     * for backends with {@code Feature.DISTINCT_VO_HEAD_DIM}: first DeepSeek's 192/128 with the
     * options one at a time (causal, window, soft cap, RoPE, GQA, HND, FP8, a long request that
     * device backends split), then random cases with a drawn pair. K and V are separate tensors
     * (a combined cache has one head dim).
     *
     * @param decode one query row per request, for the decode operations
     * @param rng    the source of randomness
     * @param count  the number of random cases after the fixed ones
     * @return new cases
     */
    public static List<AttentionCase> distinctHeadDims(boolean decode, SplittableRandom rng, int count) {
        List<AttentionCase.Builder> e = new ArrayList<>();
        e.add(plain(decode, rng.nextLong()).headDims(192, 128));
        AttentionCase.Builder causal = plain(decode, rng.nextLong()).headDims(192, 128)
                .lengths(decode ? new int[] {1, 1} : new int[] {21, 4}, new int[] {21, 30});
        causal.causal = true;
        e.add(causal);
        AttentionCase.Builder window = plain(decode, rng.nextLong()).headDims(192, 128);
        window.windowLeft = 5;
        window.causal = !decode;
        e.add(window);
        AttentionCase.Builder cap = plain(decode, rng.nextLong()).headDims(64, 128);
        cap.softCap = 5f;
        cap.smScale = 0.5f;
        e.add(cap);
        AttentionCase.Builder rope = plain(decode, rng.nextLong()).headDims(192, 128);
        rope.rope = RopeKind.HALF;
        e.add(rope);
        e.add(plain(decode, rng.nextLong()).headDims(96, 64).heads(8, 1));
        AttentionCase.Builder hnd = plain(decode, rng.nextLong()).headDims(128, 64);
        hnd.layout = KvLayout.HND;
        e.add(hnd);
        AttentionCase.Builder fp8 = plain(decode, rng.nextLong()).headDims(192, 128);
        fp8.qDtype = DType.BF16;
        fp8.kvDtype = DType.FP8_E4M3;
        fp8.kScale = 0.5f;
        fp8.vScale = 2f;
        e.add(fp8);
        e.add(plain(decode, rng.nextLong()).headDims(192, 128).lengths(new int[] {decode ? 1 : 3, 1, 1},
                new int[] {1500, 3, 700}));
        e.add(plain(decode, rng.nextLong()).headDims(32, 64).lengths(new int[] {decode ? 1 : 3, 1},
                new int[] {0, 12}));
        List<AttentionCase> out = new ArrayList<>(e.stream().map(AttentionCase.Builder::build).toList());
        for (int i = 0; i < count; i++) {
            out.add(randomDistinctHeadDims(decode, rng));
        }
        return out;
    }

    /**
     * A random valid case ({@link #random}) with a drawn (Dqk, Dvo) pair whose dims differ, K and V
     * in separate tensors.
     *
     * @param decode one query row per request, for the decode operations
     * @param rng    the source of randomness
     * @return a new case
     */
    public static AttentionCase randomDistinctHeadDims(boolean decode, SplittableRandom rng) {
        int[] pair = DISTINCT_PAIRS[rng.nextInt(DISTINCT_PAIRS.length)];
        AttentionCase.Builder b = random(decode, rng).toBuilder().headDims(pair[0], pair[1]);
        b.combinedCache = false;
        return b.build();
    }

    /**
     * The nearest valid case: causal rows clamped to the keys, at least one query row, decode
     * cases kept at one row per request; null when none is near.
     *
     * @param b      the values to repair; this call changes them
     * @param decode keep one query row per request, without a custom mask
     * @return the repaired case, or null when it is still invalid
     */
    public static AttentionCase repair(AttentionCase.Builder b, boolean decode) {
        int batch = b.qoLens.length;
        if (decode) {
            java.util.Arrays.fill(b.qoLens, 1);
            b.mask = MaskKind.NONE;
        }
        if (b.causal) {
            for (int i = 0; i < batch; i++) {
                if (b.qoLens[i] > b.kvLens[i]) {
                    if (decode) {
                        b.causal = false;
                        break;
                    }
                    b.qoLens[i] = b.kvLens[i];
                }
            }
        }
        if (Arrays.stream(b.qoLens).sum() == 0) {
            b.causal = false;
            b.qoLens[0] = 1;
        }
        AttentionCase c = b.build();
        return c.invalidReason() == null ? c : null;
    }

    @SafeVarargs
    private static <T> T pick(SplittableRandom rng, T... values) {
        return values[rng.nextInt(values.length)];
    }

    private static float pickFloat(SplittableRandom rng, float... values) {
        return values[rng.nextInt(values.length)];
    }

    /**
     * Smaller variants of {@code c}, most aggressive first; invalid ones are left out.
     *
     * @param c a failing case
     * @return the candidates: fewer requests, shorter lengths, fewer heads, a smaller head dim,
     *         then one option or paging feature fewer each
     */
    public static List<AttentionCase> shrink(AttentionCase c) {
        List<AttentionCase.Builder> out = new ArrayList<>();
        int batch = c.batchSize();
        // fewer requests: keep one, then drop one
        if (batch > 1) {
            for (int b = 0; b < batch; b++) {
                out.add(c.toBuilder().lengths(new int[] {c.qoLen(b)}, new int[] {c.kvLen(b)}));
            }
            for (int b = 0; b < batch; b++) {
                out.add(c.toBuilder().lengths(remove(c.qoLens(), b), remove(c.kvLens(), b)));
            }
        }
        // shorter lengths
        for (int b = 0; b < batch; b++) {
            for (int kv : new int[] {0, 1, c.kvLen(b) / 2, c.kvLen(b) - 1}) {
                if (kv >= 0 && kv < c.kvLen(b)) {
                    int[] kvs = c.kvLens();
                    kvs[b] = kv;
                    int[] qos = c.qoLens();
                    if (c.causal()) {
                        qos[b] = Math.min(qos[b], kv);
                    }
                    out.add(c.toBuilder().lengths(qos, kvs));
                }
            }
            for (int qo : new int[] {1, c.qoLen(b) / 2, c.qoLen(b) - 1}) {
                if (qo >= 1 && qo < c.qoLen(b)) {
                    int[] qos = c.qoLens();
                    qos[b] = qo;
                    out.add(c.toBuilder().lengths(qos, c.kvLens()));
                }
            }
        }
        // fewer heads, smaller head dim
        int g = c.numQoHeads() / c.numKvHeads();
        if (g > 1) {
            out.add(c.toBuilder().heads(c.numKvHeads(), c.numKvHeads()));
        }
        if (c.numKvHeads() > 1) {
            out.add(c.toBuilder().heads(g, 1));
            out.add(c.toBuilder().heads(c.numQoHeads() / c.numKvHeads() * (c.numKvHeads() / 2),
                    c.numKvHeads() / 2));
        }
        for (int d : new int[] {16, 32, c.headDimQk() / 2}) {
            if (d < c.headDimQk() && d % 2 == 0 && d >= 2) {
                // V keeps its ratio to K's head dim, so a distinct pair stays distinct.
                int vo = c.sameHeadDims() ? d : Math.max(8, c.headDimVo() * d / c.headDimQk());
                AttentionCase.Builder b = c.toBuilder().headDims(d, vo == d && !c.sameHeadDims() ? d + 8 : vo);
                if (c.data() == DataKind.LARGE_LOGITS) {
                    b.smScale = c.smScale() * c.headDimQk() / d;
                }
                out.add(b);
            }
        }
        if (!c.sameHeadDims()) {
            out.add(c.toBuilder().headDims(c.headDimQk(), Math.max(8, c.headDimVo() / 2)));
        }
        // simpler options and paging
        AttentionCase.Builder b;
        if (c.rope() != RopeKind.NONE) {
            b = c.toBuilder();
            b.rope = RopeKind.NONE;
            out.add(b);
        }
        if (c.mask() != MaskKind.NONE) {
            b = c.toBuilder();
            b.mask = MaskKind.NONE;
            out.add(b);
        }
        if (c.sinks() != AttentionCase.SinkKind.NONE) {
            b = c.toBuilder();
            b.sinks = AttentionCase.SinkKind.NONE;
            out.add(b);
        }
        if (c.alibi() == AttentionCase.AlibiKind.DRAWN) {
            b = c.toBuilder();
            b.alibi = AttentionCase.AlibiKind.STANDARD;
            out.add(b);
        }
        if (c.alibi() != AttentionCase.AlibiKind.NONE) {
            b = c.toBuilder();
            b.alibi = AttentionCase.AlibiKind.NONE;
            out.add(b);
        }
        if (c.softCap() > 0) {
            b = c.toBuilder();
            b.softCap = 0f;
            out.add(b);
        }
        if (c.windowLeft() >= 0) {
            b = c.toBuilder();
            b.windowLeft = -1;
            out.add(b);
        }
        if (c.causal()) {
            b = c.toBuilder();
            b.causal = false;
            out.add(b);
        }
        if (c.extraPages() > 0) {
            b = c.toBuilder();
            b.extraPages = 0;
            out.add(b);
        }
        if (c.combinedCache()) {
            b = c.toBuilder();
            b.combinedCache = false;
            out.add(b);
        }
        if (c.pageSize() > 1) {
            b = c.toBuilder();
            b.pageSize = Math.max(1, c.pageSize() / 2);
            out.add(b);
        }
        return out.stream().map(AttentionCase.Builder::build).filter(x -> x.invalidReason() == null).toList();
    }

    private static int[] remove(int[] a, int i) {
        int[] out = new int[a.length - 1];
        System.arraycopy(a, 0, out, 0, i);
        System.arraycopy(a, i + 1, out, i, a.length - i - 1);
        return out;
    }
}
