package org.attn4j.conformance.cases;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.attn4j.conformance.check.SpecAlibi;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.SpecRope;
import org.attn4j.options.AlibiSlopes;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.Llama31RopeScaling;
import org.attn4j.options.RopeOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;

/**
 * One generated attention problem, complete enough to rebuild every tensor from {@link #seed}:
 * lengths, heads, paging, dtypes and options. Printed with {@link #toJava()} as a ready-to-paste
 * reproduction.
 *
 * <p>Immutable (the length arrays are copied in and out) and thread-safe. A case need not be a
 * valid call: invalid-input properties build invalid ones on purpose, and {@link #invalidReason()}
 * says what is wrong.
 *
 * @param qoLens        query rows per request (decode: all 1)
 * @param kvLens        keys per request
 * @param numQoHeads    {@code Hq}
 * @param numKvHeads    {@code Hkv}
 * @param headDimQk     {@code Dqk}, the head dim of q and K
 * @param headDimVo     {@code Dvo}, the head dim of V and o (spec §2; equal to {@code Dqk} but
 *                      in the cases of {@link AttentionCases#distinctHeadDims})
 * @param pageSize      tokens per page
 * @param layout        page layout
 * @param combinedCache K and V in one tensor
 * @param extraPages    pool pages no request references (filled with garbage)
 * @param qDtype        q and o dtype
 * @param kvDtype       KV cache dtype
 * @param kScale        K dequantisation scale (powers of two, so appends round-trip exactly)
 * @param vScale        V dequantisation scale
 * @param causal        causal mask
 * @param windowLeft    sliding window, -1 off
 * @param softCap       logits soft cap, 0 off
 * @param smScale       logit scale, NaN for 1/sqrt(D)
 * @param rope          RoPE on the fly
 * @param mask          custom mask form
 * @param sinks         attention sinks, their values drawn from the seed ({@link #sinkLogits()})
 * @param alibi         ALiBi slopes ({@link #alibiSlopeValues()})
 * @param lse           whether the LSE output is requested
 * @param data          how values are drawn
 * @param seed          the seed of every value, page permutation and mask bit
 * @param scaleKind     how the KV dequantisation scales vary ({@link #scaleTables})
 */
