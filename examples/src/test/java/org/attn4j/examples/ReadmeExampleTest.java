package org.attn4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.junit.jupiter.api.Test;

class ReadmeExampleTest {
    @Test
    void readmeExampleMatchesAPlainSoftmax() {
        try (AttentionBackend attn = Backends.open("reference");
             HostTensor k = random(new Random(1), 137, 8, 128);
             HostTensor v = random(new Random(2), 137, 8, 128);
             HostTensor q = random(new Random(3), 2, 32, 128)) {
            HostTensor o = ReadmeExample.decodeStep(attn, k, v, q);
            // Request b (second), query head 5 reads KV head 5 / 4 = 1 over its 37 tokens (rows 100..136).
            int request = 1;
            int head = 5;
            int kvHead = head / 4;
            double[] logits = new double[37];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < 37; j++) {
                double dot = 0;
                for (int d = 0; d < 128; d++) {
                    dot += q.getFloat((request * 32L + head) * 128 + d) * k.getFloat(((100L + j) * 8 + kvHead) * 128 + d);
                }
                logits[j] = dot / Math.sqrt(128);
                max = Math.max(max, logits[j]);
            }
            double sum = 0;
            for (int j = 0; j < 37; j++) {
                sum += Math.exp(logits[j] - max);
            }
            for (int d = 0; d < 128; d += 17) {
                double expected = 0;
                for (int j = 0; j < 37; j++) {
                    expected += Math.exp(logits[j] - max) / sum * v.getFloat(((100L + j) * 8 + kvHead) * 128 + d);
                }
                float actual = o.getFloat((request * 32L + head) * 128 + d);
                assertEquals(expected, actual, 1.6e-2 + 1.6e-2 * Math.abs(expected), "o[1][5][" + d + "]");
            }
        }
    }

    private static HostTensor random(Random r, long... shape) {
        HostTensor t = HostTensor.allocate(DType.BF16, shape);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) r.nextGaussian());
        }
        return t;
    }
}
