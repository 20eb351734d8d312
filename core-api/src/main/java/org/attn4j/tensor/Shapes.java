package org.attn4j.tensor;

import java.util.Arrays;
import org.attn4j.internal.check.Args;

/** Small helpers for shapes given as {@code long[]}. */
public final class Shapes {
    private Shapes() {}

    /**
     * The product of the dimensions.
     *
     * @throws org.attn4j.error.InvalidArgumentException for a negative dimension or an overflow
     */
    public static long elementCount(long[] shape) {
        return Args.elementCount(shape, "shape");
    }

    /** Row-major strides of {@code shape}, in elements. */
    public static long[] contiguousStrides(long[] shape) {
        long[] st = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = acc;
            acc = Args.multiply(acc, Math.max(1, shape[i]), "shape");
        }
        return st;
    }

    public static String toString(long[] shape) {
        return Arrays.toString(shape);
    }
}
