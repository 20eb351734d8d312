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
 * rotated at random positions from 0 to {@link #maxPosition}. Printed with {@link #toJava()} as a
 * ready-to-paste reproduction.
 *
 * <p>Immutable and thread-safe.
 *
 * @param n           rows (tokens)
 * @param qHeads      {@code Hq}
 * @param kHeads      {@code Hkv}, a divisor of {@code Hq}
 * @param headDim     {@code D}, even
 * @param dtype       q and k dtype
 * @param kind        the rotation; {@link AttentionCase.RopeKind#NONE} stands for
 *                    {@link AttentionCase.RopeKind#HALF}
 * @param withK       whether k is rotated too
 * @param maxPosition the largest position drawn, at least 0
 * @param seed        the seed of every value and position
 */
public record RopeCase(int n, int qHeads, int kHeads, int headDim, DType dtype, AttentionCase.RopeKind kind,
                       boolean withK, int maxPosition, long seed) {

    /**
     * The options handed to the backend.
     *
     * @return the options of {@link #kind}
     */
    public RopeOptions options() {
        return (kind == AttentionCase.RopeKind.NONE ? AttentionCase.RopeKind.HALF : kind).options(headDim);
    }

    /**
     * The same rotation as spec §3 defines it, for the oracle.
     *
     * @return the rotation of {@link #kind}
     */
    public SpecRope spec() {
        return (kind == AttentionCase.RopeKind.NONE ? AttentionCase.RopeKind.HALF : kind).spec(headDim);
    }

    /**
     * Each row's position, drawn from the seed.
     *
     * @return {@code n} positions from 0 to {@link #maxPosition}
     */
    public int[] positions() {
        SplittableRandom rng = new SplittableRandom(seed ^ 0x9051L);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = rng.nextInt(maxPosition + 1);
        }
        return p;
    }

    /**
     * Values to rotate, uniform in [-2, 2) and rounded to {@link #dtype}, drawn from the seed.
     *
     * @param heads heads per row
     * @param salt  told apart from other draws of the same case (q and k use different salts)
     * @return {@code [n, heads, D]} values
     */
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

    /**
     * Cases every run checks first: each rotation (partial ones included) in F16 with k, one row
     * at position 0 with q only, and other head dims (32 to 256) and dtypes.
     *
     * @param rng the source of seeds
     * @return new cases
     */
    public static List<RopeCase> edgeCases(SplittableRandom rng) {
        List<RopeCase> out = new ArrayList<>();
        for (AttentionCase.RopeKind k : new AttentionCase.RopeKind[] {AttentionCase.RopeKind.HALF,
                AttentionCase.RopeKind.INTERLEAVED, AttentionCase.RopeKind.LLAMA31, AttentionCase.RopeKind.SCALED,
                AttentionCase.RopeKind.PARTIAL_HALF, AttentionCase.RopeKind.PARTIAL_INTERLEAVED}) {
            out.add(new RopeCase(3, 4, 2, 64, DType.F16, k, true, 2048, rng.nextLong()));
        }
        out.add(new RopeCase(1, 1, 1, 32, DType.BF16, AttentionCase.RopeKind.HALF, false, 0, rng.nextLong()));
        out.add(new RopeCase(2, 8, 1, 256, DType.F32, AttentionCase.RopeKind.INTERLEAVED, true, 64, rng.nextLong()));
        out.add(new RopeCase(5, 2, 2, 128, DType.BF16, AttentionCase.RopeKind.LLAMA31, true, 4000, rng.nextLong()));
        out.add(new RopeCase(4, 2, 1, 64, DType.F16, AttentionCase.RopeKind.SCALED, true, 3000, rng.nextLong()));
        return out;
    }

    /**
     * Partial rotary cases every partial-rotary property checks first: Phi-2's (D 80, R 32) and
     * GPT-J's (D 256, R 64) shapes, an odd number of pairs (D 96, R 38), and the smallest rotary
     * dim (D 32 interleaved, R 8; D 4, R 2).
     *
     * @param rng the source of seeds
     * @return new cases, each of a partial kind
     */
    public static List<RopeCase> partialEdgeCases(SplittableRandom rng) {
        AttentionCase.RopeKind half = AttentionCase.RopeKind.PARTIAL_HALF;
        AttentionCase.RopeKind inter = AttentionCase.RopeKind.PARTIAL_INTERLEAVED;
        return List.of(
                new RopeCase(3, 4, 2, 80, DType.F16, half, true, 2048, rng.nextLong()),
                new RopeCase(2, 4, 1, 256, DType.BF16, inter, true, 4000, rng.nextLong()),
                new RopeCase(4, 2, 2, 96, DType.F16, half, true, 3000, rng.nextLong()),
                new RopeCase(2, 2, 1, 32, DType.F32, inter, true, 64, rng.nextLong()),
                new RopeCase(1, 1, 1, 4, DType.F32, half, false, 64, rng.nextLong()));
    }

    /**
     * A random partial-rotary case: {@link #random} with its rotation made partial, rotate half or
     * interleaved by the seed.
     *
     * @param rng the source of randomness
     * @return a new case of a partial kind
     */
    public static RopeCase randomPartial(SplittableRandom rng) {
        return random(rng).partial();
    }

    /**
     * This case with a partial rotation: itself when its kind is partial already, else rotate
     * half or interleaved by the seed.
     *
     * @return a case of a partial kind
     */
    public RopeCase partial() {
        if (kind.partial()) {
            return this;
        }
        AttentionCase.RopeKind k = (seed & 1) == 0 ? AttentionCase.RopeKind.PARTIAL_HALF
                : AttentionCase.RopeKind.PARTIAL_INTERLEAVED;
        return new RopeCase(n, qHeads, kHeads, headDim, dtype, k, withK, maxPosition, seed);
    }

    /**
     * The dims this case rotates.
     *
     * @return {@code R}: below {@code D} for a partial kind (but at {@code D = 2}), else {@code D}
     */
    public int rotaryDim() {
        int r = (kind == AttentionCase.RopeKind.NONE ? AttentionCase.RopeKind.HALF : kind).rotaryDim(headDim);
        return r == 0 ? headDim : r;
    }

    /**
     * A random case: F16, BF16 or F32; 1 to 10 rows; 1 to 4 KV heads and up to 4 query heads per
     * KV head; a head dim of 32, 64, 80, 128 or 256; any rotation but none; k in three cases of
     * four; positions up to 64 for F32 (float angles drift with the position, and F32's
     * tolerance is tight) and up to 4096 otherwise.
     *
     * @param rng the source of randomness
     * @return a new case
     */
    public static RopeCase random(SplittableRandom rng) {
        DType[] dts = {DType.F16, DType.BF16, DType.F32};
        DType dt = dts[rng.nextInt(3)];
        int[] dims = {32, 64, 80, 128, 256};
        int kh = 1 + rng.nextInt(4);
        return new RopeCase(1 + rng.nextInt(10), kh * (1 + rng.nextInt(4)), kh, dims[rng.nextInt(dims.length)], dt,
                AttentionCase.RopeKind.values()[1 + rng.nextInt(AttentionCase.RopeKind.values().length - 1)],
                rng.nextInt(4) != 0, maxPosition(dt, rng), rng.nextLong());
    }

    /**
     * Simpler cases to try when this one fails: one row, one head each, q only, half the head
     * dim (kept even), half the largest position.
     *
     * @return the candidates, each simpler than this case in one respect; empty at the simplest
     */
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
        if (headDim > 2 && headDim % 4 == 0) {
            out.add(new RopeCase(n, qHeads, kHeads, headDim / 2, dtype, kind, withK, maxPosition, seed));
        }
        if (maxPosition > 1) {
            out.add(new RopeCase(n, qHeads, kHeads, headDim, dtype, kind, withK, maxPosition / 2, seed));
        }
        return out;
    }

    /**
     * The case as a Java expression that rebuilds it exactly.
     *
     * @return a {@code new RopeCase(...)} expression
     */
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
