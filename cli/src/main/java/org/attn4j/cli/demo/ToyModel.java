package org.attn4j.cli.demo;

import java.util.SplittableRandom;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/**
 * A stand-in for a transformer layer: each token id has fixed random q, k and v vectors, and the
 * next token is the argmax of the attention output against a random unembedding. Enough to drive
 * a serving loop whose attention inputs depend on what attention produced.
 */
final class ToyModel {
    final int vocab;
    final int hq;
    final int hkv;
    final int d;
    private final float[][] q;
    private final float[][] k;
    private final float[][] v;
    private final float[][] unembed;

    ToyModel(int vocab, int hq, int hkv, int d, long seed) {
        this.vocab = vocab;
        this.hq = hq;
        this.hkv = hkv;
        this.d = d;
        SplittableRandom rnd = new SplittableRandom(seed);
        q = table(rnd, vocab, hq * d, 1.0);
        k = table(rnd, vocab, hkv * d, 1.0);
        v = table(rnd, vocab, hkv * d, 1.0);
        unembed = table(rnd, vocab, hq * d, 1.0);
    }

    private static float[][] table(SplittableRandom rnd, int rows, int cols, double amp) {
        float[][] t = new float[rows][cols];
        for (float[] row : t) {
            for (int i = 0; i < cols; i++) {
                row[i] = (float) ((rnd.nextDouble() * 2 - 1) * amp);
            }
        }
        return t;
    }

    HostTensor queries(int[] tokens, DType dtype) {
        return rows(q, tokens, dtype, hq);
    }

    HostTensor keys(int[] tokens, DType dtype) {
        return rows(k, tokens, dtype, hkv);
    }

    HostTensor values(int[] tokens, DType dtype) {
        return rows(v, tokens, dtype, hkv);
    }

    private HostTensor rows(float[][] table, int[] tokens, DType dtype, int heads) {
        HostTensor t = HostTensor.allocate(dtype, tokens.length, heads, d);
        int width = heads * d;
        for (int i = 0; i < tokens.length; i++) {
            float[] row = table[tokens[i]];
            for (int j = 0; j < width; j++) {
                t.setFloat((long) i * width + j, row[j]);
            }
        }
        return t;
    }

    /** The next token after output row {@code row} of {@code o} ({@code [rows, Hq, D]}). */
    int nextToken(HostTensor o, int row) {
        int width = hq * d;
        float[] x = new float[width];
        for (int j = 0; j < width; j++) {
            x[j] = o.getFloat((long) row * width + j);
        }
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int t = 0; t < vocab; t++) {
            double s = 0;
            float[] u = unembed[t];
            for (int j = 0; j < width; j++) {
                s += u[j] * x[j];
            }
            if (s > bestScore) {
                bestScore = s;
                best = t;
            }
        }
        return best;
    }
}
