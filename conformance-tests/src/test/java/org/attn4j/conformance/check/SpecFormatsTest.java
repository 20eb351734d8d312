package org.attn4j.conformance.check;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The suite's own element formats against the OCP FP8 tables, IEEE binary16 and hand-rounded values. */
class SpecFormatsTest {
    private static final DType E4M3 = DType.FP8_E4M3;
    private static final DType E5M2 = DType.FP8_E5M2;

    /** A NaN with its sign bit set (negating NaN in Java need not set it). */
    private static final double NEGATIVE_NAN = Double.longBitsToDouble(0xFFF8000000000000L);

    private static void value(DType t, int code, double expected) {
        float v = SpecFormats.value(t, code);
        if (Double.isNaN(expected)) {
            assertTrue(Float.isNaN(v), t + " 0x" + Integer.toHexString(code) + " = " + v + ", expected NaN");
        } else {
            assertEquals(Double.doubleToRawLongBits(expected), Double.doubleToRawLongBits(v),
                    t + " 0x" + Integer.toHexString(code) + " = " + v + ", expected " + expected);
        }
    }

    @Test
    void e4m3CodesAsTheOcpTableSays() {
        value(E4M3, 0x00, 0.0);
        value(E4M3, 0x80, -0.0);
        value(E4M3, 0x01, Math.scalb(1.0, -9)); // smallest subnormal
        value(E4M3, 0x07, 7 * Math.scalb(1.0, -9));
        value(E4M3, 0x08, Math.scalb(1.0, -6)); // smallest normal
        value(E4M3, 0x38, 1.0);
        value(E4M3, 0x3C, 1.5);
        value(E4M3, 0x78, 256.0); // the top exponent holds finite values in e4m3fn
        value(E4M3, 0x7E, 448.0);
        value(E4M3, 0xFE, -448.0);
        value(E4M3, 0x7F, Double.NaN);
        value(E4M3, 0xFF, Double.NaN);
        int nan = 0;
        for (int c = 0; c < 256; c++) {
            nan += Float.isNaN(SpecFormats.value(E4M3, c)) ? 1 : 0;
        }
        assertEquals(2, nan, "e4m3fn has exactly two NaN codes and no infinity");
        for (int c = 1; c < 0x7F; c++) {
            assertTrue(SpecFormats.value(E4M3, c) > SpecFormats.value(E4M3, c - 1), "increasing at " + c);
            assertEquals(-SpecFormats.value(E4M3, c), SpecFormats.value(E4M3, c | 0x80));
        }
    }

    @Test
    void e5m2IsTheUpperByteOfBinary16() {
        value(E5M2, 0x01, Math.scalb(1.0, -16));
        value(E5M2, 0x04, Math.scalb(1.0, -14));
        value(E5M2, 0x3C, 1.0);
        value(E5M2, 0x7B, 57344.0);
        value(E5M2, 0x7C, Double.POSITIVE_INFINITY);
        value(E5M2, 0xFC, Double.NEGATIVE_INFINITY);
        value(E5M2, 0x7D, Double.NaN);
        value(E5M2, 0xFF, Double.NaN);
        for (int c = 0; c < 256; c++) {
            float half = Float.float16ToFloat((short) (c << 8)); // the JDK's binary16, independent of both
            float v = SpecFormats.value(E5M2, c);
            assertTrue(Float.isNaN(half) ? Float.isNaN(v) : Float.floatToRawIntBits(half) == Float.floatToRawIntBits(v),
                    "e5m2 0x" + Integer.toHexString(c) + ": " + v + " vs binary16 " + half);
        }
    }

