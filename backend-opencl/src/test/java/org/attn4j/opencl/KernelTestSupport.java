package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/** Inputs and the comparison with the reference that the forced-kernel tests share. */
final class KernelTestSupport {
    private KernelTestSupport() {
    }

    /** Skips the calling test where no OpenCL device is found, saying why (the probe's reasons). */
    static void assumeOpenClDevice() {
        Probe p = new OpenClBackendProvider().probe();
        assumeTrue(p.available(), () -> "no OpenCL device here: " + p.reasons());
    }

    /** Page ids numbered from {@code firstPage} on, request after request, enough for each kvLen. */
    static int[][] consecutivePages(int pageSize, int[] kvLens, int firstPage) {
        int[][] pages = new int[kvLens.length][];
        int next = firstPage;
        for (int b = 0; b < kvLens.length; b++) {
            pages[b] = new int[(kvLens[b] + pageSize - 1) / pageSize];
            for (int i = 0; i < pages[b].length; i++) {
                pages[b][i] = next++;
            }
        }
        return pages;
    }

    /** How many page ids the requests hold together. */
    static int pageCount(int[][] pages) {
        int n = 0;
        for (int[] p : pages) {
            n += p.length;
        }
        return n;
    }

    /** Uniform values in [-2, 2), rounded to the tensor's type. */
    static HostTensor random(SplittableRandom rnd, DType type, long... shape) {
        HostTensor t = HostTensor.allocate(type, shape);
        for (long i = 0; i < t.elementCount(); i++) {
            t.setFloat(i, (float) (rnd.nextDouble() * 4 - 2));
        }
        return t;
    }

    /**
     * Output and lse of the kernel (index 0) against the reference (index 1), with a tolerance
     * that follows the output's type; an empty reference row must be -inf exactly.
     */
    static void assertCloseToReference(DType qType, float[][] out, float[][] lse) {
        double tol = qType == DType.F32 ? 1e-5 : qType == DType.F16 ? 2e-3 : 1.6e-2;
        for (int i = 0; i < out[0].length; i++) {
            float a = out[0][i];
            float r = out[1][i];
            assertTrue(Math.abs(a - r) <= tol + tol * Math.abs(r), "o[" + i + "] = " + a + ", reference " + r);
        }
        for (int i = 0; i < lse[0].length; i++) {
            float a = lse[0][i];
            float r = lse[1][i];
            assertTrue(r == Float.NEGATIVE_INFINITY ? a == r : Math.abs(a - r) <= 1e-3 * (1 + Math.abs(r)),
                    "lse[" + i + "] = " + a + ", reference " + r);
        }
    }
}