public record AttentionCase(int[] qoLens, int[] kvLens, int numQoHeads, int numKvHeads, int headDimQk,
                            int headDimVo, int pageSize,
                            KvLayout layout, boolean combinedCache, int extraPages, DType qDtype, DType kvDtype,
                            float kScale, float vScale, boolean causal, int windowLeft, float softCap, float smScale,
                            RopeKind rope, MaskKind mask, SinkKind sinks, AlibiKind alibi, boolean lse, DataKind data,
                            long seed, ScaleKind scaleKind) {

    /**
     * RoPE applied on the fly: the options handed to the backend (core-api's defaults where the
     * case means the defaults) and the same rotation as the suite's oracle computes it, from the
     * numbers of spec §3.
     */
    public enum RopeKind {
        /** No RoPE: q and k are used as given. */
        NONE,
        /** Rotate half, spec §3's defaults: theta 1e4, ropeScale 1. */
        HALF,
        /** Interleaved pairs, theta 1e4. */
        INTERLEAVED,
        /** Rotate half, theta 5e5, Llama 3.1 scaling with its defaults (8, 1, 4, 8192). */
        LLAMA31,
        /** Rotate half, theta 1e4, ropeScale 4 (frequencies divided by 4). */
        SCALED,
        /**
         * Partial rotary as Phi-2 has it: rotate half over the first {@link #rotaryDim} dims, 0.4 of
         * the head rounded down to an even number (32 of 80), theta 1e4; the rest pass through.
         */
        PARTIAL_HALF,
        /**
         * Partial rotary as GPT-J has it: interleaved pairs over the first {@link #rotaryDim} dims,
         * a quarter of the head rounded down to an even number (64 of 256), theta 1e4.
         */
        PARTIAL_INTERLEAVED;

        /**
         * The dims this kind rotates in a head of {@code headDim}, at least 2 for a partial kind.
         *
         * @param headDim {@code D}, even
         * @return {@code R}: below {@code D} for the partial kinds (but at D = 2), 0 (the whole
         *         head) for the others
         */
        public int rotaryDim(int headDim) {
            return switch (this) {
                case PARTIAL_HALF -> Math.min(headDim, Math.max(2, (int) (0.4 * headDim) / 2 * 2));
                case PARTIAL_INTERLEAVED -> Math.min(headDim, Math.max(2, headDim / 4 / 2 * 2));
                default -> 0;
            };
        }

        /**
         * Whether this kind rotates only part of the head.
         *
         * @return true for {@link #PARTIAL_HALF} and {@link #PARTIAL_INTERLEAVED}
         */
        public boolean partial() {
            return this == PARTIAL_HALF || this == PARTIAL_INTERLEAVED;
        }

        /**
         * The options a call takes.
         *
         * @param headDim {@code D}, which sets a partial kind's rotary dim
         * @return the RoPE options, or null for {@link #NONE}
         */
        public RopeOptions options(int headDim) {
            return switch (this) {
                case NONE -> null;
                case HALF -> RopeOptions.DEFAULT;
                case INTERLEAVED -> RopeOptions.DEFAULT.withInterleaved(true);
                case LLAMA31 -> RopeOptions.DEFAULT.withTheta(5e5).withLlama31(Llama31RopeScaling.DEFAULT);
                case SCALED -> RopeOptions.DEFAULT.withScale(4);
                case PARTIAL_HALF -> RopeOptions.DEFAULT.withRotaryDim(rotaryDim(headDim));
                case PARTIAL_INTERLEAVED -> RopeOptions.DEFAULT.withInterleaved(true).withRotaryDim(rotaryDim(headDim));
            };
        }

        /**
         * The rotation spec §3 defines for these options, as the oracle applies it.
         *
         * @param headDim {@code D}, which sets a partial kind's rotary dim
         * @return the rotation, or null for {@link #NONE}
         */
        public SpecRope spec(int headDim) {
            return switch (this) {
                case NONE -> null;
                case HALF -> new SpecRope(false, 1e4, 1, null);
                case INTERLEAVED -> new SpecRope(true, 1e4, 1, null);
                case LLAMA31 -> new SpecRope(false, 5e5, 1, SpecRope.Llama31.DEFAULT);
                case SCALED -> new SpecRope(false, 1e4, 4, null);
                case PARTIAL_HALF -> new SpecRope(false, 1e4, 1, null, rotaryDim(headDim));
                case PARTIAL_INTERLEAVED -> new SpecRope(true, 1e4, 1, null, rotaryDim(headDim));
            };
        }
    }

    /** How a custom mask is handed over. */
    public enum MaskKind {
        /** No custom mask. */
        NONE,
        /** One boolean per query row and key, the requests' masks laid end to end. */
        BOOLEANS,
        /** The same bits packed eight to a byte, bit {@code i} in bit {@code i % 8} of byte {@code i / 8}. */
        PACKED,
        /** Packed bits with a bit offset per request and random filler bits between the requests. */
        PACKED_WITH_OFFSETS
    }

    /** Attention sinks (spec §3), one logit per query head, drawn from the case's seed. */
    public enum SinkKind {
        /** No sinks. */
        NONE,
        /**
         * Per head: mostly uniform in [-4, 4], beside logits of about that size; one head in eight
         * far below every logit (-40, next to no weight) and one in eight well above (8 to 12, most
         * of the mass).
         */
        DRAWN
    }

    /** ALiBi slopes (spec §3), one per query head. */
    public enum AlibiKind {
        /** No ALiBi. */
        NONE,
        /** BLOOM's and MPT's slopes for {@code Hq}, as the suite computes them ({@link SpecAlibi}). */
        STANDARD,
        /** Per head from the case's seed: uniform in [0, 1], one head in six 0, one in six in [-0.25, 0). */
        DRAWN
    }

    /**
     * How the KV dequantisation scales vary (spec §1): the scalar {@code kScale}/{@code vScale},
     * or per KV head or per token drawn from the seed around them ({@link #scaleTables}).
     */
    public enum ScaleKind {
        /** The scalar {@code kScale} and {@code vScale}. */
        SCALAR,
        /** One scale per KV head: the scalar times {@code 2^e * m}, e in [-2, 2], m in {1, 1.25, 1.5, 1.75}. */
        PER_HEAD,
        /** One scale per token and KV head, drawn as per head; paged caches only. */
        PER_TOKEN
    }

    /** How values are drawn. */
    public enum DataKind {
        /** Uniform values rounded to the dtype. */
        UNIFORM,
        /** Dyadic values and a power-of-two scale: logits near ±1e4, exactly representable. */
        LARGE_LOGITS
    }

    /**
     * A case without sinks or ALiBi, as reproductions printed before those options existed
     * build it.
     *
     * @param qoLens        query rows per request (decode: all 1)
     * @param kvLens        keys per request
     * @param numQoHeads    {@code Hq}
     * @param numKvHeads    {@code Hkv}
     * @param headDim       {@code D}, of q, K, V and o
     * @param pageSize      tokens per page
     * @param layout        page layout
     * @param combinedCache K and V in one tensor
     * @param extraPages    pool pages no request references (filled with garbage)
     * @param qDtype        q and o dtype
     * @param kvDtype       KV cache dtype
     * @param kScale        K dequantisation scale
     * @param vScale        V dequantisation scale
     * @param causal        causal mask
     * @param windowLeft    sliding window, -1 off
     * @param softCap       logits soft cap, 0 off
     * @param smScale       logit scale, NaN for 1/sqrt(D)
     * @param rope          RoPE on the fly
     * @param mask          custom mask form
     * @param lse           whether the LSE output is requested
     * @param data          how values are drawn
     * @param seed          the seed of every value, page permutation and mask bit
     */
    public AttentionCase(int[] qoLens, int[] kvLens, int numQoHeads, int numKvHeads, int headDim, int pageSize,
                         KvLayout layout, boolean combinedCache, int extraPages, DType qDtype, DType kvDtype,
                         float kScale, float vScale, boolean causal, int windowLeft, float softCap, float smScale,
                         RopeKind rope, MaskKind mask, boolean lse, DataKind data, long seed) {
        this(qoLens, kvLens, numQoHeads, numKvHeads, headDim, headDim, pageSize, layout, combinedCache, extraPages,
                qDtype, kvDtype, kScale, vScale, causal, windowLeft, softCap, smScale, rope, mask, SinkKind.NONE,
                AlibiKind.NONE, lse, data, seed);
    }

    /**
     * A case with one head dim for q, K, V and o and scalar KV scales (the form {@link #toJava()}
     * prints for them).
     *
     * @param qoLens        query rows per request (decode: all 1)
     * @param kvLens        keys per request
     * @param numQoHeads    {@code Hq}
     * @param numKvHeads    {@code Hkv}
     * @param headDim       {@code D}, of q, K, V and o
     * @param pageSize      tokens per page
     * @param layout        page layout
     * @param combinedCache K and V in one tensor
     * @param extraPages    pool pages no request references (filled with garbage)
     * @param qDtype        q and o dtype
     * @param kvDtype       KV cache dtype
     * @param kScale        K dequantisation scale
     * @param vScale        V dequantisation scale
     * @param causal        causal mask
     * @param windowLeft    sliding window, -1 off
     * @param softCap       logits soft cap, 0 off
     * @param smScale       logit scale, NaN for 1/sqrt(D)
     * @param rope          RoPE on the fly
     * @param mask          custom mask form
     * @param sinks         attention sinks
     * @param alibi         ALiBi slopes
     * @param lse           whether the LSE output is requested
     * @param data          how values are drawn
     * @param seed          the seed of every value, page permutation and mask bit
     */
    public AttentionCase(int[] qoLens, int[] kvLens, int numQoHeads, int numKvHeads, int headDim, int pageSize,
                         KvLayout layout, boolean combinedCache, int extraPages, DType qDtype, DType kvDtype,
                         float kScale, float vScale, boolean causal, int windowLeft, float softCap, float smScale,
                         RopeKind rope, MaskKind mask, SinkKind sinks, AlibiKind alibi, boolean lse, DataKind data,
                         long seed) {
        this(qoLens, kvLens, numQoHeads, numKvHeads, headDim, headDim, pageSize, layout, combinedCache, extraPages,
                qDtype, kvDtype, kScale, vScale, causal, windowLeft, softCap, smScale, rope, mask, sinks, alibi, lse,
                data, seed, ScaleKind.SCALAR);
    }

    /**
     * A case with scalar KV scales (the form {@link #toJava()} prints for distinct head dims).
     *
     * @param qoLens        query rows per request (decode: all 1)
     * @param kvLens        keys per request
     * @param numQoHeads    {@code Hq}
     * @param numKvHeads    {@code Hkv}
     * @param headDimQk     {@code Dqk}, the head dim of q and K
     * @param headDimVo     {@code Dvo}, the head dim of V and o
     * @param pageSize      tokens per page
     * @param layout        page layout
     * @param combinedCache K and V in one tensor
     * @param extraPages    pool pages no request references (filled with garbage)
     * @param qDtype        q and o dtype
     * @param kvDtype       KV cache dtype
     * @param kScale        K dequantisation scale
     * @param vScale        V dequantisation scale
     * @param causal        causal mask
     * @param windowLeft    sliding window, -1 off
     * @param softCap       logits soft cap, 0 off
     * @param smScale       logit scale, NaN for 1/sqrt(D)
     * @param rope          RoPE on the fly
     * @param mask          custom mask form
     * @param sinks         attention sinks
     * @param alibi         ALiBi slopes
     * @param lse           whether the LSE output is requested
     * @param data          how values are drawn
     * @param seed          the seed of every value, page permutation and mask bit
     */
    public AttentionCase(int[] qoLens, int[] kvLens, int numQoHeads, int numKvHeads, int headDimQk, int headDimVo,
                         int pageSize, KvLayout layout, boolean combinedCache, int extraPages, DType qDtype,
                         DType kvDtype, float kScale, float vScale, boolean causal, int windowLeft, float softCap,
                         float smScale, RopeKind rope, MaskKind mask, SinkKind sinks, AlibiKind alibi, boolean lse,
                         DataKind data, long seed) {
        this(qoLens, kvLens, numQoHeads, numKvHeads, headDimQk, headDimVo, pageSize, layout, combinedCache,
                extraPages, qDtype, kvDtype, kScale, vScale, causal, windowLeft, softCap, smScale, rope, mask, sinks,
                alibi, lse, data, seed, ScaleKind.SCALAR);
    }

    /**
     * A case with one head dim for q, K, V and o (the form {@link #toJava()} prints for per-head and
     * per-token scales at one head dim).
     *
     * @param qoLens        query rows per request (decode: all 1)
     * @param kvLens        keys per request
     * @param numQoHeads    {@code Hq}
     * @param numKvHeads    {@code Hkv}
     * @param headDim       {@code D}, of q, K, V and o
     * @param pageSize      tokens per page
     * @param layout        page layout
     * @param combinedCache K and V in one tensor
     * @param extraPages    pool pages no request references (filled with garbage)
     * @param qDtype        q and o dtype
     * @param kvDtype       KV cache dtype
     * @param kScale        K dequantisation scale
     * @param vScale        V dequantisation scale
     * @param causal        causal mask
     * @param windowLeft    sliding window, -1 off
     * @param softCap       logits soft cap, 0 off
     * @param smScale       logit scale, NaN for 1/sqrt(D)
     * @param rope          RoPE on the fly
     * @param mask          custom mask form
     * @param sinks         attention sinks
     * @param alibi         ALiBi slopes
     * @param lse           whether the LSE output is requested
     * @param data          how values are drawn
     * @param seed          the seed of every value, page permutation and mask bit
     * @param scaleKind     how the KV dequantisation scales vary
     */
    public AttentionCase(int[] qoLens, int[] kvLens, int numQoHeads, int numKvHeads, int headDim, int pageSize,
                         KvLayout layout, boolean combinedCache, int extraPages, DType qDtype, DType kvDtype,
                         float kScale, float vScale, boolean causal, int windowLeft, float softCap, float smScale,
                         RopeKind rope, MaskKind mask, SinkKind sinks, AlibiKind alibi, boolean lse, DataKind data,
                         long seed, ScaleKind scaleKind) {
        this(qoLens, kvLens, numQoHeads, numKvHeads, headDim, headDim, pageSize, layout, combinedCache, extraPages,
                qDtype, kvDtype, kScale, vScale, causal, windowLeft, softCap, smScale, rope, mask, sinks, alibi, lse,
                data, seed, scaleKind);
    }

    /**
     * Copies the length arrays; null sinks or ALiBi kinds mean none, a null scale kind scalar.
     *
     * @throws IllegalArgumentException if {@code qoLens} and {@code kvLens} differ in length or are empty
     */
    public AttentionCase {
        qoLens = qoLens.clone();
        kvLens = kvLens.clone();
        sinks = sinks == null ? SinkKind.NONE : sinks;
        alibi = alibi == null ? AlibiKind.NONE : alibi;
        scaleKind = scaleKind == null ? ScaleKind.SCALAR : scaleKind;
        if (qoLens.length != kvLens.length || qoLens.length == 0) {
            throw new IllegalArgumentException("qoLens and kvLens must have the same, non-zero length");
        }
    }

    /**
     * Query rows per request.
     *
     * @return a copy
     */
    @Override
    public int[] qoLens() {
        return qoLens.clone();
    }

    /**
     * Keys per request.
     *
     * @return a copy
     */
    @Override
    public int[] kvLens() {
        return kvLens.clone();
    }

    /**
     * The number of requests.
     *
     * @return B
     */
    public int batchSize() {
        return qoLens.length;
    }

    /**
     * Query rows of one request.
     *
     * @param b a request, {@code 0 <= b < batchSize()}
     * @return its rows
     */
    public int qoLen(int b) {
        return qoLens[b];
    }

    /**
     * Keys of one request.
     *
     * @param b a request, {@code 0 <= b < batchSize()}
     * @return its keys
     */
    public int kvLen(int b) {
        return kvLens[b];
    }

    /**
     * Query rows of all requests.
     *
     * @return the sum of {@link #qoLens()}
     */
    public int totalQ() {
        return Arrays.stream(qoLens).sum();
    }

    /**
     * Keys of all requests.
     *
     * @return the sum of {@link #kvLens()}
     */
    public int totalKv() {
        return Arrays.stream(kvLens).sum();
    }

    /**
     * Where each request's query rows start in the packed q and o.
     *
     * @return {@code batchSize() + 1} prefix sums of {@link #qoLens()}, starting at 0
     */
    public int[] qoIndptr() {
        int[] p = new int[qoLens.length + 1];
        for (int b = 0; b < qoLens.length; b++) {
            p[b + 1] = p[b] + qoLens[b];
        }
        return p;
    }

    /**
     * Where each request's keys start when all requests' keys are laid end to end.
     *
     * @return {@code batchSize() + 1} prefix sums of {@link #kvLens()}, starting at 0
     */
    public int[] kvIndptr() {
        int[] p = new int[kvLens.length + 1];
        for (int b = 0; b < kvLens.length; b++) {
            p[b + 1] = p[b] + kvLens[b];
        }
        return p;
    }

    /**
     * Whether the case is a decode.
     *
     * @return true when every request has exactly one query row
     */
    public boolean isDecode() {
        return Arrays.stream(qoLens).allMatch(l -> l == 1);
    }

    /**
     * The head counts and dims as a call takes them.
     *
     * @return {@code Hq}, {@code Hkv}, {@code Dqk} and {@code Dvo}
     */
    public HeadConfig heads() {
        return new HeadConfig(numQoHeads, numKvHeads, headDimQk, headDimVo);
    }

    /**
     * Whether V and o rows are as long as q and K rows.
     *
     * @return {@code Dqk == Dvo}
     */
    public boolean sameHeadDims() {
        return headDimQk == headDimVo;
    }

    /**
     * The RoPE options a call takes.
     *
     * @return the options of {@link #rope()}, null without RoPE
     */
    public RopeOptions ropeOptions() {
        return rope.options(headDimQk);
    }

    /**
     * The attention options a call takes: causal, window, soft cap, logit scale, RoPE, sinks and
     * ALiBi slopes.
     *
     * @return new options
     */
    public AttentionOptions options() {
        float[] sinkValues = sinkLogits();
        float[] slopeValues = alibiSlopeValues();
        return new AttentionOptions(causal, windowLeft, softCap, smScale, ropeOptions(),
                sinkValues == null ? null : AttentionSinks.of(sinkValues),
                slopeValues == null ? null : AlibiSlopes.of(slopeValues));
    }

    /**
     * The sink logit of every query head, drawn from the seed as {@link SinkKind#DRAWN} says; the
     * same case always gives the same values.
     *
     * @return {@code Hq} logits, or null without sinks
     */
    public float[] sinkLogits() {
        if (sinks == SinkKind.NONE || numQoHeads < 1) {
            return null;
        }
        SplittableRandom rng = new SplittableRandom(seed ^ 0x51D4L);
        float[] out = new float[numQoHeads];
        for (int h = 0; h < numQoHeads; h++) {
            int r = rng.nextInt(8);
            double x = r == 0 ? -40 : r == 1 ? 8 + 4 * rng.nextDouble() : rng.nextDouble() * 8 - 4;
            out[h] = SpecFormats.round(DType.F32, x);
        }
        return out;
    }

    /**
     * The ALiBi slope of every query head, as {@link #alibi()} says; drawn ones come from the seed.
     *
     * @return {@code Hq} slopes, or null without ALiBi
     */
    public float[] alibiSlopeValues() {
        if (alibi == AlibiKind.NONE || numQoHeads < 1) {
            return null;
        }
        if (alibi == AlibiKind.STANDARD) {
            return SpecAlibi.standardSlopes(numQoHeads);
        }
        SplittableRandom rng = new SplittableRandom(seed ^ 0xA11B1L);
        float[] out = new float[numQoHeads];
        for (int h = 0; h < numQoHeads; h++) {
            int r = rng.nextInt(6);
            double x = r == 0 ? 0 : r == 1 ? -0.25 * rng.nextDouble() : rng.nextDouble();
            out[h] = SpecFormats.round(DType.F32, x);
        }
        return out;
    }

    /**
     * The dequantisation scale of every key and KV head, as {@link #scaleKind()} says: per request
     * {@code [kvLen, Hkv]} (row-major), the scalar, the head's or the token's. Per-head and
     * per-token scales are drawn from the seed; the same case always gives the same values.
     *
     * @param value V's scales rather than K's
     * @return one array per request
     */
    public float[][] scaleTables(boolean value) {
        float base = value ? vScale : kScale;
        float[] heads = headScales(value);
        SplittableRandom rng = new SplittableRandom(seed ^ (value ? 0x70CE5L : 0x70CEBL));
        float[][] out = new float[kvLens.length][];
        for (int b = 0; b < kvLens.length; b++) {
            out[b] = new float[Math.max(0, kvLens[b]) * heads.length];
            for (int i = 0; i < out[b].length; i++) {
                out[b][i] = switch (scaleKind) {
                    case SCALAR -> base;
                    case PER_HEAD -> heads[i % heads.length];
                    case PER_TOKEN -> drawnScale(base, rng);
                };
            }
        }
        return out;
    }

    /**
     * The per-head scales of K or V ({@link ScaleKind#PER_HEAD}'s values, whatever the kind).
     *
     * @param value V's rather than K's
     * @return {@code Hkv} scales
     */
    public float[] headScales(boolean value) {
        SplittableRandom rng = new SplittableRandom(seed ^ (value ? 0x5CA1E5L : 0x5CA1EBL));
        float[] heads = new float[Math.max(0, numKvHeads)];
        for (int h = 0; h < heads.length; h++) {
            heads[h] = drawnScale(value ? vScale : kScale, rng);
        }
        return heads;
    }

    // Few mantissa bits: a scale times an FP8 or 16-bit code stays exact in binary32.
    private static float drawnScale(float base, SplittableRandom rng) {
        return base * Math.scalb(1f + 0.25f * rng.nextInt(4), rng.nextInt(5) - 2);
    }

    /**
     * Why the case is not a valid call: its heads, head dim, lengths, paging or window.
     *
     * @return a short reason, or null when the case is valid
     */
    public String invalidReason() {
        if (numQoHeads < 1 || numKvHeads < 1 || numQoHeads % numKvHeads != 0) {
            return "heads " + numQoHeads + "/" + numKvHeads;
        }
        if (headDimQk < 1 || (rope != RopeKind.NONE && headDimQk % 2 != 0)) {
            return "head dim " + headDimQk + (rope != RopeKind.NONE ? " with RoPE" : "");
        }
        if (headDimVo < 1) {
            return "v head dim " + headDimVo;
        }
        if (combinedCache && headDimQk != headDimVo) {
            return "a combined cache with head dims " + headDimQk + " and " + headDimVo;
        }
        if (totalQ() == 0) {
            return "no query rows";
        }
        for (int b = 0; b < qoLens.length; b++) {
            if (qoLens[b] < 0 || kvLens[b] < 0 || (causal && qoLens[b] > kvLens[b])) {
                return "lengths of request " + b;
            }
        }
        if (pageSize < 1 || extraPages < 0 || windowLeft < -1) {
            return "paging or window";
        }
        return null;
    }

    /**
     * Multiply-adds of the attention, a measure of its cost that ignores masking.
     *
     * @return the sum over requests of query rows times keys, times {@code Hq} and {@code (Dqk + Dvo) / 2}
     */
    public long work() {
        long w = 0;
        for (int b = 0; b < qoLens.length; b++) {
            w += (long) qoLens[b] * kvLens[b];
        }
        return w * numQoHeads * ((headDimQk + headDimVo) / 2);
    }

    /**
     * A mutable copy, for generators and shrinkers.
     *
     * @return a builder holding this case's values
     */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /**
     * Short description for reports: lengths, heads, paging and dtypes, then only the options
     * that differ from their defaults.
     *
     * @return one line
     */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append("B=").append(batchSize()).append(" qo=").append(Arrays.toString(qoLens)).append(" kv=")
                .append(Arrays.toString(kvLens)).append(" Hq/Hkv/D=").append(numQoHeads).append('/')
                .append(numKvHeads).append('/').append(headDimQk).append(sameHeadDims() ? "" : "/" + headDimVo).append(" page=").append(pageSize).append(' ')
                .append(layout).append(combinedCache ? " combined" : "").append(" q=").append(qDtype).append(" kv=")
                .append(kvDtype);
        if (kvDtype.isFp8()) {
            sb.append(" scales=").append(kScale).append('/').append(vScale);
        }
        if (scaleKind != ScaleKind.SCALAR) {
            sb.append(" scales ").append(scaleKind);
        }
        if (causal) {
            sb.append(" causal");
        }
        if (windowLeft >= 0) {
            sb.append(" window=").append(windowLeft);
        }
        if (softCap > 0) {
            sb.append(" softCap=").append(softCap);
        }
        if (!Float.isNaN(smScale)) {
            sb.append(" smScale=").append(smScale);
        }
        if (rope != RopeKind.NONE) {
            sb.append(" rope=").append(rope);
        }
        if (mask != MaskKind.NONE) {
            sb.append(" mask=").append(mask);
        }
        if (sinks != SinkKind.NONE) {
            sb.append(" sinks=").append(sinks);
        }
        if (alibi != AlibiKind.NONE) {
            sb.append(" alibi=").append(alibi);
        }
        if (data != DataKind.UNIFORM) {
            sb.append(" data=").append(data);
        }
        return sb.append(lse ? " +lse" : "").toString();
    }

    /**
     * The case as a Java expression that rebuilds it exactly; without sinks and ALiBi, in the
     * shorter form that leaves them out.
     *
     * @return a {@code new AttentionCase(...)} expression
     */
    public String toJava() {
        // The canonical form (both head dims) needs the variants spelled out too, as do non-scalar scales.
        String variants = sinks == SinkKind.NONE && alibi == AlibiKind.NONE && sameHeadDims()
                && scaleKind == ScaleKind.SCALAR ? ""
                : ", AttentionCase.SinkKind." + sinks + ", AttentionCase.AlibiKind." + alibi;
        return "new AttentionCase(" + ints(qoLens) + ", " + ints(kvLens) + ", " + numQoHeads + ", " + numKvHeads
                + ", " + headDimQk + (sameHeadDims() ? "" : ", " + headDimVo) + ", " + pageSize + ", KvLayout." + layout + ", " + combinedCache + ", " + extraPages
                + ", DType." + qDtype + ", DType." + kvDtype + ", " + flt(kScale) + ", " + flt(vScale) + ", " + causal
                + ", " + windowLeft + ", " + flt(softCap) + ", " + flt(smScale) + ", AttentionCase.RopeKind." + rope
                + ", AttentionCase.MaskKind." + mask + variants + ", " + lse + ", AttentionCase.DataKind." + data
                + ", " + seed + "L" + (scaleKind == ScaleKind.SCALAR ? "" : ", AttentionCase.ScaleKind." + scaleKind)
                + ")";
    }

    static String ints(int[] a) {
        StringBuilder sb = new StringBuilder("new int[] {");
        for (int i = 0; i < a.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(a[i]);
        }
        return sb.append('}').toString();
    }

    static String flt(float f) {
        return Float.isNaN(f) ? "Float.NaN" : f + "f";
    }

    @Override
    public String toString() {
        return describe();
    }

    /**
     * Mutable copy for generators and shrinkers: set the fields, then {@link #build()}. Each
     * field means what the record component of the same name means.
     *
     * <p>Not thread-safe: confine a builder to one thread.
     */
    public static final class Builder {
        /** Query rows per request; {@link #build()} copies it. */
        public int[] qoLens;
        /** Keys per request, as many as {@link #qoLens}; {@link #build()} copies it. */
        public int[] kvLens;
        /** {@code Hq}. */
        public int numQoHeads;
        /** {@code Hkv}. */
        public int numKvHeads;
        /** {@code Dqk}, the head dim of q and K. */
        public int headDimQk;
        /** {@code Dvo}, the head dim of V and o. */
        public int headDimVo;
        /** Tokens per page. */
        public int pageSize;
        /** Page layout. */
        public KvLayout layout;
        /** K and V in one tensor. */
        public boolean combinedCache;
        /** Pool pages no request references. */
        public int extraPages;
        /** q and o dtype. */
        public DType qDtype;
        /** KV cache dtype. */
        public DType kvDtype;
        /** K dequantisation scale. */
        public float kScale;
        /** V dequantisation scale. */
        public float vScale;
        /** Causal mask. */
        public boolean causal;
        /** Sliding window, -1 off. */
        public int windowLeft;
        /** Logits soft cap, 0 off. */
        public float softCap;
        /** Logit scale, NaN for 1/sqrt(D). */
        public float smScale;
        /** RoPE on the fly. */
        public RopeKind rope;
        /** Custom mask form. */
        public MaskKind mask;
        /** Attention sinks. */
        public SinkKind sinks;
        /** ALiBi slopes. */
        public AlibiKind alibi;
        /** Whether the LSE output is requested. */
        public boolean lse;
        /** How values are drawn. */
        public DataKind data;
        /** The seed of every value, page permutation and mask bit. */
        public long seed;
        /** How the KV dequantisation scales vary. */
        public ScaleKind scaleKind;

        Builder(AttentionCase c) {
            qoLens = c.qoLens.clone();
            kvLens = c.kvLens.clone();
            numQoHeads = c.numQoHeads;
            numKvHeads = c.numKvHeads;
            headDimQk = c.headDimQk;
            headDimVo = c.headDimVo;
            pageSize = c.pageSize;
            layout = c.layout;
            combinedCache = c.combinedCache;
            extraPages = c.extraPages;
            qDtype = c.qDtype;
            kvDtype = c.kvDtype;
            kScale = c.kScale;
            vScale = c.vScale;
            causal = c.causal;
            windowLeft = c.windowLeft;
            softCap = c.softCap;
            smScale = c.smScale;
            rope = c.rope;
            mask = c.mask;
            sinks = c.sinks;
            alibi = c.alibi;
            lse = c.lse;
            data = c.data;
            seed = c.seed;
            scaleKind = c.scaleKind;
        }

        /**
         * Sets the lengths of every request.
         *
         * @param qo query rows per request (copied)
         * @param kv keys per request (copied)
         * @return this builder
         */
        public Builder lengths(int[] qo, int[] kv) {
            qoLens = qo.clone();
            kvLens = kv.clone();
            return this;
        }

        /**
         * Sets the head dims.
         *
         * @param qk {@code Dqk}, of q and K
         * @param vo {@code Dvo}, of V and o
         * @return this builder
         */
        public Builder headDims(int qk, int vo) {
            headDimQk = qk;
            headDimVo = vo;
            return this;
        }

        /**
         * One head dim for q, K, V and o.
         *
         * @param d {@code D}
         * @return this builder
         */
        public Builder headDim(int d) {
            return headDims(d, d);
        }

        /**
         * Sets the head counts; the head dims stay.
         *
         * @param hq  {@code Hq}
         * @param hkv {@code Hkv}
         * @return this builder
         */
        public Builder heads(int hq, int hkv) {
            numQoHeads = hq;
            numKvHeads = hkv;
            return this;
        }

        /**
         * A case of the current values; the builder stays usable.
         *
         * @return a new case
         * @throws IllegalArgumentException if the length arrays differ in length or are empty
         */
        public AttentionCase build() {
            return new AttentionCase(qoLens, kvLens, numQoHeads, numKvHeads, headDimQk, headDimVo, pageSize, layout,
                    combinedCache, extraPages, qDtype, kvDtype, kScale, vScale, causal, windowLeft, softCap, smScale,
                    rope, mask, sinks, alibi, lse, data, seed, scaleKind);
        }
    }
}