    @Test
    void fp8StoresRoundToNearestEvenAndSaturate() {
        assertEquals(0x38, SpecFormats.encode(E4M3, 1.0625)); // tie between 1 and 1.125: even mantissa
        assertEquals(0x3A, SpecFormats.encode(E4M3, 1.1875)); // tie between 1.125 and 1.25
        assertEquals(0x00, SpecFormats.encode(E4M3, Math.scalb(0.5, -9))); // subnormal tie to zero
        assertEquals(0x02, SpecFormats.encode(E4M3, Math.scalb(1.5, -9)));
        assertEquals(0x80, SpecFormats.encode(E4M3, -Math.scalb(0.25, -9))); // -0 keeps its sign
        assertEquals(0x7E, SpecFormats.encode(E4M3, 449));
        assertEquals(0x7E, SpecFormats.encode(E4M3, 464)); // past the range: saturates, never NaN
        assertEquals(0x7E, SpecFormats.encode(E4M3, 1e9));
        assertEquals(0x7E, SpecFormats.encode(E4M3, Double.POSITIVE_INFINITY));
        assertEquals(0xFE, SpecFormats.encode(E4M3, Double.NEGATIVE_INFINITY));
        assertEquals(0x7F, SpecFormats.encode(E4M3, Double.NaN));
        assertEquals(0xFF, SpecFormats.encode(E4M3, NEGATIVE_NAN));
        assertEquals(0x7B, SpecFormats.encode(E5M2, 61440)); // the midpoint to 2^16: saturates, never Inf
        assertEquals(0x7B, SpecFormats.encode(E5M2, Double.POSITIVE_INFINITY));
        assertEquals(0xFB, SpecFormats.encode(E5M2, -1e30));
        assertEquals(0x7E, SpecFormats.encode(E5M2, Double.NaN));
        assertEquals(0xFE, SpecFormats.encode(E5M2, Float.intBitsToFloat(0xFFC00001)));
        for (DType t : new DType[] {E4M3, E5M2}) {
            for (int c = 0; c < 256; c++) {
                float v = SpecFormats.value(t, c);
                if (Float.isFinite(v)) {
                    assertEquals(c, SpecFormats.encode(t, v), t + " round trip of 0x" + Integer.toHexString(c));
                }
            }
        }
    }

    @Test
    void halfAndBfloatStoresMatchIeeeRounding() {
        SplittableRandom rng = new SplittableRandom(11);
        for (int i = 0; i < 200_000; i++) {
            float x = Float.intBitsToFloat(rng.nextInt());
            if (Float.isNaN(x)) {
                continue;
            }
            // the format description against the JDK's binary16, and the float shortcuts against it
            assertEquals(Float.floatToFloat16(x) & 0xFFFF, SpecFormats.encodeByFormat(DType.F16, x), "F16 of " + x);
            assertEquals(SpecFormats.encodeByFormat(DType.F16, x), SpecFormats.encode(DType.F16, x), "F16 of " + x);
            assertEquals(SpecFormats.encodeByFormat(DType.BF16, x), SpecFormats.encode(DType.BF16, x), "BF16 of " + x);
        }
        for (int bits = 0; bits < 0x10000; bits++) {
            float a = SpecFormats.valueByFormat(DType.F16, bits);
            float b = SpecFormats.value(DType.F16, bits);
            assertTrue(Float.isNaN(a) ? Float.isNaN(b) : Float.floatToRawIntBits(a) == Float.floatToRawIntBits(b),
                    "F16 0x" + Integer.toHexString(bits));
            a = SpecFormats.valueByFormat(DType.BF16, bits);
            b = SpecFormats.value(DType.BF16, bits);
            assertTrue(Float.isNaN(a) ? Float.isNaN(b) : Float.floatToRawIntBits(a) == Float.floatToRawIntBits(b),
                    "BF16 0x" + Integer.toHexString(bits));
        }
        assertEquals(0x3F80, SpecFormats.encode(DType.BF16, 1.0 + Math.scalb(1.0, -8))); // tie to even
        assertEquals(0x3F82, SpecFormats.encode(DType.BF16, 1.0 + 3 * Math.scalb(1.0, -8)));
        assertEquals(0x7F7F, SpecFormats.encode(DType.BF16, 3.3895e38));
        assertEquals(0x7F80, SpecFormats.encode(DType.BF16, 3.40e38)); // past max + half an ulp: infinity
        assertEquals(0x7C00, SpecFormats.encode(DType.F16, 65520)); // F16 overflows to infinity
        assertEquals(0x7BFF, SpecFormats.encode(DType.F16, 65519));
        assertEquals(0xFFC0, SpecFormats.encode(DType.BF16, NEGATIVE_NAN));
        // one rounding from double: a value just above an F16 tie goes up, although its float is the tie
        double aboveTie = 1.0 + Math.scalb(1.0, -11) + Math.scalb(1.0, -40);
        assertEquals(0x3C01, SpecFormats.encode(DType.F16, aboveTie));
    }
}
