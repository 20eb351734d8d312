package org.attn4j.cuda;

import static org.attn4j.cuda.AgreesWithReference.gaussian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
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
 * What the conformance suite's small cases do not reach on a GPU: long sequences that the plan
 * cuts into split-KV chunks and merges, the deterministic split, and the host/kernel agreement on
 * parameter struct layouts. Skips with the probe's reasons where no usable GPU is present.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaSplitKvTest {
    private CudaSession session;
    private AttentionBackend cuda;
    private AttentionBackend reference;

    @BeforeAll
    void open() {
        if (new CudaBackendProvider().probe().available()) {
            session = (CudaSession) new CudaBackendProvider().open(org.attn4j.spi.BackendOptions.DEFAULT);
            cuda = AttentionBackend.of(session);
            reference = Backends.open("reference");
        }
    }

    /** Each test skips on its own, so reports list every one as skipped with the probe's reasons. */
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
        if (reference != null) {
            reference.close();
        }
    }

    @Test
    void parameterStructsMatchTheKernelsLayout() {
        CudaSession s = session;
        try (Tensor out = s.allocate(DType.I32, new long[] {5})) {
            s.kernels().get("param_sizes").launch(1, 1, 1, 0, CudaSession.address(out));
            HostTensor h = cuda.download(out);
            assertEquals(336, h.getInt(0), "AttnParams");
            assertEquals(80, h.getInt(1), "MergePartialsParams");
            assertEquals(256, h.getInt(2), "AppendParams");
            assertEquals(248, h.getInt(3), "MlaParams");
            assertEquals(CudaMlaPlan.WG_MAPS_BYTES, h.getInt(4), "MlaTensorMaps");
        }
    }

    @Test
    void longDecodeIsSplitAndMergedLikeTheReference() {
        int[] kvLens = {20000, 3, 0, 9001};
        check(kvLens, DType.BF16, DType.BF16, AttentionOptions.DEFAULT.withLogitsSoftCap(30f), PlanOptions.DEFAULT, 16);
        check(kvLens, DType.F16, DType.FP8_E4M3, AttentionOptions.DEFAULT.withWindowLeft(5000), PlanOptions.DEFAULT, 7);
        // q F16 over BF16 K/V runs on the CUDA-core kernel.
        check(kvLens, DType.F16, DType.BF16, AttentionOptions.DEFAULT, PlanOptions.DEFAULT, 16);
    }

    @Test
    void deterministicPlanIsBatchInvariant() {
        HeadConfig heads = new HeadConfig(8, 2, 128);
        float[] alone = decode(new int[] {10000}, heads, PlanOptions.DETERMINISTIC, 1);
        float[] shared = decode(new int[] {10000, 500, 7000}, heads, PlanOptions.DETERMINISTIC, 1);
        float[] first = java.util.Arrays.copyOf(shared, alone.length);
        assertArrayEquals(alone, first, "request 0 changed when others joined the batch");
    }

    private float[] decode(int[] kvLens, HeadConfig heads, PlanOptions planOptions, long seed) {
        // Request 0 gets the same data whatever the batch: its own seed.
        int pageSize = 16;
        int batch = kvLens.length;
        int[][] pages = ContiguousPages.of(kvLens, pageSize);
        int numPages = ContiguousPages.count(pages);
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        long[] kvShape = {Math.max(1, numPages), pageSize, heads.numKvHeads(), heads.headDimQk()};
        try (HostTensor q = gaussian(DType.BF16, seed, batch, heads.numQoHeads(), heads.headDimQk());
             HostTensor k = gaussian(DType.BF16, seed + 1, kvShape);
             HostTensor v = gaussian(DType.BF16, seed + 2, kvShape);
             Tensor dq = cuda.upload(q); Tensor dk = cuda.upload(k); Tensor dv = cuda.upload(v);
             Tensor o = cuda.allocate(DType.BF16, batch, heads.numQoHeads(), heads.headDimVo());
             BatchAttentionPlan plan = cuda.planBatchDecode(table, heads, AttentionOptions.DEFAULT, planOptions)) {
            plan.run(dq, PagedKvCache.separate(dk, dv, KvLayout.NHD), o, null);
            return cuda.download(o).toFloatArray();
        }
    }

    private void check(int[] kvLens, DType qType, DType kvType, AttentionOptions options, PlanOptions planOptions,
                       int pageSize) {
        HeadConfig heads = new HeadConfig(32, 8, 128);
        int batch = kvLens.length;
        int[][] pages = ContiguousPages.of(kvLens, pageSize);
        int numPages = ContiguousPages.count(pages);
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        long[] kvShape = {numPages, heads.numKvHeads(), pageSize, heads.headDimQk()};
        try (HostTensor q = gaussian(qType, 7, batch, heads.numQoHeads(), heads.headDimQk());
             HostTensor k = gaussian(kvType, 8, kvShape); HostTensor v = gaussian(kvType, 9, kvShape)) {
            float[][][] both = AgreesWithReference.decodeOnBoth(cuda, reference, table, heads, options, planOptions,
                    q, k, v, KvLayout.HND, describe -> assertTrue(describe.contains("split chunk"), describe));
            float tol = qType == DType.BF16 ? 1.6e-2f : 2e-3f;
            AgreesWithReference.assertClose(both[0][0], both[1][0], tol, both[0][1], both[1][1], 1e-3);
        }
    }
}
