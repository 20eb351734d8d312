package org.attn4j.tensor;

import java.util.Arrays;

/** Small helpers for shapes given as {@code long[]}. */
public final class Shapes {
    private Shapes() {}

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has a negative dimension");
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public static String toString(long[] shape) {
        return Arrays.toString(shape);
    }
}
