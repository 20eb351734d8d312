package org.attn4j.reference;

import org.attn4j.options.RopeOptions;

/**
 * Rotary embedding in double, over a head vector held in an array: the first {@code R} dims in
 * {@code R/2} pairs (spec §3), the dims from {@code R} on left as they are.
 */
final class ReferenceRope {
    private final RopeOptions rope;
    private final int headDim;
    private final double[] frequencies;

    ReferenceRope(RopeOptions rope, int headDim) {
        this.rope = rope;
        this.headDim = headDim;
        this.frequencies = rope.frequencies(headDim);
    }

    /** Rotates {@code x[offset .. offset + R)} to position {@code position}, in place. */
    void rotate(double[] x, int offset, long position) {
        for (int d = 0; d < frequencies.length; d++) {
            double angle = position * frequencies[d];
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            int i1 = offset + rope.first(d, headDim);
            int i2 = offset + rope.second(d, headDim);
            double x1 = x[i1];
            double x2 = x[i2];
            x[i1] = x1 * cos - x2 * sin;
            x[i2] = x2 * cos + x1 * sin;
        }
    }
}
