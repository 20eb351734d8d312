package org.attn4j.conformance.cases;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;

/**
 * KV append into an FP8 cache from q-dtype tokens that reach past the format: request b holds
 * {@code lens[b]} tokens after the append, of which the first {@code from[b]} were already
 * written. The appended values ({@link #values}) mix NaN (both signs, several payloads), the
 * infinities, out-of-range values, values at and around the largest finite one, exact ties
 * between neighbouring codes and next to them, subnormals and ordinary values. Printed with
 * {@link #toJava()} as a ready-to-paste reproduction.
 *
 * <p>Immutable (the length arrays are copied in and out) and thread-safe.
 *
 * @param format     cache dtype, {@code FP8_E4M3} or {@code FP8_E5M2}
 * @param input      dtype of the appended K/V ({@code F16}, {@code BF16}, {@code F32})
 * @param lens       tokens per request after the append
 * @param from       tokens per request before it
 * @param numKvHeads {@code Hkv}
 * @param headDim    {@code D}
 * @param pageSize   tokens per page
 * @param layout     page layout
 * @param combined   K and V in one tensor
 * @param kScale     K's quantisation scale
 * @param vScale     V's quantisation scale
 * @param seed       values, page permutation and the order tokens are appended in
 */
public record Fp8AppendCase(DType format, DType input, int[] lens, int[] from, int numKvHeads, int headDim,
                            int pageSize, KvLayout layout, boolean combined, float kScale, float vScale, long seed) {
    /** Powers of two keep ties exact; the others make the quotient's single rounding matter. */
    private static final float[] SCALES = {1f, 0.25f, 0.5f, 2f, 4f, 0.3f, 3f};

    /** Copies the length arrays. */
    public Fp8AppendCase {
        lens = lens.clone();
        from = from.clone();
    }

    /**
     * Tokens per request after the append.
     *
     * @return a copy
     */
    @Override
    public int[] lens() {
        return lens.clone();
    }

    /**
     * Tokens per request before the append.
     *
     * @return a copy
     */
    @Override
    public int[] from() {
        return from.clone();
    }

    /**
     * Tokens appended in all.
     *
     * @return the sum over requests of {@code lens[b] - from[b]}
     */
    public int appended() {
        int n = 0;
        for (int b = 0; b < lens.length; b++) {
            n += lens[b] - from[b];
        }
        return n;
    }

    /**
     * Cases every run checks first: each format from each input dtype, a combined HND cache with
     * a request that starts a fresh page, and scales that are not powers of two.
     *
     * @param rng the source of seeds
     * @return new cases
     */
    public static List<Fp8AppendCase> edgeCases(SplittableRandom rng) {
        List<Fp8AppendCase> out = new ArrayList<>();
        for (DType f : new DType[] {DType.FP8_E4M3, DType.FP8_E5M2}) {
            for (DType in : new DType[] {DType.F16, DType.BF16, DType.F32}) {
                out.add(new Fp8AppendCase(f, in, new int[] {40, 9}, new int[] {0, 5}, 2, 64, 16, KvLayout.NHD, false,
                        1f, 1f, rng.nextLong()));
            }
            out.add(new Fp8AppendCase(f, DType.BF16, new int[] {17, 33, 1}, new int[] {16, 0, 0}, 1, 128, 16,
                    KvLayout.HND, true, 0.5f, 2f, rng.nextLong()));
            out.add(new Fp8AppendCase(f, DType.F32, new int[] {30}, new int[] {3}, 4, 32, 7, KvLayout.NHD, false, 0.3f,
                    3f, rng.nextLong()));
        }
        return out;
    }

    /**
     * A random case: either format, any input dtype, 1 to 4 requests of up to 48 tokens (each
     * appended whole at least one time in three), 1 to 4 KV heads, head dims 32 to 256, page
     * sizes 1 to 32, either layout, combined in one case of four, and scales powers of two or not.
     *
     * @param rng the source of randomness
     * @return a new case
     */
    public static Fp8AppendCase random(SplittableRandom rng) {
        DType[] ins = {DType.F16, DType.BF16, DType.F32};
        int[] dims = {32, 64, 128, 48, 256};
        int[] pages = {1, 3, 7, 16, 32};
        int batch = 1 + rng.nextInt(4);
        int[] lens = new int[batch];
        int[] from = new int[batch];
        for (int b = 0; b < batch; b++) {
            lens[b] = 1 + rng.nextInt(48);
            from[b] = rng.nextInt(3) == 0 ? 0 : rng.nextInt(lens[b] + 1);
        }
        return new Fp8AppendCase(rng.nextBoolean() ? DType.FP8_E4M3 : DType.FP8_E5M2, ins[rng.nextInt(ins.length)],
                lens, from, 1 + rng.nextInt(4), dims[rng.nextInt(dims.length)], pages[rng.nextInt(pages.length)],
                rng.nextBoolean() ? KvLayout.NHD : KvLayout.HND, rng.nextInt(4) == 0,
                SCALES[rng.nextInt(SCALES.length)], SCALES[rng.nextInt(SCALES.length)], rng.nextLong());
    }

    /**
     * Simpler cases to try when this one fails: one request alone, fewer appended tokens, no
     * tokens before the append, one head, a smaller head dim, separate K and V, one token a page.
     *
     * @return the candidates, each simpler than this case in one respect; empty at the simplest
     */
    public List<Fp8AppendCase> shrink() {
        List<Fp8AppendCase> out = new ArrayList<>();
        int batch = lens.length;
        if (batch > 1) {
            for (int b = 0; b < batch; b++) {
                out.add(withLengths(new int[] {lens[b]}, new int[] {from[b]}));
            }
        }
        for (int b = 0; b < batch; b++) {
            int count = lens[b] - from[b];
            for (int keep : new int[] {1, count / 2}) {
                if (keep >= 1 && keep < count) {
                    int[] l = lens.clone();
                    l[b] = from[b] + keep;
                    out.add(withLengths(l, from));
                }
            }
            if (from[b] > 0) {
                int[] l = lens.clone();
                int[] f = from.clone();
                l[b] -= from[b];
                f[b] = 0;
                out.add(withLengths(l, f));
            }
        }
        if (numKvHeads > 1) {
            out.add(new Fp8AppendCase(format, input, lens, from, 1, headDim, pageSize, layout, combined, kScale, vScale,
                    seed));
        }
        for (int d : new int[] {16, headDim / 2}) {
            if (d < headDim && d >= 16 && d % 2 == 0) {
                out.add(new Fp8AppendCase(format, input, lens, from, numKvHeads, d, pageSize, layout, combined, kScale,
                        vScale, seed));
            }
        }
        if (combined) {
            out.add(new Fp8AppendCase(format, input, lens, from, numKvHeads, headDim, pageSize, layout, false, kScale,
                    vScale, seed));
        }
        if (pageSize > 1) {
            out.add(new Fp8AppendCase(format, input, lens, from, numKvHeads, headDim, 1, layout, combined, kScale,
                    vScale, seed));
        }
        return out;
    }

    private Fp8AppendCase withLengths(int[] l, int[] f) {
        return new Fp8AppendCase(format, input, l, f, numKvHeads, headDim, pageSize, layout, combined, kScale, vScale,
                seed);
    }

    /**
     * The bits of {@code count} appended elements in the input dtype, for the cache's format and
     * {@code scale}: stream {@code salt} (K and V draw separately).
     *
     * @param count elements to draw
     * @param scale the quantisation scale: values are drawn in the format's units and multiplied
     *              by it, so that dividing by it on append lands on the boundaries
     * @param salt  tells the stream apart from the case's other draws
     * @return the input dtype's codes, in the low bits
     */
    public int[] values(int count, float scale, long salt) {
        SplittableRandom rng = new SplittableRandom(seed ^ salt);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = value(rng, scale);
        }
        return out;
    }

    private int value(SplittableRandom rng, float scale) {
        double max = SpecFormats.maxFinite(format);
        double sign = rng.nextBoolean() ? 1 : -1;
        int r = rng.nextInt(20);
        if (r == 0) {
            // NaN of either sign: the quiet one, another payload, or a signalling one
            int[] nans = {SpecFormats.nanCode(input, sign < 0), SpecFormats.nanCode(input, sign < 0) | 1,
                    SpecFormats.encode(input, sign * Double.POSITIVE_INFINITY) | 1};
            return nans[rng.nextInt(nans.length)];
        }
        if (r == 1) {
            return SpecFormats.encode(input, sign * Double.POSITIVE_INFINITY);
        }
        if (r == 2) {
            return SpecFormats.encode(input, sign * 0.0);
        }
        double x;
        if (r <= 6) {
            x = max * (1 + 7 * rng.nextDouble()); // past the finite range
        } else if (r <= 9) {
            // at the top: the largest value, the midpoints below and above it, one quantum above
            double ulp = max - SpecFormats.value(format, SpecFormats.maxCode(format, false) - 1);
            double[] top = {max, max - ulp / 2, max + ulp / 2, max + ulp, max - ulp};
            x = top[rng.nextInt(top.length)];
        } else if (r <= 13) {
            // an exact tie between two neighbouring codes (exact in the input for power-of-two scales)
            int c = rng.nextInt(SpecFormats.maxCode(format, false));
            x = (SpecFormats.value(format, c) + (double) SpecFormats.value(format, c + 1)) / 2;
        } else if (r <= 15) {
            x = SpecFormats.value(format, 1) * 4 * rng.nextDouble(); // subnormals, and below half the smallest
        } else {
            double lo = Math.getExponent(SpecFormats.value(format, 1)) - 2;
            double hi = Math.log(max) / Math.log(2) + 0.5;
            x = Math.pow(2, lo + (hi - lo) * rng.nextDouble());
        }
        int bits = SpecFormats.encode(input, sign * x * scale);
        float v = SpecFormats.value(input, bits);
        if (r >= 7 && r <= 13 && rng.nextInt(3) == 0 && Float.isFinite(v) && v != 0) {
            int nudged = bits + (rng.nextBoolean() ? 1 : -1); // one input ulp off the boundary, same sign
            if (Float.isFinite(SpecFormats.value(input, nudged))) {
                bits = nudged;
            }
        }
        return bits;
    }

    /**
     * The case as a Java expression that rebuilds it exactly.
     *
     * @return a {@code new Fp8AppendCase(...)} expression
     */
    public String toJava() {
        return "new Fp8AppendCase(DType." + format + ", DType." + input + ", " + AttentionCase.ints(lens) + ", "
                + AttentionCase.ints(from) + ", " + numKvHeads + ", " + headDim + ", " + pageSize + ", KvLayout."
                + layout + ", " + combined + ", " + AttentionCase.flt(kScale) + ", " + AttentionCase.flt(vScale)
                + ", " + seed + "L)";
    }

    @Override
    public String toString() {
        return input + " -> " + format + " lens=" + Arrays.toString(lens) + " from=" + Arrays.toString(from)
                + " Hkv/D=" + numKvHeads + "/" + headDim + " page=" + pageSize + " " + layout
                + (combined ? " combined" : "") + " scales=" + kScale + "/" + vScale;
    }
}
