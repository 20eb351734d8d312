package org.attn4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Stores round to nearest even and FP8 saturates (spec §1); the expected codes are worked out by hand. */
class NumericsTest {

    private static int f16(float x) {
        return Numerics.floatToF16(x) & 0xFFFF;
    }

    private static int bf16(float x) {
        return Numerics.floatToBf16(x) & 0xFFFF;
    }

    private static int e4m3(float x) {
        return Numerics.floatToE4m3(x) & 0xFF;
    }

    private static int e5m2(float x) {
        return Numerics.floatToE5m2(x) & 0xFF;
    }

    @Test
    void f16TiesGoToTheEvenMantissa() {
        // The F16 ulp at 1 is 2^-10. 1 + 2^-11 is midway between 1 (even) and 1 + 2^-10 (odd).
        assertEquals(0x3C00, f16(1 + 0x1p-11f));
        // 1 + 3 * 2^-11 is midway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
        assertEquals(0x3C02, f16(1 + 3 * 0x1p-11f));
        // Just past a midpoint rounds up.
        assertEquals(0x3C01, f16(1 + 0x1p-11f + 0x1p-20f));
    }

    @Test
    void f16OverflowAndSubnormals() {
        assertEquals(0x7BFF, f16(65504f)); // largest finite
        assertEquals(0x7BFF, f16(65519f)); // below the midpoint 65520
        assertEquals(0x7C00, f16(65520f)); // the midpoint rounds to even: infinity
        assertEquals(0x0001, f16(0x1p-24f)); // smallest subnormal
        assertEquals(0x0000, f16(0x1p-25f)); // midway between 0 and 2^-24: even, 0
        assertEquals(0x0002, f16(3 * 0x1p-25f)); // midway between 2^-24 and 2^-23: even, 2^-23
        assertEquals(0x8000, f16(-0f));
    }

    @Test
    void bf16TiesGoToTheEvenMantissaAndNanStaysQuiet() {
        // The BF16 ulp at 1 is 2^-7.
        assertEquals(0x3F80, bf16(1 + 0x1p-8f));
        assertEquals(0x3F82, bf16(1 + 3 * 0x1p-8f));
        assertEquals(0x3F81, bf16(1 + 0x1p-8f + 0x1p-20f));
        assertEquals(0x7FC0, bf16(Float.NaN));
        assertEquals(0xFFC0, bf16(Float.intBitsToFloat(0xFF800001))); // negative signalling NaN stays NaN
        assertEquals(0x7F80, bf16(Float.MAX_VALUE)); // rounds past the largest BF16 to infinity
        assertEquals(0x0001, bf16(Float.intBitsToFloat(0x00010000))); // a subnormal kept exactly
        assertEquals(1f, Numerics.bf16ToFloat((short) 0x3F80));
    }

    @Test
    void e4m3SaturatesAt448AndHasOneNanCode() {
        assertEquals(0x7E, e4m3(448f));
        assertEquals(0x7E, e4m3(464f)); // midway to the (absent) 480: saturates
        assertEquals(0x7E, e4m3(1e6f));
        assertEquals(0x7E, e4m3(Float.POSITIVE_INFINITY));
        assertEquals(0xFE, e4m3(Float.NEGATIVE_INFINITY));
        assertEquals(0x7F, e4m3(Float.NaN));
        assertEquals(448f, Numerics.e4m3ToFloat((byte) 0x7E));
        assertTrue(Float.isNaN(Numerics.e4m3ToFloat((byte) 0x7F)));
        assertTrue(Float.isNaN(Numerics.e4m3ToFloat((byte) 0xFF)));
        assertEquals(Numerics.E4M3_MAX, 448f);
    }

