package org.attn4j.bench;

import java.util.Arrays;

/**
 * Median and spread of repeated timings.
 *
 * <p>Immutable and thread-safe.
 *
 * @param median the median sample
 * @param p10    the 10th percentile
 * @param p90    the 90th percentile
 * @param count  how many samples
 */
public record Stats(double median, double p10, double p90, int count) {
    /**
     * The statistics of {@code samples} (left unchanged).
     *
     * @param samples the timings
     * @return their quantiles, interpolated linearly between order statistics; NaN for no samples
     */
    public static Stats of(double[] samples) {
        double[] s = samples.clone();
        Arrays.sort(s);
        return new Stats(quantile(s, 0.5), quantile(s, 0.1), quantile(s, 0.9), s.length);
    }

    /** Linear interpolation between order statistics. */
    static double quantile(double[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }
}
