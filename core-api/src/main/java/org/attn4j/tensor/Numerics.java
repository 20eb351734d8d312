package org.attn4j.tensor;

/**
 * Conversions between {@code float} and the stored formats of {@link DType}. Every store rounds
 * to nearest, ties to even; FP8 stores saturate to the finite range and keep NaN. Stateless and
 * thread-safe.
 */
public final class Numerics {
    private static final float[] E4M3_TO_FLOAT = fp8Table(4, 3, 7, false);
    private static final float[] E5M2_TO_FLOAT = fp8Table(5, 2, 15, true);
    /** Largest finite e4m3fn value. */
    public static final float E4M3_MAX = 448f;
    /** Largest finite e5m2 value. */
    public static final float E5M2_MAX = 57344f;

    private Numerics() {}

    /**
     * {@code x} rounded to binary16, nearest even.
     *
     * @param x the value
     * @return the stored bits
     */
    public static short floatToF16(float x) {
        return Float.floatToFloat16(x);
    }

    /**
     * The float a binary16 bit pattern stands for (exact).
     *
     * @param bits the stored bits
     * @return the value
     */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /**
     * {@code x} rounded to bfloat16, nearest even (NaN stays NaN).
     *
     * @param x the value
     * @return the stored bits
     */
    public static short floatToBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        if (Float.isNaN(x)) {
            return (short) (((bits >>> 16) & 0x8000) | 0x7FC0);
        }
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    /**
     * The float a bfloat16 bit pattern stands for (exact).
     *
     * @param bits the stored bits
     * @return the value
     */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * {@code x} rounded to e4m3fn, nearest even, saturating at 448 (NaN stays NaN).
     *
     * @param x the value
     * @return the stored bits
     */
    public static byte floatToE4m3(float x) {
        return encodeFp8(x, 3, 7, E4M3_MAX, (byte) 0x7F);
    }

    /**
     * The float an e4m3fn bit pattern stands for (exact).
     *
     * @param bits the stored bits
     * @return the value
     */
    public static float e4m3ToFloat(byte bits) {
        return E4M3_TO_FLOAT[bits & 0xFF];
    }

    /**
     * {@code x} rounded to e5m2, nearest even, saturating at 57344 (NaN stays NaN).
     *
     * @param x the value
     * @return the stored bits
     */
    public static byte floatToE5m2(float x) {
        return encodeFp8(x, 2, 15, E5M2_MAX, (byte) 0x7E);
    }

    /**
     * The float an e5m2 bit pattern stands for (exact).
     *
     * @param bits the stored bits
     * @return the value
     */
    public static float e5m2ToFloat(byte bits) {
        return E5M2_TO_FLOAT[bits & 0xFF];
    }

    /**
     * Rounds {@code x} to the nearest value {@code dtype} can hold, as a store then load would.
     *
     * @param dtype a floating-point dtype
     * @param x     the value
     * @return the rounded value
     */
    public static float roundTo(DType dtype, float x) {
        return switch (dtype) {
            case F32 -> x;
            case F16 -> f16ToFloat(floatToF16(x));
            case BF16 -> bf16ToFloat(floatToBf16(x));
            case FP8_E4M3 -> e4m3ToFloat(floatToE4m3(x));
            case FP8_E5M2 -> e5m2ToFloat(floatToE5m2(x));
            case I32 -> (float) Math.rint(x);
        };
    }

    /**
     * Stored bit pattern of {@code x} in {@code dtype}, in the low bits of the result.
     *
     * @param dtype a floating-point dtype
     * @param x     the value
     * @return the bits, zero-extended
     */
    public static int encode(DType dtype, float x) {
        return switch (dtype) {
            case F32 -> Float.floatToRawIntBits(x);
            case F16 -> floatToF16(x) & 0xFFFF;
            case BF16 -> floatToBf16(x) & 0xFFFF;
            case FP8_E4M3 -> floatToE4m3(x) & 0xFF;
            case FP8_E5M2 -> floatToE5m2(x) & 0xFF;
            case I32 -> (int) Math.rint(x);
        };
    }

