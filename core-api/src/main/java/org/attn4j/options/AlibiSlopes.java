package org.attn4j.options;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;

/**
 * ALiBi slopes (spec §3): one per query head. Query head {@code h}'s logit for key {@code j}
 * gains {@code slope_h * (j - pq)} after the scale and before the soft cap, with {@code pq} the
 * query's position (bottom-right aligned). Keys before the query are pushed down by their
 * distance for a positive slope.
 *
 * <p>Any finite slope is taken (0 turns the bias off for that head; a negative slope favours
 * distant keys); NaN and infinities are rejected here, when the slopes are made.
 * {@link #standard(int)} gives the slopes BLOOM and MPT use.
 *
 * <p>Immutable (the array is copied in and out) and thread-safe.
 */
public final class AlibiSlopes {
    private final float[] slopes;

    private AlibiSlopes(float[] slopes) {
        this.slopes = slopes;
    }

    /**
     * Slopes given per query head.
     *
     * @param slopes {@code slope_h} for {@code h < Hq}; copied
     * @return the slopes
     * @throws InvalidArgumentException when the array is null or empty, or a slope is NaN or infinite
     */
    public static AlibiSlopes of(float... slopes) {
        Args.notNull(slopes, "alibiSlopes");
        if (slopes.length == 0) {
            throw InvalidArgumentException.expected("alibiSlopes.length", ">= 1 (one slope per query head)", 0);
        }
        float[] copy = slopes.clone();
        for (int h = 0; h < copy.length; h++) {
            if (!Float.isFinite(copy[h])) {
                throw InvalidArgumentException.expected("alibiSlopes[" + h + "]", "a finite slope (NaN and infinities "
                        + "are rejected)", copy[h]);
            }
        }
        return new AlibiSlopes(copy);
    }

    /**
     * The standard geometric slopes of the ALiBi paper, as BLOOM and MPT build them. With
     * {@code p} the largest power of two {@code <= numHeads}: head {@code h < p} gets
     * {@code 2^(-8 (h + 1) / p)}; the remaining heads {@code h = p + k} get the odd terms of the
     * sequence for {@code 2p} heads, {@code 2^(-8 (2k + 1) / (2p))}. Each is computed in double
     * and rounded once to F32 (frameworks that raise a rounded base to a power may differ in the
     * last bit).
     *
     * @param numHeads {@code Hq}, at least 1
     * @return one slope per query head, from {@code 2^(-8/p)} down
     * @throws InvalidArgumentException when {@code numHeads < 1}
     */
    public static AlibiSlopes standard(int numHeads) {
        if (numHeads < 1) {
            throw InvalidArgumentException.expected("numHeads", ">= 1", numHeads);
        }
        int p = Integer.highestOneBit(numHeads);
        float[] s = new float[numHeads];
        for (int h = 0; h < numHeads; h++) {
            double exponent = h < p ? -8.0 * (h + 1) / p : -8.0 * (2 * (h - p) + 1) / (2.0 * p);
            s[h] = (float) Math.pow(2, exponent);
        }
        return new AlibiSlopes(s);
    }

    /**
     * The number of query heads these slopes are for.
     *
     * @return the length of the slopes
     */
    public int numHeads() {
        return slopes.length;
    }

    /**
     * One query head's slope.
     *
     * @param head a query head, below {@link #numHeads()}
     * @return {@code slope_head}
     */
    public float slope(int head) {
        return slopes[head];
    }

    /**
     * Every head's slope.
     *
     * @return a copy, one slope per query head
     */
    public float[] slopes() {
        return slopes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AlibiSlopes s && Arrays.equals(slopes, s.slopes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(slopes);
    }

    @Override
    public String toString() {
        return "AlibiSlopes" + Arrays.toString(slopes);
    }
}
