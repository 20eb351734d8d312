package org.attn4j.conformance.check;

import java.util.Arrays;

/**
 * Element-wise comparisons that fail with the first mismatch located as (row, head, d), the two
 * values, the tolerance and the number of mismatches.
 *
 * <p>Stateless and thread-safe.
 */
public final class Compare {
    private Compare() {}

    /**
     * o within {@code tol} and, when both have one, lse within spec §9's LSE tolerance (exactly
     * equal under {@link Tolerance#EXACT}).
     *
     * @param what     names the comparison in the message
     * @param actual   the output under test
     * @param expected the reference output
     * @param tol      the tolerance for o
     * @throws AssertionError at the first mismatch, or when the sizes differ
     */
    public static void outputs(String what, AttentionOutput actual, AttentionOutput expected, Tolerance tol) {
        if (actual.o().length != expected.o().length) {
            throw new AssertionError(what + ": o has " + actual.o().length + " elements, expected "
                    + expected.o().length);
        }
        int hd = expected.heads() * expected.headDim();
        int bad = 0;
        String first = null;
        for (int i = 0; i < expected.o().length; i++) {
            if (!tol.accepts(actual.o()[i], expected.o()[i])) {
                if (first == null) {
                    first = "o[row " + i / hd + ", head " + (i % hd) / expected.headDim() + ", d "
                            + i % expected.headDim() + "] = " + actual.o()[i] + ", expected " + expected.o()[i];
                }
                bad++;
            }
        }
        if (bad > 0) {
            throw new AssertionError(what + ": " + first + " (" + tol + "); " + bad + " of " + expected.o().length
                    + " elements differ");
        }
        if (actual.lse() != null && expected.lse() != null) {
            lse(what, actual.lse(), expected.lse(), expected.heads(), tol == Tolerance.EXACT);
        }
    }

    /**
     * lse within spec §9's LSE tolerance, or exactly equal.
     *
     * @param what     names the comparison in the message
     * @param actual   lse under test, {@code [rows, heads]}
     * @param expected reference lse, as long as {@code actual}
     * @param heads    heads per row, to locate a mismatch
     * @param exact    equal values instead ({@link Float#compare}, so -0 differs from 0; NaN never passes)
     * @throws AssertionError at the first mismatch
     */
    public static void lse(String what, float[] actual, float[] expected, int heads, boolean exact) {
        int bad = 0;
        String first = null;
        for (int i = 0; i < expected.length; i++) {
            boolean ok = exact ? Float.compare(actual[i], expected[i]) == 0 && !Float.isNaN(actual[i])
                    : Tolerance.lseAccepts(actual[i], expected[i]);
            if (!ok) {
                if (first == null) {
                    first = "lse[row " + i / heads + ", head " + i % heads + "] = " + actual[i] + ", expected "
                            + expected[i];
                }
                bad++;
            }
        }
        if (bad > 0) {
            throw new AssertionError(what + ": " + first + " (" + (exact ? "exact" : "1e-3 (1 + |ref|)") + "); "
                    + bad + " of " + expected.length + " differ");
        }
    }

    /**
     * Bitwise equality of two float arrays (as their bit patterns).
     *
     * @param what     names the comparison in the message
     * @param actual   values under test
     * @param expected reference values
     * @param rowWidth elements per row, to locate a mismatch
     * @throws AssertionError at the first differing element, or when the lengths differ
     */
    public static void bitwise(String what, float[] actual, float[] expected, int rowWidth) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": " + actual.length + " elements, expected " + expected.length);
        }
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(actual[i]) != Float.floatToRawIntBits(expected[i])) {
                long bad = java.util.stream.IntStream.range(0, expected.length)
                        .filter(j -> Float.floatToRawIntBits(actual[j]) != Float.floatToRawIntBits(expected[j]))
                        .count();
                throw new AssertionError(what + ": element " + i + " (row " + i / rowWidth + ") = " + actual[i]
                        + ", expected bitwise " + expected[i] + "; " + bad + " of " + expected.length + " differ");
            }
        }
    }

    /**
     * Raw bit patterns equal.
     *
     * @param what     names the comparison in the message
     * @param actual   codes under test
     * @param expected reference codes
     * @throws AssertionError at the first differing element, or when the lengths differ
     */
    public static void bits(String what, int[] actual, int[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": " + actual.length + " elements, expected " + expected.length);
        }
        if (!Arrays.equals(actual, expected)) {
            int i = Arrays.mismatch(actual, expected);
            long bad = java.util.stream.IntStream.range(0, Math.min(actual.length, expected.length))
                    .filter(j -> actual[j] != expected[j]).count();
            throw new AssertionError(what + ": element " + i + " has bits 0x" + Integer.toHexString(actual[i])
                    + ", expected 0x" + Integer.toHexString(expected[i]) + "; " + bad + " elements differ");
        }
    }
}