    /**
     * The float that the stored bit pattern {@code bits} of {@code dtype} stands for.
     *
     * @param dtype a floating-point dtype
     * @param bits  the bits, in the low bits
     * @return the value
     */
    public static float decode(DType dtype, int bits) {
        return switch (dtype) {
            case F32 -> Float.intBitsToFloat(bits);
            case F16 -> f16ToFloat((short) bits);
            case BF16 -> bf16ToFloat((short) bits);
            case FP8_E4M3 -> e4m3ToFloat((byte) bits);
            case FP8_E5M2 -> e5m2ToFloat((byte) bits);
            case I32 -> bits;
        };
    }

    /**
     * FlashInfer reports LSE in base 2; attn4j in natural log.
     *
     * @param lse a log-sum-exp in natural log
     * @return the same in base 2
     */
    public static float lseNaturalToBase2(float lse) {
        return (float) (lse * LOG2_E);
    }

    /**
     * The inverse of {@link #lseNaturalToBase2}.
     *
     * @param lse2 a log-sum-exp in base 2
     * @return the same in natural log
     */
    public static float lseBase2ToNatural(float lse2) {
        return (float) (lse2 / LOG2_E);
    }

    private static final double LOG2_E = 1.4426950408889634;

    private static byte encodeFp8(float x, int mantissaBits, int bias, float maxFinite, byte nanCode) {
        int sign = (Float.floatToRawIntBits(x) >>> 31) << 7;
        if (Float.isNaN(x)) {
            return (byte) (sign | nanCode);
        }
        double a = Math.abs((double) x);
        int maxCode = maxFiniteCode(mantissaBits, maxFinite, bias);
        if (a >= maxFinite) {
            return (byte) (sign | maxCode);
        }
        if (a == 0) {
            return (byte) sign;
        }
        int minNormalExp = 1 - bias;
        int e = Math.max(Math.getExponent(a), minNormalExp);
        double quantum = Math.scalb(1.0, e - mantissaBits);
        double m = Math.rint(a / quantum);
        if (m >= (1 << (mantissaBits + 1))) {
            e++;
            m /= 2;
        }
        if (m * Math.scalb(1.0, e - mantissaBits) > maxFinite) {
            return (byte) (sign | maxCode);
        }
        int implicit = 1 << mantissaBits;
        if (m < implicit) {
            return (byte) (sign | (int) m); // subnormal (or zero after rounding)
        }
        int expField = e + bias;
        return (byte) (sign | (expField << mantissaBits) | ((int) m - implicit));
    }

    private static int maxFiniteCode(int mantissaBits, float maxFinite, int bias) {
        int e = Math.getExponent(maxFinite);
        int m = (int) (maxFinite / Math.scalb(1.0f, e - mantissaBits)) - (1 << mantissaBits);
        return ((e + bias) << mantissaBits) | m;
    }

    private static float[] fp8Table(int expBits, int mantissaBits, int bias, boolean hasInfinity) {
        float[] table = new float[256];
        int expMax = (1 << expBits) - 1;
        for (int code = 0; code < 256; code++) {
            int sign = code >>> 7;
            int exp = (code >>> mantissaBits) & expMax;
            int man = code & ((1 << mantissaBits) - 1);
            double v;
            if (exp == expMax && hasInfinity) {
                v = man == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
            } else if (exp == expMax && man == (1 << mantissaBits) - 1) {
                v = Double.NaN; // e4m3fn: only S.1111.111 is NaN
            } else if (exp == 0) {
                v = Math.scalb((double) man, 1 - bias - mantissaBits);
            } else {
                v = Math.scalb((double) (man | (1 << mantissaBits)), exp - bias - mantissaBits);
            }
            table[code] = (float) (sign == 1 ? -v : v);
        }
        return table;
    }
}
