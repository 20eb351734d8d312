package org.attn4j.conformance.check;

import org.attn4j.conformance.cases.MlaCase;

/**
 * spec §13 written out over a case's logical values, in {@code double}, without pages, plans or
 * any code of a backend: for request b, row i, head h, the logits
 * {@code smScale * (qNope·ckv_j + qPe·kpe_j)} over the allowed keys (all, or {@code j <= pq}
 * when causal, {@code pq = i + kvLen - qoLen}), each cache value times its part's scale, a
 * max-subtracted softmax, {@code o = Σ p_j ckv_j} rounded once to q's dtype, lse the natural log.
 * A row without keys has o 0 and lse -inf.
 *
 * <p>Stateless and thread-safe.
 */
public final class SpecMla {
    private SpecMla() {}

    /**
     * The latent attention of every query row of the case.
     *
     * @param c    the case
     * @param data its values
     * @return o {@code [totalQ, H, dCkv]} and lse {@code [totalQ, H]}
     */
    public static AttentionOutput attention(MlaCase c, MlaCase.Data data) {
        int hq = c.heads();
        int dc = c.dCkv();
        int dp = c.dKpe();
        int[] qoLens = c.qoLens();
        int[] kvLens = c.kvLens();
        int[] indptr = c.qoIndptr();
        float[] o = new float[c.totalQ() * hq * dc];
        float[] lse = new float[c.totalQ() * hq];
        for (int b = 0; b < c.batchSize(); b++) {
            int kvLen = kvLens[b];
            float[] ckv = data.ckv()[b];
            float[] kpe = data.kpe()[b];
            for (int i = 0; i < qoLens[b]; i++) {
                int row = indptr[b] + i;
                long pq = (long) i + kvLen - qoLens[b];
                for (int h = 0; h < hq; h++) {
                    double[] logit = new double[kvLen];
                    boolean[] allowed = new boolean[kvLen];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < kvLen; j++) {
                        allowed[j] = !c.causal() || j <= pq;
                        if (!allowed[j]) {
                            continue;
                        }
                        double nope = 0;
                        for (int x = 0; x < dc; x++) {
                            nope += (double) data.qNope()[(row * hq + h) * dc + x]
                                    * ((double) ckv[j * dc + x] * c.ckvScale());
                        }
                        double pe = 0;
                        for (int x = 0; x < dp; x++) {
                            pe += (double) data.qPe()[(row * hq + h) * dp + x]
                                    * ((double) kpe[j * dp + x] * c.kpeScale());
                        }
                        logit[j] = c.smScale() * (nope + pe);
                        max = Math.max(max, logit[j]);
                    }
                    int state = row * hq + h;
                    if (max == Double.NEGATIVE_INFINITY) {
                        lse[state] = Float.NEGATIVE_INFINITY;
                        continue; // o stays 0
                    }
                    double sum = 0;
                    double[] acc = new double[dc];
                    for (int j = 0; j < kvLen; j++) {
                        if (!allowed[j]) {
                            continue;
                        }
                        double w = Math.exp(logit[j] - max);
                        sum += w;
                        for (int x = 0; x < dc; x++) {
                            acc[x] += w * ((double) ckv[j * dc + x] * c.ckvScale());
                        }
                    }
                    for (int x = 0; x < dc; x++) {
                        o[state * dc + x] = SpecFormats.round(c.qDtype(), acc[x] / sum);
                    }
                    lse[state] = (float) (max + Math.log(sum));
                }
            }
        }
        return new AttentionOutput(o, lse, c.qDtype(), c.totalQ(), hq, dc);
    }
}
