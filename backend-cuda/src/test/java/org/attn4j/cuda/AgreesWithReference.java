package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/** What the GPU tests that compare a CUDA run with the reference backend's share: inputs and tolerances. */
final class AgreesWithReference {
    private AgreesWithReference() {}

    /**
     * Asserts {@code o} within {@code tol} (absolute plus relative) of the reference's, element by
     * element, and {@code lse} within {@code lseTol * (1 + |reference|)}, an empty row's {@code -inf}
     * exactly.
     */
    static void assertClose(float[] o, float[] oReference, float tol, float[] lse, float[] lseReference,
                            double lseTol) {
        assertEquals(oReference.length, o.length, "o elements");
        for (int i = 0; i < o.length; i++) {
            float r = oReference[i];
            assertTrue(Math.abs(o[i] - r) <= tol + tol * Math.abs(r), "o[" + i + "] = " + o[i] + ", reference " + r);
        }
        assertEquals(lseReference.length, lse.length, "lse elements");
        for (int i = 0; i < lse.length; i++) {
            float r = lseReference[i];
            if (r == Float.NEGATIVE_INFINITY) {
                assertEquals(r, lse[i], "lse[" + i + "]");
            } else {
                assertTrue(Math.abs(lse[i] - r) <= lseTol * (1 + Math.abs(r)),
                        "lse[" + i + "] = " + lse[i] + ", reference " + r);
            }
        }
    }

    /** A host tensor of standard normal values (rounded to {@code t}), reproducible from {@code seed}. */
    static HostTensor gaussian(DType t, long seed, long... shape) {
        HostTensor h = HostTensor.allocate(t, shape);
        Random r = new Random(seed);
        for (long i = 0; i < h.elementCount(); i++) {
            h.setFloat(i, (float) r.nextGaussian());
        }
        return h;
    }
}
