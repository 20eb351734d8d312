package org.attn4j.conformance.cases;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.check.SpecRope;
import org.attn4j.options.RopeOptions;
import org.attn4j.tensor.DType;

/**
 * A standalone RoPE call: q {@code [n, Hq, D]} and, when {@link #withK}, k {@code [n, Hkv, D]}
 * rotated at random positions below {@link #maxPosition}.
 */
public record RopeCase(int n, int qHeads, int kHeads, int headDim, DType dtype, AttentionCase.RopeKind kind,
                       boolean withK, int maxPosition, long seed) {

    /** The options handed to the backend. */
    public RopeOptions options() {
        return (kind == AttentionCase.RopeKind.NONE ? AttentionCase.RopeKind.HALF : kind).options();
    }

    /** The same rotation as spec §3 defines it, for the oracle. */
    public SpecRope spec() {
        return (kind == AttentionCase.RopeKind.NONE ? AttentionCase.RopeKind.HALF : kind).spec();
    }

    public int[] positions() {
        SplittableRandom rng = new SplittableRandom(seed ^ 0x9051L);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = rng.nextInt(maxPosition + 1);
        }
        return p;
    }

    public float[] values(int heads, long salt) {
        SplittableRandom rng = new SplittableRandom(seed ^ salt);
        float[] x = new float[n * heads * headDim];
        for (int i = 0; i < x.length; i++) {
            x[i] = SpecFormats.round(dtype, (float) (rng.nextDouble() * 4 - 2));
        }
        return x;
    }

    /** Float angles drift by about position x 6e-8 rad; F32's tolerance allows positions up to about 100. */
    static int maxPosition(DType dtype, SplittableRandom rng) {
        return dtype == DType.F32 ? 64 : 1 + rng.nextInt(4096);
    }

    public static List<RopeCase> edgeCases(SplittableRandom rng) {
        List<RopeCase> out = new ArrayList<>();
        for (AttentionCase.RopeKind k : new AttentionCase.RopeKind[] {AttentionCase.RopeKind.HALF,
                AttentionCase.RopeKind.INTERLEAVED, AttentionCase.RopeKind.LLAMA31, AttentionCase.RopeKind.SCALED}) {
            out.add(new RopeCase(3, 4, 2, 64, DType.F16, k, true, 2048, rng.nextLong()));
        }
        out.add(new RopeCase(1, 1, 1, 32, DType.BF16, AttentionCase.RopeKind.HALF, false, 0, rng.nextLong()));
        out.add(new RopeCase(2, 8, 1, 256, DType.F32, AttentionCase.RopeKind.INTERLEAVED, true, 64, rng.nextLong()));
        out.add(new RopeCase(5, 2, 2, 128, DType.BF16, AttentionCase.RopeKind.LLAMA31, true, 4000, rng.nextLong()));
        out.add(new RopeCase(4, 2, 1, 64, DType.F16, AttentionCase.RopeKind.SCALED, true, 3000, rng.nextLong()));
        return out;
    }

    public static RopeCase random(SplittableRandom rng) {
        DType[] dts = {DType.F16, DType.BF16, DType.F32};
        DType dt = dts[rng.nextInt(3)];
        int[] dims = {32, 64, 80, 128, 256};
        int kh = 1 + rng.nextInt(4);
        return new RopeCase(1 + rng.nextInt(10), kh * (1 + rng.nextInt(4)), kh, dims[rng.nextInt(dims.length)], dt,
                AttentionCase.RopeKind.values()[1 + rng.nextInt(AttentionCase.RopeKind.values().length - 1)],
                rng.nextInt(4) != 0, maxPosition(dt, rng), rng.nextLong());
    }

    public List<RopeCase> shrink() {
        List<RopeCase> out = new ArrayList<>();
        if (n > 1) {
            out.add(new RopeCase(1, qHeads, kHeads, headDim, dtype, kind, withK, maxPosition, seed));
        }
        if (qHeads > 1) {
            out.add(new RopeCase(n, 1, 1, headDim, dtype, kind, withK, maxPosition, seed));
        }
        if (withK) {
            out.add(new RopeCase(n, qHeads, kHeads, headDim, dtype, kind, false, maxPosition, seed));
        }
        if (headDim > 2) {
            out.add(new RopeCase(n, qHeads, kHeads, headDim / 2, dtype, kind, withK, maxPosition, seed));
        }
        if (maxPosition > 1) {
            out.add(new RopeCase(n, qHeads, kHeads, headDim, dtype, kind, withK, maxPosition / 2, seed));
        }
        return out;
    }

    public String toJava() {
        return "new RopeCase(" + n + ", " + qHeads + ", " + kHeads + ", " + headDim + ", DType." + dtype
                + ", AttentionCase.RopeKind." + kind + ", " + withK + ", " + maxPosition + ", " + seed + "L)";
    }

    @Override
    public String toString() {
        return "n=" + n + " Hq=" + qHeads + (withK ? " Hkv=" + kHeads : " (q only)") + " D=" + headDim + " " + dtype
                + " " + kind + " positions<=" + maxPosition;
    }
}
