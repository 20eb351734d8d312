package org.attn4j.conformance.check;

import java.util.List;
import org.attn4j.tensor.DType;

/**
 * spec §1's element formats written out for the suite alone: every stored bit pattern's value,
 * and a store of any {@code double} rounded once to nearest, ties to even. F16, BF16 and FP8
 * share one description (exponent bits, mantissa bits, how the top exponent is used); FP8 stores
 * saturate to the finite range. Nothing here calls core-api's conversions: the suite holds them
 * and the backends to these tables.
 *
 * <ul>
 *   <li>{@code F16}: IEEE binary16; {@code BF16}: the upper half of binary32 (8 exponent bits, 7
 *       mantissa bits); both with infinities and NaN at the top exponent, overflow to infinity.
 *   <li>{@code FP8_E4M3}: OCP e4m3fn: bias 7, no infinities, only {@code S.1111.111} is NaN, max
 *       448.
 *   <li>{@code FP8_E5M2}: OCP e5m2: bias 15, infinities and NaN as IEEE, max 57344.
 * </ul>
 *
 * A NaN keeps its sign and is stored as the format's quiet NaN: F16 {@code 0x7E00}, BF16
 * {@code 0x7FC0}, e4m3 {@code 0x7F} (its only NaN), e5m2 {@code 0x7E} (the upper byte of F16's quiet
 * NaN), each with the sign bit set for a negative NaN. These are the codes the backends write.
 *
 * <p>Stateless and thread-safe. Every method throws {@link IllegalArgumentException} for a dtype
 * that is not a floating-point format ({@code I32}), and {@link #maxCode} for {@code F32} too.
 */
public final class SpecFormats {
    private SpecFormats() {}

    /**
     * A small binary floating-point format.
     *
     * @param expBits  exponent bits
     * @param manBits  mantissa (fraction) bits
     * @param ieeeTop  the top exponent holds infinities (mantissa 0) and NaN (else), as IEEE; false:
     *                 e4m3fn, where it holds finite values and only the all-ones mantissa is NaN
     * @param saturate stores beyond the finite range (infinities included) give the largest finite
     *                 value instead of infinity
     * @param nanCode  the quiet NaN stored for a NaN (sign bit clear)
     */
    private record Format(int expBits, int manBits, boolean ieeeTop, boolean saturate, int nanCode, double max) {
        Format(int expBits, int manBits, boolean ieeeTop, boolean saturate, int nanCode) {
            this(expBits, manBits, ieeeTop, saturate, nanCode, Double.NaN);
        }

        /** The same format knowing its largest finite value. */
        Format withMax() {
            return new Format(expBits, manBits, ieeeTop, saturate, nanCode, value(maxCode()));
        }

        int bias() {
            return (1 << (expBits - 1)) - 1;
        }

        int topField() {
            return (1 << expBits) - 1;
        }

        int signBit() {
            return 1 << (expBits + manBits);
        }

        int minExponent() {
            return 1 - bias();
        }

        /** The code of the largest finite value (sign bit clear). */
        int maxCode() {
            return ieeeTop ? ((topField() - 1) << manBits) | ((1 << manBits) - 1)
                    : (topField() << manBits) | ((1 << manBits) - 2);
        }

        /** Every code's value, exactly (each fits a float); a NaN keeps the code's sign. */
        float value(int code) {
            int sign = code & signBit();
            int field = (code >>> manBits) & topField();
            int man = code & ((1 << manBits) - 1);
            boolean nan = ieeeTop ? field == topField() && man != 0
                    : field == topField() && man == (1 << manBits) - 1;
            if (nan) {
                return Float.intBitsToFloat(sign != 0 ? 0xFFC00000 : 0x7FC00000);
            }
            double v;
            if (ieeeTop && field == topField()) {
                v = Double.POSITIVE_INFINITY;
            } else if (field == 0) {
                v = Math.scalb((double) man, minExponent() - manBits);
            } else {
                v = Math.scalb((double) ((1 << manBits) + man), field - bias() - manBits);
            }
            return (float) (sign != 0 ? -v : v);
        }

