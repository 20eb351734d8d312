package org.attn4j.conformance.check;

import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.tensor.DType;

/**
 * spec §3 and §4 written out directly over a case's logical values, in {@code double}, without
 * pages, strides or plans. It is the second opinion that the reference backend itself is held
 * to, and the oracle wherever the reference is absent.
 *
 * <p>It is written from the spec alone: the default scale {@code 1/sqrt(D)}, the RoPE frequencies,
 * pairings and Llama 3.1 rescaling ({@link SpecRope}) and every rounding and FP8 code
 * ({@link SpecFormats}) are the suite's own, so a mistake in core-api's shared helpers, which every
 * backend calls, shows as a disagreement instead of moving backends and oracle together.
 *
 * <p>Stateless and thread-safe.
 */
public final class SpecOracle {
    private SpecOracle() {}

    /**
     * Attention of every query row of the case; o rounded to q's dtype, lse always computed. The
     * logit is {@code cap(scale * q.k + slope_h * (j - pq))}; a head's sink joins the softmax as a
     * logit whose value is zero. A row with no allowed key has o 0 and lse -inf, or lse the
     * head's sink with sinks.
     *
     * @param data the case's values
     * @return o {@code [totalQ, Hq, Dvo]} and lse {@code [totalQ, Hq]}
     */
    public static AttentionOutput attention(CaseData data) {
        AttentionCase c = data.kase();
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDimQk(); // q and K rows; the logit scale and RoPE are theirs (spec §3)
        int dv = c.headDimVo(); // V and o rows
        int g = hq / hkv;
        double scale = Float.isNaN(c.smScale()) ? 1 / Math.sqrt(d) : c.smScale();
        double softCap = c.softCap();
        SpecRope rope = c.rope().spec(d);
        double[] freq = rope == null ? null : rope.frequencyTable(d);
        float[] sinks = c.sinkLogits();
        float[] slopes = c.alibiSlopeValues();
        float[] o = new float[c.totalQ() * hq * dv];
        float[] lse = new float[c.totalQ() * hq];
        int[] qoIndptr = c.qoIndptr();
        for (int b = 0; b < c.batchSize(); b++) {
            int qoLen = c.qoLen(b);
            int kvLen = c.kvLen(b);
            float[] k = data.k(b);
            float[] v = data.v(b);
            // spec §1: each key's and value's own scale (the scalar, its KV head's or its token's)
            float[] kScales = data.kScales(b);
            float[] vScales = data.vScales(b);
            // keys, dequantised and rotated once per request
            double[][] keys = new double[kvLen * hkv][];
            for (int j = 0; j < kvLen; j++) {
                for (int h = 0; h < hkv; h++) {
                    double[] x = new double[d];
                    for (int i = 0; i < d; i++) {
                        x[i] = (double) k[(j * hkv + h) * d + i] * kScales[j * hkv + h];
                    }
                    keys[j * hkv + h] = rope == null ? x : rope.rotate(x, j, freq);
                }
            }
            for (int i = 0; i < qoLen; i++) {
                int row = qoIndptr[b] + i;
                int pq = i + kvLen - qoLen;
                for (int h = 0; h < hq; h++) {
                    double[] qv = new double[d];
                    for (int t = 0; t < d; t++) {
                        qv[t] = data.q()[(row * hq + h) * d + t];
                    }
                    if (rope != null) {
                        qv = rope.rotate(qv, pq, freq);
                    }
                    double[] logits = new double[kvLen];
                    double slope = slopes == null ? 0 : slopes[h];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < kvLen; j++) {
                        boolean allowed = (!c.causal() || j <= pq)
                                && (c.windowLeft() < 0 || j >= pq - c.windowLeft()) && data.maskBit(b, i, j);
                        if (!allowed) {
                            logits[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double[] kv = keys[j * hkv + h / g];
                        double dot = 0;
                        for (int t = 0; t < d; t++) {
                            dot += qv[t] * kv[t];
                        }
                        double x = scale * dot + slope * (j - pq);
                        if (softCap > 0) {
                            x = softCap * Math.tanh(x / softCap);
                        }
                        logits[j] = x;
                        max = Math.max(max, x);
                    }
                    int out = (row * hq + h) * dv;
                    double sink = sinks == null ? Double.NEGATIVE_INFINITY : sinks[h];
                    if (max == Double.NEGATIVE_INFINITY) {
                        lse[row * hq + h] = (float) sink;
                        continue; // o stays 0: only the sink, if any, has weight, and its value is 0
                    }
                    max = Math.max(max, sink);
                    double sum = sinks == null ? 0 : Math.exp(sink - max);
                    double[] acc = new double[dv];
                    for (int j = 0; j < kvLen; j++) {
                        if (logits[j] == Double.NEGATIVE_INFINITY) {
                            continue;
                        }
                        double w = Math.exp(logits[j] - max);
                        sum += w;
                        int vb = (j * hkv + h / g) * dv;
                        double vScale = vScales[j * hkv + h / g];
                        for (int t = 0; t < dv; t++) {
                            acc[t] += w * v[vb + t] * vScale;
                        }
                    }
                    for (int t = 0; t < dv; t++) {
                        o[out + t] = SpecFormats.round(c.qDtype(), acc[t] / sum);
                    }
                    lse[row * hq + h] = (float) (max + Math.log(sum));
                }
            }
        }
        return new AttentionOutput(o, lse, c.qDtype(), c.totalQ(), hq, dv);
    }

    /**
     * Which query rows allow no key at all (no keys, or causal, window and mask leave none):
     * spec §3 fixes their o at 0 and their lse at -inf, or at the head's sink.
     *
     * @param data the case's values
     * @return one flag per query row, {@code [totalQ]}
     */
    public static boolean[] rowsWithoutKeys(CaseData data) {
        AttentionCase c = data.kase();
        boolean[] out = new boolean[c.totalQ()];
        int[] qoIndptr = c.qoIndptr();
        for (int b = 0; b < c.batchSize(); b++) {
            int qoLen = c.qoLen(b);
            int kvLen = c.kvLen(b);
            for (int i = 0; i < qoLen; i++) {
                int pq = i + kvLen - qoLen;
                boolean any = false;
                for (int j = 0; j < kvLen && !any; j++) {
                    any = (!c.causal() || j <= pq) && (c.windowLeft() < 0 || j >= pq - c.windowLeft())
                            && data.maskBit(b, i, j);
                }
                out[qoIndptr[b] + i] = !any;
            }
        }
        return out;
    }

    /**
     * spec §4's merge of states A and B, element-wise over rows and heads; o {@code [rows, Hq, D]}
     * rounded to {@code dtype}. A row where both lse are -inf merges to o 0 and lse -inf.
     *
     * @param oA    A's o, {@code [rows, heads, d]}
     * @param sA    A's lse, {@code [rows, heads]}
     * @param oB    B's o, shaped as {@code oA}
     * @param sB    B's lse, shaped as {@code sA}
     * @param dtype the dtype o is rounded to
     * @param rows  rows
     * @param heads heads per row
     * @param d     the head dim
     * @return the merged o and lse
     */
    public static AttentionOutput merge(float[] oA, float[] sA, float[] oB, float[] sB, DType dtype, int rows,
                                        int heads, int d) {
        float[] o = new float[rows * heads * d];
        float[] s = new float[rows * heads];
        for (int r = 0; r < rows * heads; r++) {
            double a = sA[r];
            double b = sB[r];
            double m = Math.max(a, b);
            if (m == Double.NEGATIVE_INFINITY) {
                s[r] = Float.NEGATIVE_INFINITY;
                continue;
            }
            double wa = Math.exp(a - m);
            double wb = Math.exp(b - m);
            for (int t = 0; t < d; t++) {
                int i = r * d + t;
                o[i] = SpecFormats.round(dtype, (wa * oA[i] + wb * oB[i]) / (wa + wb));
            }
            s[r] = (float) (m + Math.log(wa + wb));
        }
        return new AttentionOutput(o, s, dtype, rows, heads, d);
    }
}
