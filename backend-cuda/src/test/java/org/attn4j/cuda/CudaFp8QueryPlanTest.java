package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attn4j.kv.PageTable;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/** The host side of an FP8 q's plan: what it plans for each o dtype and how much scratch it keeps. */
class CudaFp8QueryPlanTest {
    private static AttentionProblem fp8Prefill(int[] qoLens, int hq, int hkv, int d, DType kv) {
        int[] qo = new int[qoLens.length + 1];
        int[] kvLens = new int[qoLens.length];
        for (int b = 0; b < qoLens.length; b++) {
            qo[b + 1] = qo[b] + qoLens[b];
            kvLens[b] = qoLens[b] + 5;
        }
        PageTable table = PageTable.of(16, ContiguousPages.of(kvLens, 16), kvLens);
        return new AttentionProblem(new HeadConfig(hq, hkv, d), qo, table, null, AttentionOptions.DEFAULT, null, null,
                false, PlanOptions.DEFAULT, DType.FP8_E4M3, kv, 16);
    }

    @Test
    void eachOutputDtypeIsPlannedAsAQueryOfThatDtypeOverTheSameCache() {
        AttentionProblem p = fp8Prefill(new int[] {3, 17}, 8, 2, 128, DType.FP8_E4M3);
        assertEquals(3, CudaFp8QueryPlan.OUTPUT_DTYPES.size());
        for (DType t : CudaFp8QueryPlan.OUTPUT_DTYPES) {
            AttentionProblem inner = CudaFp8QueryPlan.inner(p, t);
            assertEquals(t, inner.qDtype());
            assertEquals(DType.FP8_E4M3, inner.kvDtype());
            assertEquals(p.alignment(), inner.alignment());
            assertSame(p.heads(), inner.heads());
            assertEquals(p.qoIndptr()[p.batchSize()], inner.qoIndptr()[inner.batchSize()]);
        }
    }

    /**
     * The converted q is a 16-bit (or F32) q like any other, so the inner plans choose the kernels
     * such a q gets: on Hopper the wgmma prefill for F16 and BF16 over an FP8 cache, CUDA cores for F32.
     */
    @Test
    void innerPlansChooseTheKernelsOfTheirQueryDtype() {
        AttentionProblem p = fp8Prefill(new int[] {8192}, 32, 8, 128, DType.FP8_E4M3);
        for (DType t : CudaFp8QueryPlan.OUTPUT_DTYPES) {
            AttentionProblem inner = CudaFp8QueryPlan.inner(p, t);
            CudaAttentionPlan.Kernel expected = t == DType.F32 ? CudaAttentionPlan.Kernel.GENERIC
                    : CudaAttentionPlan.Kernel.QUERY_TILED;
            assertEquals(expected, CudaAttentionPlan.kernelFor(inner, CudaKernelSettings.DEFAULT, 90), t.toString());
            AttentionProblem twin = inner.withRunTypes(t, DType.FP8_E4M3, 16);
            assertEquals(CudaAttentionPlan.kernelFor(twin, CudaKernelSettings.DEFAULT, 90),
                    CudaAttentionPlan.kernelFor(inner, CudaKernelSettings.DEFAULT, 90), t.toString());
        }
    }

    @Test
    void scratchHoldsQInF32OnTheArenaAlignment() {
        AttentionProblem p = fp8Prefill(new int[] {3, 17}, 8, 2, 96, DType.BF16);
        long elements = 20L * 8 * 96;
        assertEquals(elements, CudaFp8QueryPlan.queryElements(p));
        long bytes = CudaFp8QueryPlan.scratchBytes(p);
        assertTrue(bytes >= 4 * elements, bytes + " bytes");
        assertTrue(bytes < 4 * elements + CudaSession.ARENA_ALIGNMENT, bytes + " bytes");
        assertEquals(0, bytes % CudaSession.ARENA_ALIGNMENT);
    }

    @Test
    void anEmptyBatchStillGetsAnAlignedScratch() {
        AttentionProblem p = fp8Prefill(new int[] {0}, 4, 4, 64, DType.FP8_E5M2);
        assertEquals(0, CudaFp8QueryPlan.queryElements(p));
        assertEquals(CudaSession.ARENA_ALIGNMENT, CudaFp8QueryPlan.scratchBytes(p));
    }
}