        int encode(double x) {
            int sign = Double.doubleToRawLongBits(x) < 0 ? signBit() : 0;
            if (Double.isNaN(x)) {
                return sign | nanCode;
            }
            int overflow = saturate ? maxCode() : topField() << manBits;
            double a = Math.abs(x);
            if (Double.isInfinite(a)) {
                return sign | overflow;
            }
            // a in units of the quantum of its binade (the subnormal one below the smallest normal):
            // scaling by powers of two is exact, so rint rounds a itself to nearest even
            int e = Math.max(Math.getExponent(a), minExponent());
            double r = Math.rint(a * pow2(manBits - e)) * pow2(e - manBits);
            if (r > max) {
                return sign | overflow;
            }
            if (r == 0) {
                return sign;
            }
            int er = Math.getExponent(r);
            if (er < minExponent()) {
                return sign | (int) (r * pow2(manBits - minExponent()));
            }
            int man = (int) (r * pow2(manBits - er)) - (1 << manBits);
            return sign | ((er + bias()) << manBits) | man;
        }
    }

    /** {@code 2^e} for a normal double's exponent range. */
    private static double pow2(int e) {
        return Double.longBitsToDouble((long) (e + 1023) << 52);
    }

    private static final Format F16 = new Format(5, 10, true, false, 0x7E00).withMax();
    private static final Format BF16 = new Format(8, 7, true, false, 0x7FC0).withMax();
    private static final Format E4M3 = new Format(4, 3, false, true, 0x7F).withMax();
    private static final Format E5M2 = new Format(5, 2, true, true, 0x7E).withMax();

    private static Format format(DType dtype) {
        return switch (dtype) {
            case F16 -> F16;
            case BF16 -> BF16;
            case FP8_E4M3 -> E4M3;
            case FP8_E5M2 -> E5M2;
            default -> throw new IllegalArgumentException("no small float format for " + dtype);
        };
    }

    private static final float[] E4M3_VALUES = table(E4M3);
    private static final float[] E5M2_VALUES = table(E5M2);

    private static float[] table(Format f) {
        float[] t = new float[256];
        for (int c = 0; c < 256; c++) {
            t[c] = f.value(c);
        }
        return t;
    }

    /**
     * The value a stored bit pattern stands for.
     *
     * @param dtype a floating-point dtype
     * @param bits  the stored code, in the low 8, 16 or 32 bits (higher bits ignored)
     * @return its value, exact; a NaN keeps the code's sign
     */
    public static float value(DType dtype, int bits) {
        return switch (dtype) {
            case F32 -> Float.intBitsToFloat(bits);
            case F16 -> Float.float16ToFloat((short) bits); // the JDK's IEEE binary16, as SpecFormatsTest checks
            case BF16 -> Float.intBitsToFloat((bits & 0xFFFF) << 16);
            case FP8_E4M3 -> E4M3_VALUES[bits & 0xFF];
            case FP8_E5M2 -> E5M2_VALUES[bits & 0xFF];
            default -> throw new IllegalArgumentException("no floating format for " + dtype);
        };
    }

    /**
     * The bit pattern storing a value: one rounding to nearest even, FP8 saturating.
     *
     * @param dtype a floating-point dtype
     * @param x     any value, infinities and NaN included
     * @return the code, in the low 8, 16 or 32 bits
     */
    public static int encode(DType dtype, double x) {
        if (dtype == DType.F32) {
            return Float.floatToRawIntBits((float) x); // Java's narrowing is IEEE round to nearest even
        }
        float f = (float) x;
        if (f == x && dtype == DType.F16) {
            // the common case, x a float: the JDK's IEEE conversion rounds it once, as SpecFormatsTest checks
            return Float.floatToFloat16(f) & 0xFFFF;
        }
        if (f == x && dtype == DType.BF16) {
            int u = Float.floatToRawIntBits(f); // round the low half away, ties to even
            return ((u + 0x7FFF + ((u >>> 16) & 1)) >>> 16) & 0xFFFF;
        }
        return format(dtype).encode(x);
    }