    @Test
    void e4m3NormalsAndSubnormals() {
        assertEquals(0x38, e4m3(1f)); // 0.0111.000
        assertEquals(0x4C, e4m3(6f)); // 1.5 * 2^2: 0.1001.100
        assertEquals(0x38, e4m3(1.0625f)); // midway between 1 and 1.125: even
        assertEquals(0x3A, e4m3(1.1875f)); // midway between 1.125 and 1.25: even, 1.25
        assertEquals(0x01, e4m3(0x1p-9f)); // smallest subnormal
        assertEquals(0x00, e4m3(0x1p-10f)); // midway between 0 and 2^-9: even, 0
        assertEquals(0x02, e4m3(3 * 0x1p-10f)); // midway between 2^-9 and 2^-8: even, 2^-8
        assertEquals(0x07, e4m3(7 * 0x1p-9f)); // largest subnormal
        assertEquals(0x08, e4m3(0x1p-6f)); // smallest normal
        assertEquals(0x08, e4m3(15 * 0x1p-10f)); // midway between 7 * 2^-9 (odd) and 2^-6 (even)
        assertEquals(0x80, e4m3(-0f));
        assertEquals(7 * 0x1p-9f, Numerics.e4m3ToFloat((byte) 0x07));
    }

    @Test
    void e5m2SaturatesAndKeepsNan() {
        assertEquals(0x7B, e5m2(57344f)); // largest finite, 1.75 * 2^15
        assertEquals(0x7B, e5m2(Float.POSITIVE_INFINITY));
        assertEquals(0xFB, e5m2(-1e9f));
        assertEquals(0x7E, e5m2(Float.NaN));
        assertEquals(0x3C, e5m2(1f));
        assertEquals(0x3C, e5m2(1.125f)); // midway between 1 and 1.25: even
        assertEquals(0x3E, e5m2(1.375f)); // midway between 1.25 and 1.5: even, 1.5
        assertEquals(0x01, e5m2(0x1p-16f)); // smallest subnormal
        assertEquals(0x00, e5m2(0x1p-17f));
        assertEquals(Float.POSITIVE_INFINITY, Numerics.e5m2ToFloat((byte) 0x7C));
        assertEquals(Float.NEGATIVE_INFINITY, Numerics.e5m2ToFloat((byte) 0xFC));
        assertTrue(Float.isNaN(Numerics.e5m2ToFloat((byte) 0x7D)));
    }

    @Test
    void everyFiniteFp8CodeSurvivesADecodeEncodeRoundTrip() {
        int nanE4m3 = 0;
        int nonFiniteE5m2 = 0;
        for (int code = 0; code < 256; code++) {
            float x = Numerics.e4m3ToFloat((byte) code);
            if (Float.isNaN(x)) {
                nanE4m3++;
                assertEquals(code | 0x7F, code, "only S.1111.111 is NaN in e4m3");
            } else {
                assertEquals(code, e4m3(x), "e4m3 code " + code);
            }
            float y = Numerics.e5m2ToFloat((byte) code);
            if (Float.isNaN(y) || Float.isInfinite(y)) {
                nonFiniteE5m2++;
                assertEquals(0x7C, code & 0x7C, "e5m2 exponent all ones");
            } else {
                assertEquals(code, e5m2(y), "e5m2 code " + code);
            }
        }
        assertEquals(2, nanE4m3);
        assertEquals(8, nonFiniteE5m2);
    }

    @Test
    void everyNonNan16BitCodeSurvivesARoundTrip() {
        for (int code = 0; code < 0x10000; code++) {
            float h = Numerics.f16ToFloat((short) code);
            if (!Float.isNaN(h)) {
                assertEquals(code, f16(h), "f16 code " + code);
            }
            float b = Numerics.bf16ToFloat((short) code);
            if (!Float.isNaN(b)) {
                assertEquals(code, bf16(b), "bf16 code " + code);
            }
        }
    }

    @Test
    void encodeDecodeAndRoundToAgreeWithTheTypedConversions() {
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16, DType.FP8_E4M3, DType.FP8_E5M2}) {
            for (float x : new float[] {0.3f, -7.25f, 1000f, 1e-5f}) {
                int bits = Numerics.encode(t, x);
                assertEquals(Numerics.roundTo(t, x), Numerics.decode(t, bits), t + " " + x);
            }
        }
        assertEquals(7, Numerics.encode(DType.I32, 6.5f + 0.5f));
    }

    @Test
    void lseConvertsBetweenNaturalLogAndBase2() {
        assertEquals(1.4426950408889634, Numerics.lseNaturalToBase2(1f), 1e-6);
        assertEquals(1f, Numerics.lseBase2ToNatural(Numerics.lseNaturalToBase2(1f)), 1e-6);
        assertEquals(Float.NEGATIVE_INFINITY, Numerics.lseNaturalToBase2(Float.NEGATIVE_INFINITY));
    }
}
