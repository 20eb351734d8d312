package org.attn4j.conformance.cases;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.tensor.DType;
import org.attn4j.conformance.check.SpecFormats;

/**
 * Attention states for the merge laws: {@code n} states {@code (o [rows, Hq, D], s [rows, Hq])}
 * drawn from {@link #seed}, some with {@code s = -inf} (and {@code o = 0}). Printed with
 * {@link #toJava()} as a ready-to-paste reproduction.
 *
 * <p>Immutable and thread-safe.
 *
 * @param rows   rows
 * @param heads  {@code Hq}
 * @param headDim {@code D}
 * @param dtype  o's dtype
 * @param n      states per row
 * @param spread range of the LSE values ({@code [-spread, spread]}); large spreads underflow weights
 * @param seed   seed of every value
 */
public record StateCase(int rows, int heads, int headDim, DType dtype, int n, double spread, long seed) {

    /**
     * One attention state over all rows and heads. The arrays are not copied: leave them unchanged.
     *
     * @param o output values, {@code [rows, Hq, D]}, each exact in the case's dtype; 0 where s is -inf
     * @param s natural-log LSE values, {@code [rows, Hq]}, in {@code [-spread, spread]} or -inf
     */
    public record State(float[] o, float[] s) {}

    /**
     * The case's states, drawn from its seed; about one row and head in eight is empty
     * ({@code s = -inf}, {@code o = 0}).
     *
     * @return {@link #n} new states
     */
    public List<State> states() {
        SplittableRandom rng = new SplittableRandom(seed);
        List<State> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[] o = new float[rows * heads * headDim];
            float[] s = new float[rows * heads];
            for (int r = 0; r < s.length; r++) {
                boolean empty = rng.nextInt(8) == 0;
                s[r] = empty ? Float.NEGATIVE_INFINITY : (float) ((rng.nextDouble() * 2 - 1) * spread);
                for (int t = 0; t < headDim; t++) {
                    o[r * headDim + t] = empty ? 0f : SpecFormats.round(dtype, (float) (rng.nextDouble() * 2 - 1));
                }
            }
            out.add(new State(o, s));
        }
        return out;
    }

    /**
     * Cases every run checks first: one row and head, each dtype, spreads from 0 (equal LSEs) to
     * 200 (weights that underflow), four states.
     *
     * @param rng the source of seeds
     * @return new cases
     */
    public static List<StateCase> edgeCases(SplittableRandom rng) {
        return List.of(new StateCase(1, 1, 32, DType.F16, 3, 5, rng.nextLong()),
                new StateCase(4, 8, 128, DType.BF16, 3, 20, rng.nextLong()),
                new StateCase(3, 2, 64, DType.F32, 3, 10, rng.nextLong()),
                new StateCase(2, 4, 256, DType.F16, 3, 200, rng.nextLong()),
                new StateCase(5, 3, 64, DType.F16, 4, 0, rng.nextLong()));
    }

    /**
     * A random case: 1 to 12 rows, 1 to 8 heads, head dims 32 to 256, any of F16, BF16 and F32, 3
     * to 5 states, and an LSE spread of 1 to 30 or, one time in five, 150.
     *
     * @param rng the source of randomness
     * @return a new case
     */
    public static StateCase random(SplittableRandom rng) {
        DType[] dts = {DType.F16, DType.BF16, DType.F32};
        int[] dims = {32, 64, 96, 128, 256};
        return new StateCase(1 + rng.nextInt(12), 1 + rng.nextInt(8), dims[rng.nextInt(dims.length)],
                dts[rng.nextInt(3)], 3 + rng.nextInt(3), rng.nextInt(5) == 0 ? 150 : 1 + rng.nextInt(30),
                rng.nextLong());
    }

    /**
     * Simpler cases to try when this one fails: one row, half the rows, one head, half the head dim.
     *
     * @return the candidates, each simpler than this case in one respect; empty at the simplest
     */
    public List<StateCase> shrink() {
        List<StateCase> out = new ArrayList<>();
        if (rows > 1) {
            out.add(new StateCase(1, heads, headDim, dtype, n, spread, seed));
            out.add(new StateCase(rows / 2, heads, headDim, dtype, n, spread, seed));
        }
        if (heads > 1) {
            out.add(new StateCase(rows, 1, headDim, dtype, n, spread, seed));
        }
        if (headDim > 2) {
            out.add(new StateCase(rows, heads, headDim / 2, dtype, n, spread, seed));
        }
        return out;
    }

    /**
     * The case as a Java expression that rebuilds it exactly.
     *
     * @return a {@code new StateCase(...)} expression
     */
    public String toJava() {
        return "new StateCase(" + rows + ", " + heads + ", " + headDim + ", DType." + dtype + ", " + n + ", " + spread
                + ", " + seed + "L)";
    }

    @Override
    public String toString() {
        return "rows=" + rows + " Hq=" + heads + " D=" + headDim + " " + dtype + " n=" + n + " lse in +-" + spread;
    }
}