    /** {@link #encode} by the format description alone, without the shortcuts for floats (for tests). */
    static int encodeByFormat(DType dtype, double x) {
        return format(dtype).encode(x);
    }

    /** {@link #value} by the format description alone (for tests). */
    static float valueByFormat(DType dtype, int bits) {
        return format(dtype).value(bits);
    }

    /**
     * A value rounded once to a dtype, as a store then a load give it.
     *
     * @param dtype a floating-point dtype
     * @param x     any value
     * @return the value of {@code encode(dtype, x)}
     */
    public static float round(DType dtype, double x) {
        return value(dtype, encode(dtype, x));
    }

    /**
     * The code a store writes for a NaN of the given sign.
     *
     * @param dtype    a floating-point dtype
     * @param negative the NaN's sign bit
     * @return the format's quiet NaN, with the sign bit set when {@code negative}
     */
    public static int nanCode(DType dtype, boolean negative) {
        if (dtype == DType.F32) {
            return negative ? 0xFFC00000 : 0x7FC00000;
        }
        Format f = format(dtype);
        return f.nanCode() | (negative ? f.signBit() : 0);
    }

    /**
     * Whether a stored code has the sign bit set (NaN and zero included).
     *
     * @param dtype a floating-point dtype
     * @param bits  the stored code, in the low bits
     * @return the sign bit
     */
    public static boolean negative(DType dtype, int bits) {
        return ((bits >>> (width(dtype) - 1)) & 1) != 0;
    }

    /**
     * Largest finite value of a dtype.
     *
     * @param dtype a floating-point dtype
     * @return 65504 for F16, 448 for e4m3, 57344 for e5m2, and so on
     */
    public static double maxFinite(DType dtype) {
        return dtype == DType.F32 ? Float.MAX_VALUE : format(dtype).value(format(dtype).maxCode());
    }

    /**
     * The bit pattern of the largest finite value.
     *
     * @param dtype    F16, BF16 or an FP8 dtype
     * @param negative the code of the most negative finite value instead
     * @return the code, in the low bits
     */
    public static int maxCode(DType dtype, boolean negative) {
        Format f = format(dtype);
        return f.maxCode() | (negative ? f.signBit() : 0);
    }

    /**
     * Codes of NaN and the infinities (where the format has them), both signs: garbage to plant.
     *
     * @param dtype a floating-point dtype
     * @return the codes, in the low bits; for e5m2 also NaN codes other than the one a store writes
     */
    public static List<Integer> nonFiniteCodes(DType dtype) {
        return switch (dtype) {
            case F32 -> List.of(0x7FC00000, 0xFFC00000, 0x7F800000, 0xFF800000);
            case F16 -> List.of(0x7E00, 0xFE00, 0x7C00, 0xFC00);
            case BF16 -> List.of(0x7FC0, 0xFFC0, 0x7F80, 0xFF80);
            case FP8_E4M3 -> List.of(0x7F, 0xFF);
            case FP8_E5M2 -> List.of(0x7E, 0xFE, 0x7D, 0x7F, 0x7C, 0xFC);
            default -> throw new IllegalArgumentException("no floating codes for " + dtype);
        };
    }

    /**
     * Bits of a stored element.
     *
     * @param dtype a floating-point dtype
     * @return 8, 16 or 32
     */
    public static int width(DType dtype) {
        return switch (dtype) {
            case F32 -> 32;
            case F16, BF16 -> 16;
            case FP8_E4M3, FP8_E5M2 -> 8;
            default -> throw new IllegalArgumentException("no floating width for " + dtype);
        };
    }
}
