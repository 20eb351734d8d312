package org.attn4j.reference;

import org.attn4j.options.RopeOptions;
import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.attn4j.reference.ReferenceTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.Backends;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.BackendProvider;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Discovery, capabilities, host views, timing, and determinism of the reference backend. */
class ReferenceBackendTest {

    @Test
    void serviceLoaderFindsTheAlwaysAvailableLowestPriorityProvider() {
        BackendProvider p = Backends.find("reference").orElseThrow();
        assertEquals(0, p.priority());
        Probe probe = p.probe();
        assertTrue(probe.available(), () -> "reasons: " + probe.reasons());
        assertEquals(1, probe.devices().size());
        assertTrue(probe.devices().getFirst().matches("host CPU, \\d+ threads"), probe.devices().getFirst());
    }

    @Test
    void capabilitiesCoverEveryDtypeHeadDimLayoutAndFeature() {
        try (AttentionBackend attn = ReferenceTestSupport.open()) {
            Capabilities c = attn.capabilities();
            assertEquals(java.util.Set.of(DType.F32, DType.F16, DType.BF16), c.qDtypes());
            assertEquals(java.util.Set.of(DType.F32, DType.F16, DType.BF16, DType.FP8_E4M3, DType.FP8_E5M2),
                    c.kvDtypes());
            assertTrue(c.supportsHeadDim(1) && c.supportsHeadDim(3) && c.supportsHeadDim(1024));
            assertEquals(java.util.EnumSet.allOf(KvLayout.class), c.layouts());
            // Everything but graphs, which record device work the reference does not queue; sinks and ALiBi included.
            assertEquals(java.util.EnumSet.complementOf(java.util.EnumSet.of(Feature.GRAPH_CAPTURE)), c.features());
            assertEquals(java.util.Set.of(org.attn4j.tensor.ExternalMemory.Kind.HOST_SEGMENT), c.externalMemory());
        }
    }

    @Test
    void wrappedHostMemoryIsSharedNotCopiedAndSurvivesClosingTheView() {
        try (AttentionBackend attn = ReferenceTestSupport.open();
             HostTensor host = HostTensor.of(DType.F32, new float[] {1, 2, 3, 4}, 2, 1, 2)) {
            Tensor view = attn.wrap(host);
            attn.applyRope(view, null, new int[] {0, 0}, org.attn4j.options.RopeOptions.DEFAULT.withScale(1)); // no-op turn
            host.setFloat(0, 42);
            assertEquals(42f, read(attn, view)[0]);
            view.close();
            assertEquals(4f, host.getFloat(3), "closing a view must not free the caller's memory");
        }
    }

    @Test
    void wallClockTimerMeasuresNonNegativeTime() {
        try (AttentionBackend attn = ReferenceTestSupport.open(); DeviceTimer timer = attn.newTimer()) {
            timer.start();
            timer.stop();
            assertEquals("wall clock", timer.method());
            assertTrue(timer.elapsedMillis() >= 0);
        }
    }

    @Test
    void repeatedRunsOfAParallelBatchAreBitwiseIdentical() {
        int batch = 6;
        int hq = 8;
        int hkv = 2;
        int d = 16;
        int pageSize = 5;
        int[] lens = {1, 9, 17, 0, 5, 23};
        int[][] pages = new int[batch][];
        int next = 0;
        for (int b = 0; b < batch; b++) {
            pages[b] = new int[(lens[b] + pageSize - 1) / pageSize];
            for (int i = 0; i < pages[b].length; i++) {
                pages[b][i] = next++;
            }
        }
        PageTable table = PageTable.of(pageSize, pages, lens);
        Random random = new Random(3);
        float[] kv = new float[next * pageSize * hkv * d];
        float[] q = new float[batch * hq * d];
        for (int i = 0; i < kv.length; i++) {
            kv[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) random.nextGaussian();
        }
        try (AttentionBackend attn = ReferenceTestSupport.open();
             Tensor k = tensor(attn, DType.BF16, kv, next, pageSize, hkv, d);
             Tensor qt = tensor(attn, DType.BF16, q, batch, hq, d);
             Tensor o1 = attn.allocate(DType.BF16, batch, hq, d);
             Tensor o2 = attn.allocate(DType.BF16, batch, hq, d);
             Tensor lse1 = attn.allocate(DType.F32, batch, hq);
             Tensor lse2 = attn.allocate(DType.F32, batch, hq);
             BatchAttentionPlan plan = attn.planBatchDecode(table, new HeadConfig(hq, hkv, d),
                     AttentionOptions.DEFAULT.withLogitsSoftCap(30f), PlanOptions.DETERMINISTIC)) {
            PagedKvCache cache = PagedKvCache.separate(k, k, KvLayout.NHD);
            plan.run(qt, cache, o1, lse1);
            plan.run(qt, cache, o2, lse2);
            assertArrayEquals(read(attn, o1), read(attn, o2));
            assertArrayEquals(read(attn, lse1), read(attn, lse2));
            float[] lse = read(attn, lse1);
            for (int b = 0; b < batch; b++) {
                for (int h = 0; h < hq; h++) {
                    assertEquals(lens[b] == 0, lse[b * hq + h] == Float.NEGATIVE_INFINITY, "b " + b + " h " + h);
                }
            }
        }
    }
}
