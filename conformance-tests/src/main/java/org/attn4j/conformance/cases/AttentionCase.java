package org.attn4j.conformance.cases;

import java.util.Arrays;
import org.attn4j.conformance.check.SpecRope;
import org.attn4j.options.AttentionOptions;
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
 * @param qoLens        query rows per request (decode: all 1)
 * @param kvLens        keys per request
 * @param numQoHeads    {@code Hq}
 * @param numKvHeads    {@code Hkv}
 * @param headDim       {@code D}
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
 * @param lse           whether the LSE output is requested
 * @param data          how values are drawn
 * @param seed          the seed of every value, page permutation and mask bit
 */
public record AttentionCase(int[] qoLens, int[] kvLens, int numQoHeads, int numKvHeads, int headDim, int pageSize,
                            KvLayout layout, boolean combinedCache, int extraPages, DType qDtype, DType kvDtype,
                            float kScale, float vScale, boolean causal, int windowLeft, float softCap, float smScale,
                            RopeKind rope, MaskKind mask, boolean lse, DataKind data, long seed) {

    /**
     * RoPE applied on the fly: the options handed to the backend (core-api's defaults where the
     * case means the defaults) and the same rotation as the suite's oracle computes it, from the
     * numbers of spec §3.
     */
    public enum RopeKind {
        NONE,
        /** Rotate half, spec §3's defaults: theta 1e4, ropeScale 1. */
        HALF,
        /** Interleaved pairs, theta 1e4. */
        INTERLEAVED,
        /** Rotate half, theta 5e5, Llama 3.1 scaling with its defaults (8, 1, 4, 8192). */
        LLAMA31,
        /** Rotate half, theta 1e4, ropeScale 4 (frequencies divided by 4). */
        SCALED;

        /** The options a call takes, or null for {@link #NONE}. */
        public RopeOptions options() {
            return switch (this) {
                case NONE -> null;
                case HALF -> RopeOptions.DEFAULT;
                case INTERLEAVED -> RopeOptions.DEFAULT.withInterleaved(true);
                case LLAMA31 -> RopeOptions.DEFAULT.withTheta(5e5).withLlama31(Llama31RopeScaling.DEFAULT);
                case SCALED -> RopeOptions.DEFAULT.withScale(4);
            };
        }

        /** The rotation spec §3 defines for these options, or null for {@link #NONE}. */
        public SpecRope spec() {
            return switch (this) {
                case NONE -> null;
                case HALF -> new SpecRope(false, 1e4, 1, null);
                case INTERLEAVED -> new SpecRope(true, 1e4, 1, null);
                case LLAMA31 -> new SpecRope(false, 5e5, 1, SpecRope.Llama31.DEFAULT);
                case SCALED -> new SpecRope(false, 1e4, 4, null);
            };
        }
    }

    /** How a custom mask is handed over. */
    public enum MaskKind { NONE, BOOLEANS, PACKED, PACKED_WITH_OFFSETS }

    /** How values are drawn. */
    public enum DataKind {
        /** Uniform values rounded to the dtype. */
        UNIFORM,
        /** Dyadic values and a power-of-two scale: logits near ±1e4, exactly representable. */
        LARGE_LOGITS
    }

    public AttentionCase {
        qoLens = qoLens.clone();
        kvLens = kvLens.clone();
        if (qoLens.length != kvLens.length || qoLens.length == 0) {
            throw new IllegalArgumentException("qoLens and kvLens must have the same, non-zero length");
        }
    }

    @Override
    public int[] qoLens() {
        return qoLens.clone();
    }

    @Override
    public int[] kvLens() {
        return kvLens.clone();
    }

    public int batchSize() {
        return qoLens.length;
    }

    public int qoLen(int b) {
        return qoLens[b];
    }

    public int kvLen(int b) {
        return kvLens[b];
    }

    public int totalQ() {
        return Arrays.stream(qoLens).sum();
    }

    public int totalKv() {
        return Arrays.stream(kvLens).sum();
    }

    public int[] qoIndptr() {
        int[] p = new int[qoLens.length + 1];
        for (int b = 0; b < qoLens.length; b++) {
            p[b + 1] = p[b] + qoLens[b];
        }
        return p;
    }

    public int[] kvIndptr() {
        int[] p = new int[kvLens.length + 1];
        for (int b = 0; b < kvLens.length; b++) {
            p[b + 1] = p[b] + kvLens[b];
        }
        return p;
    }

    public boolean isDecode() {
        return Arrays.stream(qoLens).allMatch(l -> l == 1);
    }

    public HeadConfig heads() {
        return new HeadConfig(numQoHeads, numKvHeads, headDim);
    }

    public RopeOptions ropeOptions() {
        return rope.options();
    }

    public AttentionOptions options() {
        return new AttentionOptions(causal, windowLeft, softCap, smScale, ropeOptions());
    }

    /** Why the case is not a valid call, or null when it is. */
    public String invalidReason() {
        if (numQoHeads < 1 || numKvHeads < 1 || numQoHeads % numKvHeads != 0) {
            return "heads " + numQoHeads + "/" + numKvHeads;
        }
        if (headDim < 2 || headDim % 2 != 0) {
            return "head dim " + headDim;
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

    /** Multiply-adds of the attention, a measure of its cost. */
    public long work() {
        long w = 0;
        for (int b = 0; b < qoLens.length; b++) {
            w += (long) qoLens[b] * kvLens[b];
        }
        return w * numQoHeads * headDim;
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** Short description for reports. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        sb.append("B=").append(batchSize()).append(" qo=").append(Arrays.toString(qoLens)).append(" kv=")
                .append(Arrays.toString(kvLens)).append(" Hq/Hkv/D=").append(numQoHeads).append('/')
                .append(numKvHeads).append('/').append(headDim).append(" page=").append(pageSize).append(' ')
                .append(layout).append(combinedCache ? " combined" : "").append(" q=").append(qDtype).append(" kv=")
                .append(kvDtype);
        if (kvDtype.isFp8()) {
            sb.append(" scales=").append(kScale).append('/').append(vScale);
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
        if (data != DataKind.UNIFORM) {
            sb.append(" data=").append(data);
        }
        return sb.append(lse ? " +lse" : "").toString();
    }

    /** The case as a Java expression. */
    public String toJava() {
        return "new AttentionCase(" + ints(qoLens) + ", " + ints(kvLens) + ", " + numQoHeads + ", " + numKvHeads
                + ", " + headDim + ", " + pageSize + ", KvLayout." + layout + ", " + combinedCache + ", " + extraPages
                + ", DType." + qDtype + ", DType." + kvDtype + ", " + flt(kScale) + ", " + flt(vScale) + ", " + causal
                + ", " + windowLeft + ", " + flt(softCap) + ", " + flt(smScale) + ", AttentionCase.RopeKind." + rope
                + ", AttentionCase.MaskKind." + mask + ", " + lse + ", AttentionCase.DataKind." + data + ", "
                + seed + "L)";
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

    /** Mutable copy for generators and shrinkers. */
    public static final class Builder {
        public int[] qoLens;
        public int[] kvLens;
        public int numQoHeads;
        public int numKvHeads;
        public int headDim;
        public int pageSize;
        public KvLayout layout;
        public boolean combinedCache;
        public int extraPages;
        public DType qDtype;
        public DType kvDtype;
        public float kScale;
        public float vScale;
        public boolean causal;
        public int windowLeft;
        public float softCap;
        public float smScale;
        public RopeKind rope;
        public MaskKind mask;
        public boolean lse;
        public DataKind data;
        public long seed;

        Builder(AttentionCase c) {
            qoLens = c.qoLens.clone();
            kvLens = c.kvLens.clone();
            numQoHeads = c.numQoHeads;
            numKvHeads = c.numKvHeads;
            headDim = c.headDim;
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
            lse = c.lse;
            data = c.data;
            seed = c.seed;
        }

        public Builder lengths(int[] qo, int[] kv) {
            qoLens = qo.clone();
            kvLens = kv.clone();
            return this;
        }

        public Builder heads(int hq, int hkv) {
            numQoHeads = hq;
            numKvHeads = hkv;
            return this;
        }

        public AttentionCase build() {
            return new AttentionCase(qoLens, kvLens, numQoHeads, numKvHeads, headDim, pageSize, layout, combinedCache,
                    extraPages, qDtype, kvDtype, kScale, vScale, causal, windowLeft, softCap, smScale, rope, mask, lse,
                    data, seed);
        }
    }
}
