package org.attn4j.tensor;

import java.util.Arrays;
import org.attn4j.internal.check.Args;

/**
 * Small helpers for shapes given as {@code long[]}. Stateless and thread-safe.
 */
public final class Shapes {
    private Shapes() {}

    /**
     * The product of the dimensions.
     *
     * @param shape the dimensions
     * @return the number of elements
     * @throws org.attn4j.error.InvalidArgumentException for a negative dimension or an overflow
     */
    public static long elementCount(long[] shape) {
        return Args.elementCount(shape, "shape");
    }

    /**
     * Row-major strides of {@code shape}, in elements.
     *
     * @param shape the dimensions
     * @return one stride per dimension, the last 1
     */
    public static long[] contiguousStrides(long[] shape) {
        long[] st = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = acc;
            acc = Args.multiply(acc, Math.max(1, shape[i]), "shape");
        }
        return st;
    }

    /**
     * The shape as text.
     *
     * @param shape the dimensions
     * @return such as {@code [2, 32, 128]}
     */
    public static String toString(long[] shape) {
        return Arrays.toString(shape);
    }
}
