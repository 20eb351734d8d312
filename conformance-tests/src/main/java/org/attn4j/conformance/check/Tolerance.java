package org.attn4j.conformance.check;

import org.attn4j.tensor.DType;

/**
 * spec §9's tolerances: {@code |out - ref| <= atol + rtol * |ref|} by output dtype; NaN never
 * passes; infinities must match exactly.
 */
public record Tolerance(double atol, double rtol) {
    public static final Tolerance F32 = new Tolerance(1e-5, 1e-5);
    public static final Tolerance F16 = new Tolerance(2e-3, 2e-3);
    public static final Tolerance BF16 = new Tolerance(1.6e-2, 1.6e-2);
    /** Equal bits, as floats (NaN never equal). */
    public static final Tolerance EXACT = new Tolerance(0, 0);

    public static Tolerance forOutput(DType dtype) {
        return switch (dtype) {
            case F32 -> F32;
            case F16 -> F16;
            case BF16 -> BF16;
            default -> throw new IllegalArgumentException("no output tolerance for " + dtype);
        };
    }

    public boolean accepts(double out, double ref) {
        if (Double.isNaN(out) || Double.isNaN(ref)) {
            return false;
        }
        if (Double.isInfinite(out) || Double.isInfinite(ref)) {
            return out == ref;
        }
        return Math.abs(out - ref) <= atol + rtol * Math.abs(ref);
    }

    /** spec §9 for LSE: {@code |lse - ref| <= 1e-3 (1 + |ref|)}, -inf exactly. */
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
