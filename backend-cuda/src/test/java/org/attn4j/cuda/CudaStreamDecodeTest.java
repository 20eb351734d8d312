package org.attn4j.cuda;

import static org.attn4j.cuda.AgreesWithReference.gaussian;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The CUDA-core streaming decode at every head dim and group it is built for. The conformance
 * suite reaches it only where the default choice takes it (no grouping); here the backend is
 * opened with {@code decodeKernel=stream}, so every group up to the head dim's largest runs on it,
 * over pages of a power-of-two size and of another size, with a request long enough to split.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CudaStreamDecodeTest {
    private AttentionBackend cuda;
    private AttentionBackend reference;

    @BeforeAll
    void open() {
        if (new CudaBackendProvider().probe().available()) {
            cuda = AttentionBackend.of(new CudaBackendProvider().open(
                    new BackendOptions(Map.of(CudaKernelSettings.DECODE_KERNEL, "stream"))));
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
        if (reference != null) {
            reference.close();
        }
    }

    @Test
    void everyHeadDimAndGroupTheStreamingKernelHoldsAgreesWithTheReference() {
        int[] kvLens = {3000, 1, 0, 37, 250};
        for (int d : new int[] {64, 80, 96, 128, 192, 256}) {
            assertTrue(BlockShape.streamHeadDim(d));
            for (int group = 1; group <= BlockShape.streamMaxGroup(d); group++) {
                int pageSize = group % 2 == 0 ? 16 : 7;
                DType t = group % 2 == 0 ? DType.BF16 : DType.F16;
                AttentionOptions options = d == 96 ? AttentionOptions.DEFAULT.withLogitsSoftCap(20f)
                        : AttentionOptions.DEFAULT;
                check(kvLens, new HeadConfig(2 * group, 2, d), t, options, pageSize, 31L * d + group);
            }
        }
    }

    private void check(int[] kvLens, HeadConfig heads, DType t, AttentionOptions options, int pageSize, long seed) {
        int batch = kvLens.length;
        int[][] pages = ContiguousPages.of(kvLens, pageSize);
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        long[] kvShape = {Math.max(1, ContiguousPages.count(pages)), pageSize, heads.numKvHeads(), heads.headDimQk()};
        String what = "D " + heads.headDimQk() + ", group " + heads.groupSize() + ", page " + pageSize + ", " + t;
        try (HostTensor q = gaussian(t, seed, batch, heads.numQoHeads(), heads.headDimQk());
             HostTensor k = gaussian(t, seed + 1, kvShape); HostTensor v = gaussian(t, seed + 2, kvShape)) {
            float[][][] both = AgreesWithReference.decodeOnBoth(cuda, reference, table, heads, options,
                    PlanOptions.DEFAULT, q, k, v, KvLayout.NHD,
                    describe -> assertTrue(describe.contains("CUDA-core streaming decode"), what + ": " + describe));
            float tol = t == DType.BF16 ? 1.6e-2f : 2e-3f;
            try {
                AgreesWithReference.assertClose(both[0][0], both[1][0], tol, both[0][1], both[1][1], 1e-3);
            } catch (AssertionError e) {
                throw new AssertionError(what + ": " + e.getMessage(), e);
            }
        }
    }
}
