package org.attn4j.reference;

import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/**
 * Stores a {@code double} into any dtype with a single round-to-nearest-even. Going through
 * {@code float} with plain rounding would round twice (and can miss a tie by one ulp of F16,
 * BF16 or FP8); rounding to {@code float} by round-to-odd first keeps the final RNE exact,
 * because {@code float} carries at least two more bits than every narrower format.
 */
final class ReferenceRounding {
    private ReferenceRounding() {}

    /** {@code x} rounded to float with round-to-odd (exact values unchanged). */
    static float toFloatRoundToOdd(double x) {
        float f = (float) x;
        if ((double) f == x || Float.isNaN(f) || Float.isInfinite(f)) {
            return f;
        }
        if ((Float.floatToRawIntBits(f) & 1) != 0) {
            return f;
        }
        // f is the even neighbour of x; the other neighbour is odd.
        return (double) f > x ? Math.nextDown(f) : Math.nextUp(f);
    }

    /** The float that, stored with {@link HostTensor#setFloat}, gives {@code x} rounded once into {@code dtype}. */
    static float storable(DType dtype, double x) {
        return dtype == DType.F32 ? (float) x : toFloatRoundToOdd(x);
    }

    static void store(HostTensor t, long index, double x) {
        t.setFloat(index, storable(t.dtype(), x));
    }
}
