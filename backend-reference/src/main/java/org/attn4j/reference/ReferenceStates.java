package org.attn4j.reference;

import java.util.Arrays;
import org.attn4j.tensor.HostTensor;

/** Attention-state merges of spec §4, in double, each result rounded once. */
final class ReferenceStates {
    private ReferenceStates() {}

    /**
     * {@code (o, s) = merge((oA, sA), (oB, sB))} row by row, skipping rows whose mask is false.
     * Each (row, head) is read completely before it is written, so {@code o} may be {@code oA}.
     */
    static void merge(HostTensor oA, HostTensor sA, HostTensor oB, HostTensor sB, HostTensor o, HostTensor s,
                      boolean[] rowMask) {
        long rows = o.dim(0);
        int heads = Math.toIntExact(o.dim(1));
        int headDim = Math.toIntExact(o.dim(2));
        double[] a = new double[headDim];
        double[] b = new double[headDim];
        for (long r = 0; r < rows; r++) {
            if (rowMask != null && !rowMask[(int) r]) {
                continue;
            }
            for (int h = 0; h < heads; h++) {
                long state = r * heads + h;
                long base = state * headDim;
                double lseA = sA.getFloat(state);
                double lseB = sB.getFloat(state);
                for (int d = 0; d < headDim; d++) {
                    a[d] = oA.getFloat(base + d);
                    b[d] = oB.getFloat(base + d);
                }
                double m = Math.max(lseA, lseB);
                if (m == Double.NEGATIVE_INFINITY) {
                    writeEmpty(o, s, state, headDim);
                    continue;
                }
                double wA = Math.exp(lseA - m);
                double wB = Math.exp(lseB - m);
                double sum = wA + wB;
                for (int d = 0; d < headDim; d++) {
                    // A zero weight contributes nothing, whatever its o holds.
                    double va = wA == 0 ? 0 : wA * a[d];
                    double vb = wB == 0 ? 0 : wB * b[d];
                    ReferenceRounding.store(o, base + d, (va + vb) / sum);
                }
                s.setFloat(state, (float) (m + Math.log(sum)));
            }
        }
    }

    /** v {@code [rows, n, Hq, D]}, s {@code [rows, n, Hq]} to o {@code [rows, Hq, D]}, sOut {@code [rows, Hq]}. */
    static void mergeMany(HostTensor v, HostTensor s, HostTensor o, HostTensor sOut) {
        long rows = v.dim(0);
        int n = Math.toIntExact(v.dim(1));
        int heads = Math.toIntExact(v.dim(2));
        int headDim = Math.toIntExact(v.dim(3));
        double[] lse = new double[n];
        double[] acc = new double[headDim];
        for (long r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                double m = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < n; k++) {
                    lse[k] = s.getFloat((r * n + k) * heads + h);
                    m = Math.max(m, lse[k]);
                }
                long state = r * heads + h;
                if (m == Double.NEGATIVE_INFINITY) {
                    writeEmpty(o, sOut, state, headDim);
                    continue;
                }
                Arrays.fill(acc, 0);
                double sum = 0;
                for (int k = 0; k < n; k++) {
                    double w = Math.exp(lse[k] - m);
                    if (w == 0) {
                        continue; // an empty state (-inf) holds zeros; skipping it also keeps garbage out
                    }
                    sum += w;
                    long base = ((r * n + k) * heads + h) * headDim;
                    for (int d = 0; d < headDim; d++) {
                        acc[d] += w * v.getFloat(base + d);
                    }
                }
                long out = state * headDim;
                for (int d = 0; d < headDim; d++) {
                    ReferenceRounding.store(o, out + d, acc[d] / sum);
                }
                sOut.setFloat(state, (float) (m + Math.log(sum)));
            }
        }
    }

    private static void writeEmpty(HostTensor o, HostTensor s, long state, int headDim) {
        long base = state * headDim;
        for (int d = 0; d < headDim; d++) {
            o.setFloat(base + d, 0f);
        }
        s.setFloat(state, Float.NEGATIVE_INFINITY);
    }
}
