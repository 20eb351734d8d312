package org.attn4j.cuda;

import static org.attn4j.cuda.AgreesWithReference.gaussian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.MlaAttentionPlan;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * What the conformance suite's small MLA cases do not reach on a GPU: the Tensor Core kernel's
 * split-KV chunks and their merge over long DeepSeek-shaped requests, FP8 caches there, prefill
 * rows beside heads on the M side, the deterministic schedule's batch invariance, and the Hopper
 * kernel (the default on compute capability 9.0) on DeepSeek's dims; the mma.sync kernel is forced
 * (mlaKernel=mma) for the rest. Skips with the probe's reasons where no
 * usable GPU is present.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaMlaTest {
    private static final float SCALE = (float) (1 / Math.sqrt(192));
    private AttentionBackend cuda;
    private AttentionBackend hopper;
    private CudaSession hopperSession;
    private AttentionBackend reference;

    @BeforeAll
    void open() {
        if (new CudaBackendProvider().probe().available()) {
            // The mma.sync kernel, which every device has and the default leaves to other problems.
            cuda = AttentionBackend.of(new CudaBackendProvider().open(
                    BackendOptions.DEFAULT.with(CudaKernelSettings.MLA_KERNEL, "mma")));
            hopperSession = (CudaSession) new CudaBackendProvider().open(BackendOptions.DEFAULT);
            hopper = AttentionBackend.of(hopperSession);
            reference = Backends.open("reference");
        }
    }

    @BeforeEach
    void requireDevice() {
        Probe p = new CudaBackendProvider().probe();
        assumeTrue(p.available(), () -> "cuda unavailable: " + p.reasons());
    }

    @AfterAll
    void close() {
        if (cuda != null) {
            cuda.close();
        }
        if (hopper != null) {
            hopper.close();
        }
        if (reference != null) {
            reference.close();
        }
    }

    @Test
    void longDecodeIsSplitAndMergedLikeTheReference() {
        int[] kvLens = {6000, 3, 0, 1500};
        int[] qoLens = {1, 1, 1, 1};
        check(cuda, MlaHeadConfig.deepSeek(128), qoLens, kvLens, false, DType.BF16, DType.BF16, 64, true);
        check(cuda, MlaHeadConfig.deepSeek(16), qoLens, kvLens, false, DType.F16, DType.FP8_E4M3, 7, true);
    }

    @Test
    void hopperKernelMatchesTheReferenceOnDeepSeeksDims() {
        assumeTrue(cudaComputeCapability() == 90, "the Hopper MLA kernel runs on compute capability 9.0 only");
        // Split and merged requests, an empty one, tiles cut short, pages smaller and larger than a tile.
        check(hopper, MlaHeadConfig.deepSeek(128), new int[] {1, 1, 1, 1}, new int[] {6000, 3, 0, 1500}, false,
                DType.BF16, DType.BF16, 64, true);
        check(hopper, MlaHeadConfig.deepSeek(16), new int[] {1, 1, 1}, new int[] {70, 129, 4096}, false, DType.F16,
                DType.F16, 7, true);
        // Fewer heads than a block's 64 items, and 100 heads: a second block half full.
        check(hopper, MlaHeadConfig.deepSeek(1), new int[] {1, 1}, new int[] {65, 1}, false, DType.BF16, DType.BF16,
                128, false);
        check(hopper, MlaHeadConfig.deepSeek(100), new int[] {1}, new int[] {200}, false, DType.BF16, DType.BF16, 16,
                false);
        // Causal prefill: rows and heads share a block, each row seeing its own prefix.
        check(hopper, MlaHeadConfig.deepSeek(16), new int[] {5, 1, 17}, new int[] {3000, 40, 17}, true, DType.BF16,
                DType.BF16, 64, true);
    }

    private int cudaComputeCapability() {
        return hopperSession.deviceInfo().computeCapability();
    }

    @Test
    void prefillRowsAndHeadsShareTheTensorCoreBlocks() {
        check(cuda, MlaHeadConfig.deepSeek(16), new int[] {5, 1, 17}, new int[] {3000, 40, 17}, true, DType.BF16,
                DType.BF16, 64, true);
        check(cuda, new MlaHeadConfig(3, 128, 32), new int[] {9, 2}, new int[] {700, 2}, true, DType.F16,
                DType.FP8_E5M2, 16, true);
    }

    @Test
    void deterministicPlanIsBatchInvariant() {
        MlaHeadConfig heads = MlaHeadConfig.deepSeek(64);
        float[] alone = decode(new int[] {5000}, heads, 1);
        float[] shared = decode(new int[] {5000, 300, 9000}, heads, 1);
        assertArrayEquals(alone, Arrays.copyOf(shared, alone.length), "request 0 changed when others joined");
    }

    private float[] decode(int[] kvLens, MlaHeadConfig heads, long seed) {
        int pageSize = 64;
        int batch = kvLens.length;
        int[][] pages = ContiguousPages.of(kvLens, pageSize);
        int numPages = Math.max(1, ContiguousPages.count(pages));
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        try (HostTensor qn = gaussian(DType.BF16, seed, batch, heads.numHeads(), heads.headDimCkv());
             HostTensor qp = gaussian(DType.BF16, seed + 1, batch, heads.numHeads(), heads.headDimKpe());
             HostTensor ckv = gaussian(DType.BF16, seed + 2, numPages, pageSize, heads.headDimCkv());
             HostTensor kpe = gaussian(DType.BF16, seed + 3, numPages, pageSize, heads.headDimKpe());
             Tensor dqn = cuda.upload(qn); Tensor dqp = cuda.upload(qp); Tensor dc = cuda.upload(ckv);
             Tensor dp = cuda.upload(kpe);
             Tensor o = cuda.allocate(DType.BF16, batch, heads.numHeads(), heads.headDimCkv());
             MlaAttentionPlan plan = cuda.planMlaDecode(table, heads, SCALE, PlanOptions.DETERMINISTIC)) {
            plan.run(dqn, dqp, PagedMlaCache.of(dc, dp), o, null);
            return cuda.download(o).toFloatArray();
        }
    }

    private void check(AttentionBackend device, MlaHeadConfig heads, int[] qoLens, int[] kvLens, boolean causal, DType qType, DType kvType,
                       int pageSize, boolean expectSplit) {
        int batch = kvLens.length;
        int[][] pages = ContiguousPages.of(kvLens, pageSize);
        int numPages = Math.max(1, ContiguousPages.count(pages));
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        int[] qo = new int[batch + 1];
        for (int b = 0; b < batch; b++) {
            qo[b + 1] = qo[b] + qoLens[b];
        }
        int rows = qo[batch];
        boolean fp8 = kvType.isFp8();
        float ckvScale = fp8 ? 0.5f : 1f;
        float kpeScale = fp8 ? 0.25f : 1f;
        try (HostTensor qn = gaussian(qType, 11, rows, heads.numHeads(), heads.headDimCkv());
             HostTensor qp = gaussian(qType, 12, rows, heads.numHeads(), heads.headDimKpe());
             HostTensor ckv = gaussian(kvType, 13, numPages, pageSize, heads.headDimCkv());
             HostTensor kpe = gaussian(kvType, 14, numPages, pageSize, heads.headDimKpe())) {
            float[][] out = new float[2][];
            float[][] lse = new float[2][];
            AttentionBackend[] both = {device, reference};
            for (int i = 0; i < 2; i++) {
                AttentionBackend be = both[i];
                PlanOptions po = PlanOptions.DEFAULT.withDtypes(qType, kvType);
                try (Tensor dqn = be.upload(qn); Tensor dqp = be.upload(qp); Tensor dc = be.upload(ckv);
                     Tensor dp = be.upload(kpe);
                     Tensor o = be.allocate(qType, rows, heads.numHeads(), heads.headDimCkv());
                     Tensor l = be.allocate(DType.F32, rows, heads.numHeads());
                     MlaAttentionPlan plan = qoLens.length == rows && !causal
                             ? be.planMlaDecode(table, heads, SCALE, po)
                             : be.planMlaPrefill(qo, table, heads, causal, SCALE, po)) {
                    if (i == 0) {
                        String d = plan.describe();
                        assertTrue(d.contains("Tensor Core"), d);
                        assertEquals(device == hopper && cudaComputeCapability() == 90, d.contains("Hopper"), d);
                        assertEquals(expectSplit, d.contains("split chunk"), d);
                    }
                    plan.run(dqn, dqp, PagedMlaCache.of(dc, dp, ckvScale, kpeScale), o, l);
                    out[i] = be.download(o).toFloatArray();
                    lse[i] = be.download(l).toFloatArray();
                }
            }
            float tol = qType == DType.BF16 ? 1.6e-2f : 4e-3f;
            AgreesWithReference.assertClose(out[0], out[1], tol, lse[0], lse[1], 2e-3);
        }
    }
}
