package org.attn4j.conformance.check;

import org.attn4j.tensor.DType;

/**
 * spec §9's tolerances: {@code |out - ref| <= atol + rtol * |ref|} by output dtype; NaN never
 * passes; infinities must match exactly.
 *
 * <p>Immutable and thread-safe.
 *
 * @param atol absolute tolerance
 * @param rtol tolerance relative to {@code |ref|}
 */
public record Tolerance(double atol, double rtol) {
    /** For F32 outputs: 1e-5 absolute and relative. */
    public static final Tolerance F32 = new Tolerance(1e-5, 1e-5);
    /** For F16 outputs: 2e-3 absolute and relative. */
    public static final Tolerance F16 = new Tolerance(2e-3, 2e-3);
    /** For BF16 outputs: 1.6e-2 absolute and relative. */
    public static final Tolerance BF16 = new Tolerance(1.6e-2, 1.6e-2);
    /** Equal values (NaN never equal), and for lse equal bits. */
    public static final Tolerance EXACT = new Tolerance(0, 0);

    /**
     * The tolerance for outputs of a dtype.
     *
     * @param dtype F32, F16 or BF16
     * @return {@link #F32}, {@link #F16} or {@link #BF16}
     * @throws IllegalArgumentException for any other dtype
     */
    public static Tolerance forOutput(DType dtype) {
        return switch (dtype) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> BF16;
            default -> throw new IllegalArgumentException("no output tolerance for " + dtype);
        };
    }

    /**
     * Whether an output is close enough to the reference.
     *
     * @param out the value under test
     * @param ref the reference value
     * @return true within {@code atol + rtol * |ref|}, or both the same infinity; false with any NaN
     */
    public boolean accepts(double out, double ref) {
        if (Double.isNaN(out) || Double.isNaN(ref)) {
            return false;
        }
        if (Double.isInfinite(out) || Double.isInfinite(ref)) {
            return out == ref;
        }
        return Math.abs(out - ref) <= atol + rtol * Math.abs(ref);
    }

    /**
     * spec §9 for LSE: {@code |lse - ref| <= 1e-3 (1 + |ref|)}, -inf exactly.
     *
     * @param out the lse under test
     * @param ref the reference lse
     * @return whether it is close enough; false with any NaN
     */
    public static boolean lseAccepts(double out, double ref) {
        if (Double.isNaN(out) || Double.isNaN(ref)) {
            return false;
        }
        if (Double.isInfinite(out) || Double.isInfinite(ref)) {
            return out == ref;
        }
        return Math.abs(out - ref) <= 1e-3 * (1 + Math.abs(ref));
    }

    @Override
    public String toString() {
        return this == EXACT ? "exact" : "atol " + atol + ", rtol " + rtol;
    }
}
