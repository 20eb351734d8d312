package org.attn4j.conformance.check;

import org.attn4j.tensor.DType;

/**
 * Attention results read back to the host: o {@code [rows, Hq, D]} as floats of {@code dtype}
 * and lse {@code [rows, Hq]} (null when not requested).
 *
 * <p>The arrays are not copied: leave them unchanged once an output is made; then it is
 * immutable and thread-safe.
 *
 * @param o       output rows, {@code [rows, Hq, D]} row-major, each value exact in {@code dtype}
 * @param lse     log-sum-exp of each row's logits, natural log, {@code [rows, Hq]}; null when not requested
 * @param dtype   the dtype o was stored in
 * @param rows    query rows
 * @param heads   {@code Hq}
 * @param headDim {@code D}
 */
public record AttentionOutput(float[] o, float[] lse, DType dtype, int rows, int heads, int headDim) {

    /**
     * Rows {@code from .. to)} only.
     *
     * @param from the first row
     * @param to   one past the last row
     * @return a copy of those rows
     */
    public AttentionOutput rows(int from, int to) {
        int w = heads * headDim;
        float[] so = java.util.Arrays.copyOfRange(o, from * w, to * w);
        float[] sl = lse == null ? null : java.util.Arrays.copyOfRange(lse, from * heads, to * heads);
        return new AttentionOutput(so, sl, dtype, to - from, heads, headDim);
    }

    /**
     * Several outputs stacked by rows.
     *
     * @param parts   outputs of {@code heads} and {@code headDim}, in row order
     * @param dtype   the dtype of the result
     * @param heads   {@code Hq}
     * @param headDim {@code D}
     * @param withLse whether to stack lse too; then every part has one
     * @return a new output of all parts' rows
     */
    public static AttentionOutput concat(java.util.List<AttentionOutput> parts, DType dtype, int heads, int headDim,
                                         boolean withLse) {
        int rows = parts.stream().mapToInt(AttentionOutput::rows).sum();
        float[] o = new float[rows * heads * headDim];
        float[] lse = withLse ? new float[rows * heads] : null;
        int r = 0;
        for (AttentionOutput p : parts) {
            System.arraycopy(p.o, 0, o, r * heads * headDim, p.o.length);
            if (withLse) {
                System.arraycopy(p.lse, 0, lse, r * heads, p.lse.length);
            }
            r += p.rows;
        }
        return new AttentionOutput(o, lse, dtype, rows, heads, headDim);
    }

    /**
     * The same output without lse, to compare with one that has none.
     *
     * @return an output sharing {@link #o()}
     */
    public AttentionOutput withoutLse() {
        return new AttentionOutput(o, null, dtype, rows, heads, headDim);
    }
}
