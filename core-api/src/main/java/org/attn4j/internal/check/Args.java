package org.attn4j.internal.check;

import org.attn4j.error.InvalidArgumentException;

/**
 * Leaf argument checks that value types use on construction. They know nothing of backends or
 * sessions (that validation is {@code org.attn4j.internal.Checks}), so every package may use
 * them without an import cycle. Arithmetic on sizes, offsets and strides goes through the exact
 * helpers here: a value that overflows is rejected by name instead of wrapping.
 */
public final class Args {
    private Args() {}

    /** An argument that must be given: null is rejected by name, not by a NullPointerException later. */
    public static <T> T notNull(T value, String name) {
        if (value == null) {
            throw new InvalidArgumentException(name, "is null");
        }
        return value;
    }

    /** {@code value} within {@code [lo, hi]}. */
    public static long inRange(long value, long lo, long hi, String name) {
        if (value < lo || value > hi) {
            throw InvalidArgumentException.expected(name, "a value in [" + lo + ", " + hi + "]", value);
        }
        return value;
    }

    public static long nonNegative(long value, String name) {
        if (value < 0) {
            throw InvalidArgumentException.expected(name, ">= 0", value);
        }
        return value;
    }

    /** {@code a * b}, rejected by name when it overflows a long. */
    public static long multiply(long a, long b, String name) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        if ((hi == 0 && lo >= 0) || (hi == -1 && lo < 0)) {
            return lo;
        }
        throw new InvalidArgumentException(name, a + " * " + b + " overflows a 64-bit size");
    }

    /** {@code a + b}, rejected by name when it overflows a long. */
    public static long add(long a, long b, String name) {
        long r = a + b;
        if (((a ^ r) & (b ^ r)) < 0) {
            throw new InvalidArgumentException(name, a + " + " + b + " overflows a 64-bit size");
        }
        return r;
    }

    /** A long that must fit an int (an index or count the kernels hold in 32 bits). */
    public static int toInt(long value, String name) {
        if (value != (int) value) {
            throw InvalidArgumentException.expected(name, "a value in [" + Integer.MIN_VALUE + ", "
                    + Integer.MAX_VALUE + "]", value);
        }
        return (int) value;
    }

    /** The product of a shape's dimensions, each checked to be >= 0, rejected by name on overflow. */
    public static long elementCount(long[] shape, String name) {
        notNull(shape, name);
        long n = 1;
        for (int i = 0; i < shape.length; i++) {
            nonNegative(shape[i], name + "[" + i + "]");
            n = multiply(n, shape[i], name);
        }
        return n;
    }
}
