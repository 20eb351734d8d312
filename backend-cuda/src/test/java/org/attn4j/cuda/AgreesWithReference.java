package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Consumer;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

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

    /**
     * One batch decode of the same inputs on the CUDA backend and on the reference: o (of q's
     * dtype) and lse of each, as {@code [backend][o, lse]}, CUDA first. {@code cudaPlan} sees the
     * CUDA plan's {@code describe()} before it runs.
     */
    static float[][][] decodeOnBoth(AttentionBackend cuda, AttentionBackend reference, PageTable table, HeadConfig heads,
                                    AttentionOptions options, PlanOptions planOptions, HostTensor q, HostTensor k,
                                    HostTensor v, KvLayout layout, Consumer<String> cudaPlan) {
        DType qType = q.dtype();
        int batch = table.batchSize();
        float[][][] out = new float[2][][];
        AttentionBackend[] both = {cuda, reference};
        for (int i = 0; i < 2; i++) {
            AttentionBackend be = both[i];
            try (Tensor dq = be.upload(q); Tensor dk = be.upload(k); Tensor dv = be.upload(v);
                 Tensor o = be.allocate(qType, batch, heads.numQoHeads(), heads.headDimVo());
                 Tensor l = be.allocate(DType.F32, batch, heads.numQoHeads());
                 BatchAttentionPlan plan = be.planBatchDecode(table, heads, options,
                         planOptions.withDtypes(qType, k.dtype()))) {
                if (i == 0) {
                    cudaPlan.accept(plan.describe());
                }
                plan.run(dq, PagedKvCache.separate(dk, dv, layout), o, l);
                out[i] = new float[][] {be.download(o).toFloatArray(), be.download(l).toFloatArray()};
            }
        }
        return out;
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
