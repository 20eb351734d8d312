package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.f32;
import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.attn4j.reference.ReferenceTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageManager;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** KV append: bit-exact same-dtype copies, FP8 quantisation with scales, and attending what was appended. */
class ReferenceAppendTest {
    private final AttentionBackend attn = ReferenceTestSupport.open();

    @AfterEach
    void close() {
        attn.close();
    }

    @Test
    void sameDtypeCopiesKeepEveryBitIncludingNanPayloads() {
        // One request, Hkv 1, D 2, page size 2; tokens at positions 0 and 1 of page 1.
        int[] bits = {0x7E01, 0x8001, 0x3C00, 0xFC00}; // NaN with payload, -subnormal, 1, -inf
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {1}, new int[] {2}, 2);
        try (HostTensor kh = HostTensor.allocate(DType.F16, 2, 1, 2);
             Tensor cacheK = attn.allocate(DType.F16, 2, 2, 1, 2);
             Tensor cacheV = attn.allocate(DType.F16, 2, 2, 1, 2)) {
            for (int i = 0; i < 4; i++) {
                kh.setBits(i, bits[i]);
            }
            try (Tensor k = attn.upload(kh)) {
                attn.appendPagedKv(k, k, new AppendPositions(new int[] {0, 0}, new int[] {0, 1}),
                        PagedKvCache.separate(cacheK, cacheV, KvLayout.NHD), table);
            }
            try (HostTensor out = attn.download(cacheK)) {
                for (int i = 0; i < 4; i++) {
                    assertEquals(0, out.getBits(i), "page 0 stays empty");
                    assertEquals(bits[i], out.getBits(4 + i), "page 1 element " + i);
                }
            }
        }
    }

    @Test
    void fp8AppendDividesByTheScaleRoundsToEvenAndSaturates() {
        // kScale 0.5: 3 / 0.5 = 6 = 1.5 * 2^2 -> e4m3 0.1001.100 = 0x4C; 1000 / 0.5 saturates to 448
        // (0x7E); 0.53125 / 0.5 = 1.0625 is the tie between 1 and 1.125 -> even mantissa, 1.0 (0x38);
        // -0.59375 / 0.5 = -1.1875 is the tie between 1.125 and 1.25 -> even, -1.25 (0xBA).
        float[] k = {3, 1000, 0.53125f, -0.59375f};
        int[] expected = {0x4C, 0x7E, 0x38, 0xBA};
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {1}, 1);
        try (Tensor kt = f32(attn, k, 1, 1, 4);
             Tensor cacheK = attn.allocate(DType.FP8_E4M3, 1, 1, 1, 4);
             Tensor cacheV = attn.allocate(DType.FP8_E4M3, 1, 1, 1, 4)) {
            PagedKvCache cache = PagedKvCache.separate(cacheK, cacheV, KvLayout.NHD, new KvScales(0.5f, 1f));
            attn.appendPagedKv(kt, kt, new AppendPositions(new int[] {0}, new int[] {0}), cache, table);
            try (HostTensor out = attn.download(cacheK)) {
                for (int i = 0; i < 4; i++) {
                    assertEquals(expected[i], out.getBits(i), "element " + i);
                }
            }
            // V used scale 1: 3 -> 3 (0x44), 1000 -> 448, 0.53125 -> 0.5 (tie to even), -0.59375 -> -0.625.
            assertArrayEquals(new float[] {3, 448, 0.5f, -0.625f}, read(attn, cacheV));
        }
    }

    @Test
    void fp8CacheIsDequantisedWithItsScaleWhenAttending() {
        // One key stored as e4m3 6 with vScale 0.5 and value 6 -> real value 3.
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {1}, 1);
        try (Tensor q = f32(attn, new float[] {1, 1}, 1, 1, 2);
             Tensor kv = f32(attn, new float[] {3, -1.5f}, 1, 1, 2);
             Tensor cacheK = attn.allocate(DType.FP8_E4M3, 1, 1, 1, 2);
             Tensor cacheV = attn.allocate(DType.FP8_E4M3, 1, 1, 1, 2);
             Tensor o = attn.allocate(DType.F32, 1, 1, 2);
             Tensor lse = attn.allocate(DType.F32, 1, 1);
             BatchAttentionPlan plan = attn.planBatchDecode(table, new HeadConfig(1, 1, 2),
                     AttentionOptions.DEFAULT.withSmScale(1f), PlanOptions.DEFAULT)) {
            PagedKvCache cache = PagedKvCache.separate(cacheK, cacheV, KvLayout.NHD, new KvScales(0.25f, 0.5f));
            attn.appendPagedKv(kv, kv, new AppendPositions(new int[] {0}, new int[] {0}), cache, table);
            assertArrayEquals(new float[] {12, -6}, read(attn, cacheK)); // 3 / 0.25, -1.5 / 0.25
            plan.run(q, cache, o, lse);
            assertArrayEquals(new float[] {3, -1.5f}, read(attn, o));
            assertArrayEquals(new float[] {1.5f}, read(attn, lse)); // q . k = 3 - 1.5
        }
    }

    @Test
    void appendingThroughAPageManagerThenAttendingEqualsAttendingContiguousKeys() {
        int hkv = 2;
        int d = 8;
        int[] lens = {7, 3, 12};
        Random random = new Random(5);
        PageManager pages = new PageManager(16, 3);
        int[] requests = new int[lens.length];
        int total = 0;
        for (int r = 0; r < lens.length; r++) {
            requests[r] = pages.addRequest();
            pages.grow(requests[r], lens[r]);
            total += lens[r];
        }
        float[] k = new float[total * hkv * d];
        float[] v = new float[total * hkv * d];
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) random.nextGaussian();
            v[i] = (float) random.nextGaussian();
        }
        float[] q = new float[lens.length * 4 * d];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) random.nextGaussian();
        }
        PageTable table = pages.pageTable(requests);
        AppendPositions at = pages.appendPositions(requests, lens);
        try (Tensor kt = tensor(attn, DType.BF16, k, total, hkv, d);
             Tensor vt = tensor(attn, DType.BF16, v, total, hkv, d);
             Tensor qt = tensor(attn, DType.BF16, q, lens.length, 4, d);
             Tensor cacheK = attn.allocate(DType.BF16, 16, hkv, 3, d);
             Tensor cacheV = attn.allocate(DType.BF16, 16, hkv, 3, d);
             Tensor o = attn.allocate(DType.BF16, lens.length, 4, d);
             BatchAttentionPlan plan = attn.planBatchDecode(table, new HeadConfig(4, hkv, d), AttentionOptions.DEFAULT,
                     PlanOptions.DEFAULT)) {
            PagedKvCache cache = PagedKvCache.separate(cacheK, cacheV, KvLayout.HND);
            attn.appendPagedKv(kt, vt, at, cache, table);
            plan.run(qt, cache, o, null);
            float[] batch = read(attn, o);
            int start = 0;
            float[] kStored = read(attn, kt);
            float[] vStored = read(attn, vt);
            float[] qStored = read(attn, qt);
            for (int r = 0; r < lens.length; r++) {
                int n = lens[r] * hkv * d;
                try (Tensor kr = tensor(attn, DType.BF16, java.util.Arrays.copyOfRange(kStored, start, start + n),
                        lens[r], hkv, d);
                     Tensor vr = tensor(attn, DType.BF16, java.util.Arrays.copyOfRange(vStored, start, start + n),
                             lens[r], hkv, d);
                     Tensor qr = tensor(attn, DType.BF16, java.util.Arrays.copyOfRange(qStored, r * 4 * d,
                             (r + 1) * 4 * d), 4, d);
                     Tensor or = attn.allocate(DType.BF16, 4, d)) {
                    attn.singleDecode(qr, new ContiguousKv(kr, vr, KvLayout.NHD), AttentionOptions.DEFAULT, or, null);
                    assertArrayEquals(read(attn, or), java.util.Arrays.copyOfRange(batch, r * 4 * d, (r + 1) * 4 * d),
                            "request " + r);
                }
                start += n;
            }
        }
    }
}
