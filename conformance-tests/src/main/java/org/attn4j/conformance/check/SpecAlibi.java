package org.attn4j.conformance.check;

/**
 * spec §3's standard ALiBi slopes, written out for the suite alone as the ALiBi paper's
 * {@code get_slopes} builds them (never from core-api's {@code AlibiSlopes.standard}): for a power
 * of two {@code n}, the geometric sequence {@code 2^(-8/n)}, {@code 2^(-16/n)}, ...,
 * {@code 2^(-8)}; otherwise the sequence for the largest power of two {@code p < n}, followed by
 * every other term of the sequence for {@code 2p} (its first, third, ...) until there are
 * {@code n}. Each slope is computed in double and rounded once to F32.
 *
 * <p>Stateless and thread-safe.
 */
public final class SpecAlibi {
    private SpecAlibi() {}

    /**
     * The standard slopes for {@code n} query heads.
     *
     * @param n the query heads, at least 1
     * @return {@code n} slopes, head 0's first
     */
    public static float[] standardSlopes(int n) {
        double[] exponents = exponents(n);
        float[] out = new float[n];
        for (int h = 0; h < n; h++) {
            out[h] = SpecFormats.round(org.attn4j.tensor.DType.F32, Math.pow(2, -exponents[h]));
        }
        return out;
    }

    /** {@code e_h} with {@code slope_h = 2^(-e_h)}, by the paper's recursion. */
    private static double[] exponents(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("heads: expected >= 1, actual " + n);
        }
        if ((n & (n - 1)) == 0) {
            double[] e = new double[n];
            for (int i = 0; i < n; i++) {
                e[i] = 8.0 * (i + 1) / n; // start = 2^(-8/n), each next term times start
            }
            return e;
        }
        int p = Integer.highestOneBit(n);
        double[] first = exponents(p);
        double[] twice = exponents(2 * p);
        double[] e = new double[n];
        System.arraycopy(first, 0, e, 0, p);
        for (int k = 0; p + k < n; k++) {
            e[p + k] = twice[2 * k];
        }
        return e;
    }
}
