package org.attn4j.conformance.check;

import org.attn4j.options.AttentionOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Numerics;

/**
 * spec §3 and §4 written out directly over a case's logical values, in {@code double}, without
 * pages, strides or plans. It is the second opinion that the reference backend itself is held
 * to, and the oracle wherever the reference is absent.
 */
public final class SpecOracle {
    private SpecOracle() {}

    /** Attention of every query row of the case; o rounded to q's dtype, lse always computed. */
    public static AttentionOutput attention(CaseData data) {
        AttentionCase c = data.kase();
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDim();
        int g = hq / hkv;
        AttentionOptions opt = c.options();
        double scale = opt.resolvedSmScale(d);
        RopeOptions rope = opt.rope();
        double[] freq = rope == null ? null : rope.frequencies(d);
        float[] o = new float[c.totalQ() * hq * d];
        float[] lse = new float[c.totalQ() * hq];
        int[] qoIndptr = c.qoIndptr();
        for (int b = 0; b < c.batchSize(); b++) {
            int qoLen = c.qoLen(b);
            int kvLen = c.kvLen(b);
            float[] k = data.k(b);
            float[] v = data.v(b);
            // keys, dequantised and rotated once per request
            double[][] keys = new double[kvLen * hkv][];
            for (int j = 0; j < kvLen; j++) {
                for (int h = 0; h < hkv; h++) {
                    double[] x = new double[d];
                    for (int i = 0; i < d; i++) {
                        x[i] = (double) k[(j * hkv + h) * d + i] * c.kScale();
                    }
                    keys[j * hkv + h] = rope == null ? x : rotate(x, j, freq, rope);
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
                        qv = rotate(qv, pq, freq, rope);
                    }
                    double[] logits = new double[kvLen];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < kvLen; j++) {
                        boolean allowed = (!opt.causal() || j <= pq)
                                && (opt.windowLeft() < 0 || j >= pq - opt.windowLeft()) && data.maskBit(b, i, j);
                        if (!allowed) {
                            logits[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double[] kv = keys[j * hkv + h / g];
                        double dot = 0;
                        for (int t = 0; t < d; t++) {
                            dot += qv[t] * kv[t];
                        }
                        double x = scale * dot;
                        if (opt.logitsSoftCap() > 0) {
                            x = opt.logitsSoftCap() * Math.tanh(x / opt.logitsSoftCap());
                        }
                        logits[j] = x;
                        max = Math.max(max, x);
                    }
                    int out = (row * hq + h) * d;
                    if (max == Double.NEGATIVE_INFINITY) {
                        lse[row * hq + h] = Float.NEGATIVE_INFINITY;
                        continue; // o stays 0
                    }
                    double sum = 0;
                    double[] acc = new double[d];
                    for (int j = 0; j < kvLen; j++) {
                        if (logits[j] == Double.NEGATIVE_INFINITY) {
                            continue;
                        }
                        double w = Math.exp(logits[j] - max);
                        sum += w;
                        int vb = (j * hkv + h / g) * d;
                        for (int t = 0; t < d; t++) {
                            acc[t] += w * v[vb + t] * c.vScale();
                        }
                    }
                    for (int t = 0; t < d; t++) {
                        o[out + t] = Numerics.roundTo(c.qDtype(), (float) (acc[t] / sum));
                    }
                    lse[row * hq + h] = (float) (max + Math.log(sum));
                }
            }
        }
        return new AttentionOutput(o, lse, c.qDtype(), c.totalQ(), hq, d);
    }

    /** spec §3's rotation of one head vector at {@code pos}. */
    public static double[] rotate(double[] x, int pos, double[] freq, RopeOptions rope) {
        int d = x.length;
        double[] y = x.clone();
        for (int p = 0; p < d / 2; p++) {
            int a = rope.first(p, d);
            int b = rope.second(p, d);
            double angle = pos * freq[p];
            double cos = Math.cos(angle);
            double sin = Math.sin(angle);
            y[a] = x[a] * cos - x[b] * sin;
            y[b] = x[b] * cos + x[a] * sin;
        }
        return y;
    }

    /**
     * spec §4's merge of states A and B, element-wise over rows and heads; o {@code [rows, Hq, D]}
     * rounded to {@code dtype}.
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
                o[i] = Numerics.roundTo(dtype, (float) ((wa * oA[i] + wb * oB[i]) / (wa + wb)));
            }
            s[r] = (float) (m + Math.log(wa + wb));
        }
        return new AttentionOutput(o, s, dtype, rows, heads, d);
    }
}
