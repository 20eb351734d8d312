package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.Backends;
import org.attn4j.error.BackendUnavailableException;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.AttentionSinks;
import org.attn4j.options.HeadConfig;
import org.attn4j.parallel.ContextParallelPlan;
import org.attn4j.parallel.ContextShards;
import org.attn4j.parallel.ShardPlacement;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * NCCL's state gather (spec §12): unavailable with a reason where {@code libnccl.so.2} is missing;
 * on a multi-GPU host, context-parallel decode over one shard per device, gathered with NCCL,
 * equals the same batch on one device.
 */
class NcclStateGatherTest {
    private static final HeadConfig HEADS = new HeadConfig(8, 2, 128);
    private static final int PAGE = 16;

    @Test
    void probeIsAvailableOrSaysWhy() {
        Probe p = NcclStateGather.probe();
        if (p.available()) {
            assertFalse(p.devices().isEmpty(), "an available NCCL reports its version");
        } else {
            assertFalse(p.reasons().isEmpty(), "an unavailable NCCL says why");
            assertTrue(p.reasons().getFirst().contains("libnccl.so.2"), p.reasons().toString());
            try (AttentionBackend reference = Backends.open("reference")) {
                BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                        () -> NcclStateGather.open(List.of(reference)));
                assertTrue(e.getMessage().contains("libnccl.so.2"), e.getMessage());
            }
        }
    }

    @Test
    void ncclGatherAcrossDevicesEqualsOneDevice() {
        Probe nccl = NcclStateGather.probe();
        assumeTrue(nccl.available(), () -> "nccl unavailable: " + nccl.reasons());
        Probe cuda = new CudaBackendProvider().probe();
        assumeTrue(cuda.available(), () -> "cuda unavailable: " + cuda.reasons());
        assumeTrue(Backends.deviceSettings("cuda").size() >= 2,
                () -> "needs 2 or more CUDA devices, found " + Backends.deviceSettings("cuda").size());
        List<AttentionBackend> devices = Backends.openPerDevice("cuda", BackendOptions.DEFAULT);
        try (NcclStateGather gather = NcclStateGather.open(devices)) {
            int n = devices.size();
            int[] kvLens = {4097, 17, 1, 300};
            int batch = kvLens.length;
            Random random = new Random(7);
            int pagesTotal = 0;
            int[][] pages = new int[batch][];
            for (int r = 0; r < batch; r++) {
                pages[r] = new int[(kvLens[r] + PAGE - 1) / PAGE];
                for (int p = 0; p < pages[r].length; p++) {
                    pages[r][p] = pagesTotal++;
                }
            }
            PageTable table = PageTable.of(PAGE, pages, kvLens);
            float[] k = gaussian(random, pagesTotal * PAGE * HEADS.numKvHeads() * HEADS.headDimQk());
            float[] v = gaussian(random, pagesTotal * PAGE * HEADS.numKvHeads() * HEADS.headDimVo());
            float[] q = gaussian(random, batch * HEADS.numQoHeads() * HEADS.headDimQk());
            long[] poolShape = {pagesTotal, PAGE, HEADS.numKvHeads(), HEADS.headDimQk()};
            List<Tensor> owned = new ArrayList<>();
            List<Tensor> qs = new ArrayList<>();
            List<PagedKvCache> caches = new ArrayList<>();
            for (AttentionBackend be : devices) {
                Tensor kt = upload(be, DType.BF16, k, poolShape, owned);
                Tensor vt = upload(be, DType.BF16, v, poolShape, owned);
                caches.add(PagedKvCache.separate(kt, vt, KvLayout.NHD));
                qs.add(upload(be, DType.BF16, q, new long[] {batch, HEADS.numQoHeads(), HEADS.headDimQk()}, owned));
            }
            AttentionOptions options = AttentionOptions.DEFAULT.withCausal(true)
                    .withSinks(AttentionSinks.of(new float[HEADS.numQoHeads()]));
            AttentionBackend owner = devices.getFirst();
            Tensor whole = owner.allocate(DType.BF16, batch, HEADS.numQoHeads(), HEADS.headDimVo());
            Tensor sharded = owner.allocate(DType.BF16, batch, HEADS.numQoHeads(), HEADS.headDimVo());
            owned.add(whole);
            owned.add(sharded);
            try (BatchAttentionPlan one = owner.planBatchDecode(table, HEADS, options, null);
                 ContextParallelPlan cp = ContextParallelPlan.decode(ShardPlacement.of(devices, 0, gather),
                         ContextShards.split(table, n), HEADS, options, null)) {
                one.run(qs.getFirst(), caches.getFirst(), whole, null);
                cp.run(qs, caches, sharded, null);
                try (HostTensor a = owner.download(whole); HostTensor b = owner.download(sharded)) {
                    float[] x = a.toFloatArray();
                    float[] y = b.toFloatArray();
                    for (int i = 0; i < x.length; i++) {
                        assertEquals(x[i], y[i], 1.6e-2 * (1 + Math.abs(x[i])), "o[" + i + "]");
                    }
                }
            } finally {
                owned.forEach(Tensor::close);
            }
        } finally {
            devices.forEach(AttentionBackend::close);
        }
    }

    private static float[] gaussian(Random random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private static Tensor upload(AttentionBackend be, DType dtype, float[] values, long[] shape, List<Tensor> owned) {
        try (HostTensor host = HostTensor.of(dtype, values, shape)) {
            Tensor t = be.upload(host);
            owned.add(t);
            return t;
        }
    }
}
