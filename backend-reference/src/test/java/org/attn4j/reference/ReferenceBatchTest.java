package org.attn4j.reference;

import static org.attn4j.reference.ReferenceTestSupport.read;
import static org.attn4j.reference.ReferenceTestSupport.tensor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.CascadePlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.RaggedAttentionPlan;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Batch forms against single-request forms. The reference loads the same keys in the same
 * order whatever the page layout, so these agree bit for bit, except the cascade, which rounds
 * each level's output before merging.
 */
class ReferenceBatchTest {
    private static final int HQ = 4;
    private static final int HKV = 2;
    private static final int D = 8;
    private static final HeadConfig HEADS = new HeadConfig(HQ, HKV, D);
    private static final AttentionOptions CAUSAL = AttentionOptions.DEFAULT.withCausal(true);

    private final AttentionBackend attn = ReferenceTestSupport.open();
    private final Random random = new Random(17);

    @AfterEach
    void close() {
        attn.close();
    }

    private float[] gaussian(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    /** Single prefill of one request: q {@code [qoLen, HQ, D]}, K/V {@code [kvLen, HKV, D]} (NHD). */
    private float[] single(float[] q, float[] k, float[] v, AttentionOptions options) {
        int qoLen = q.length / (HQ * D);
        int kvLen = k.length / (HKV * D);
        try (Tensor qt = tensor(attn, DType.F16, q, qoLen, HQ, D);
             Tensor kt = tensor(attn, DType.F16, k, kvLen, HKV, D);
             Tensor vt = tensor(attn, DType.F16, v, kvLen, HKV, D);
             Tensor o = attn.allocate(DType.F16, qoLen, HQ, D)) {
            attn.singlePrefill(qt, new ContiguousKv(kt, vt, KvLayout.NHD), options, null, o, null);
            return read(attn, o);
        }
    }

    @Test
    void raggedPrefillEqualsEachRequestAlone() {
        int[] qoLens = {3, 1, 5};
        int[] kvLens = {4, 6, 5};
        int[] qoIndptr = indptr(qoLens);
        int[] kvIndptr = indptr(kvLens);
        float[] q = gaussian(qoIndptr[3] * HQ * D);
        float[] k = gaussian(kvIndptr[3] * HKV * D);
        float[] v = gaussian(kvIndptr[3] * HKV * D);
        float[] batch;
        try (Tensor qt = tensor(attn, DType.F16, q, qoIndptr[3], HQ, D);
             Tensor kt = tensor(attn, DType.F16, k, kvIndptr[3], HKV, D);
             Tensor vt = tensor(attn, DType.F16, v, kvIndptr[3], HKV, D);
             Tensor o = attn.allocate(DType.F16, qoIndptr[3], HQ, D);
             RaggedAttentionPlan plan = attn.planBatchPrefillRagged(qoIndptr, kvIndptr, HEADS, CAUSAL, null,
                     PlanOptions.DEFAULT)) {
            plan.run(qt, new RaggedKv(kt, vt), o, null);
            batch = read(attn, o);
        }
        for (int b = 0; b < 3; b++) {
            float[] alone = single(slice(q, qoIndptr[b], qoIndptr[b + 1], HQ), slice(k, kvIndptr[b], kvIndptr[b + 1], HKV),
                    slice(v, kvIndptr[b], kvIndptr[b + 1], HKV), CAUSAL);
            assertArrayEquals(alone, slice(batch, qoIndptr[b], qoIndptr[b + 1], HQ), "request " + b);
        }
    }

    @Test
    void pagedPrefillIsInvariantToPageSizeAndPagePermutation() {
        int[] qoLens = {2, 4};
        int[] kvLens = {7, 4};
        int[] qoIndptr = indptr(qoLens);
        float[] q = gaussian(qoIndptr[2] * HQ * D);
        float[][] k = {gaussian(7 * HKV * D), gaussian(4 * HKV * D)};
        float[][] v = {gaussian(7 * HKV * D), gaussian(4 * HKV * D)};
        float[] reference = paged(q, qoIndptr, k, v, 3, false, KvLayout.NHD);
        assertArrayEquals(reference, paged(q, qoIndptr, k, v, 3, true, KvLayout.HND), "pages reversed, HND");
        assertArrayEquals(reference, paged(q, qoIndptr, k, v, 1, true, KvLayout.NHD), "page size 1");
        assertArrayEquals(reference, paged(q, qoIndptr, k, v, 7, false, KvLayout.HND), "one page exactly full");
        assertArrayEquals(reference, paged(q, qoIndptr, k, v, 8, true, KvLayout.NHD), "page size 8");
    }

    /** Lays the requests' keys into a fresh pool (pages in reverse order when asked) and runs paged prefill. */
    private float[] paged(float[] q, int[] qoIndptr, float[][] k, float[][] v, int pageSize, boolean reversed,
                          KvLayout layout) {
        int batch = k.length;
        int[] kvLens = new int[batch];
        int totalPages = 0;
        for (int b = 0; b < batch; b++) {
            kvLens[b] = k[b].length / (HKV * D);
            totalPages += (kvLens[b] + pageSize - 1) / pageSize;
        }
        int[][] pages = new int[batch][];
        int next = 0;
        for (int b = 0; b < batch; b++) {
            pages[b] = new int[(kvLens[b] + pageSize - 1) / pageSize];
            for (int i = 0; i < pages[b].length; i++) {
                pages[b][i] = reversed ? totalPages - 1 - next : next;
                next++;
            }
        }
        PageTable table = PageTable.of(pageSize, pages, kvLens);
        float[] kPool = new float[totalPages * pageSize * HKV * D];
        float[] vPool = new float[kPool.length];
        Arrays.fill(kPool, Float.NaN); // unused slots must not matter
        Arrays.fill(vPool, Float.NaN);
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < kvLens[b]; t++) {
                int page = table.pageOf(b, t);
                int slot = t % pageSize;
                for (int h = 0; h < HKV; h++) {
                    int dst = layout == KvLayout.NHD ? ((page * pageSize + slot) * HKV + h) * D
                            : ((page * HKV + h) * pageSize + slot) * D;
                    System.arraycopy(k[b], (t * HKV + h) * D, kPool, dst, D);
                    System.arraycopy(v[b], (t * HKV + h) * D, vPool, dst, D);
                }
            }
        }
        long[] shape = layout == KvLayout.NHD ? new long[] {totalPages, pageSize, HKV, D}
                : new long[] {totalPages, HKV, pageSize, D};
        try (Tensor qt = tensor(attn, DType.F16, q, qoIndptr[batch], HQ, D);
             Tensor kt = tensor(attn, DType.F16, kPool, shape);
             Tensor vt = tensor(attn, DType.F16, vPool, shape);
             Tensor o = attn.allocate(DType.F16, qoIndptr[batch], HQ, D);
             BatchAttentionPlan plan = attn.planBatchPrefill(qoIndptr, table, HEADS, CAUSAL, null,
                     PlanOptions.DEFAULT)) {
            plan.run(qt, PagedKvCache.separate(kt, vt, layout), o, null);
            return read(attn, o);
        }
    }

    @Test
    void decodeEqualsPrefillWithOneQueryRow() {
        int kvLen = 9;
        float[] k = gaussian(kvLen * HKV * D);
        float[] v = gaussian(kvLen * HKV * D);
        float[] q = gaussian(HQ * D);
        PageTable table = new PageTable(new int[] {0, 1}, new int[] {0}, new int[] {kvLen}, kvLen);
        try (Tensor qt = tensor(attn, DType.BF16, q, 1, HQ, D);
             Tensor kt = tensor(attn, DType.BF16, k, 1, kvLen, HKV, D);
             Tensor vt = tensor(attn, DType.BF16, v, 1, kvLen, HKV, D);
             Tensor o1 = attn.allocate(DType.BF16, 1, HQ, D);
             Tensor o2 = attn.allocate(DType.BF16, 1, HQ, D);
             BatchAttentionPlan decode = attn.planBatchDecode(table, HEADS, CAUSAL, PlanOptions.DEFAULT);
             BatchAttentionPlan prefill = attn.planBatchPrefill(new int[] {0, 1}, table, HEADS, CAUSAL, null,
                     PlanOptions.DEFAULT)) {
            PagedKvCache cache = PagedKvCache.separate(kt, vt, KvLayout.NHD);
            decode.run(qt, cache, o1, null);
            prefill.run(qt, cache, o2, null);
            assertArrayEquals(read(attn, o1), read(attn, o2));
        }
    }

    @Test
    void combinedCacheEqualsSeparateTensors() {
        int pageSize = 2;
        int pages = 3;
        float[] k = gaussian(pages * pageSize * HKV * D);
        float[] v = gaussian(pages * pageSize * HKV * D);
        int pageElems = pageSize * HKV * D;
        float[] both = new float[2 * k.length];
        for (int p = 0; p < pages; p++) {
            System.arraycopy(k, p * pageElems, both, 2 * p * pageElems, pageElems);
            System.arraycopy(v, p * pageElems, both, (2 * p + 1) * pageElems, pageElems);
        }
        float[] q = gaussian(HQ * D);
        PageTable table = new PageTable(new int[] {0, 3}, new int[] {2, 0, 1}, new int[] {1}, pageSize);
        try (Tensor qt = tensor(attn, DType.F32, q, 1, HQ, D);
             Tensor kt = tensor(attn, DType.F32, k, pages, pageSize, HKV, D);
             Tensor vt = tensor(attn, DType.F32, v, pages, pageSize, HKV, D);
             Tensor kvt = tensor(attn, DType.F32, both, pages, 2, pageSize, HKV, D);
             Tensor o1 = attn.allocate(DType.F32, 1, HQ, D);
             Tensor o2 = attn.allocate(DType.F32, 1, HQ, D);
             BatchAttentionPlan plan = attn.planBatchDecode(table, HEADS, AttentionOptions.DEFAULT,
                     PlanOptions.DEFAULT)) {
            plan.run(qt, PagedKvCache.separate(kt, vt, KvLayout.NHD), o1, null);
            plan.run(qt, PagedKvCache.combined(kvt, KvLayout.NHD), o2, null);
            assertArrayEquals(read(attn, o1), read(attn, o2));
        }
    }

    @Test
    void causalCascadeOverASharedPrefixEqualsFlatAttention() {
        // Two requests share a 5-token prefix (pages 0..4, page size 1); request 0 owns 3 more
        // tokens (pages 5..7), request 1 owns 2 (pages 8, 9). Query rows: 2 and 3.
        int pool = 10;
        float[] k = gaussian(pool * HKV * D);
        float[] v = gaussian(pool * HKV * D);
        int[] qoIndptr = {0, 2, 5};
        float[] q = gaussian(5 * HQ * D);
        PageTable prefix = new PageTable(new int[] {0, 5}, new int[] {0, 1, 2, 3, 4}, new int[] {1}, 1);
        PageTable own = new PageTable(new int[] {0, 3, 5}, new int[] {5, 6, 7, 8, 9}, new int[] {1, 1}, 1);
        PageTable flat = new PageTable(new int[] {0, 8, 15}, new int[] {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 8, 9},
                new int[] {1, 1}, 1);
        try (Tensor qt = tensor(attn, DType.F32, q, 5, HQ, D);
             Tensor kt = tensor(attn, DType.F32, k, pool, 1, HKV, D);
             Tensor vt = tensor(attn, DType.F32, v, pool, 1, HKV, D);
             Tensor o1 = attn.allocate(DType.F32, 5, HQ, D);
             Tensor o2 = attn.allocate(DType.F32, 5, HQ, D);
             Tensor lse1 = attn.allocate(DType.F32, 5, HQ);
             Tensor lse2 = attn.allocate(DType.F32, 5, HQ);
             BatchAttentionPlan flatPlan = attn.planBatchPrefill(qoIndptr, flat, HEADS, CAUSAL, null,
                     PlanOptions.DEFAULT);
             CascadePlan cascade = attn.planCascade(List.of(new CascadeLevel(new int[] {0, 5}, prefix),
                     new CascadeLevel(qoIndptr, own)), HEADS, CAUSAL, PlanOptions.DEFAULT)) {
            PagedKvCache cache = PagedKvCache.separate(kt, vt, KvLayout.NHD);
            flatPlan.run(qt, cache, o1, lse1);
            cascade.run(qt, cache, o2, lse2);
            assertEquals(2, cascade.levels());
            ReferenceTestSupport.assertClose(toDouble(read(attn, o1)), read(attn, o2), 1e-6);
            ReferenceTestSupport.assertClose(toDouble(read(attn, lse1)), read(attn, lse2), 1e-6);
        }
    }

    /**
     * An FP8 q (spec §1) computes exactly what the same values in o's dtype (BF16 or F32, which
     * hold them exactly) do, in single, ragged and cascade attention: the reference reads q's values
     * and rounds o to o's own dtype.
     */
    @Test
    void fp8QueryEqualsItsValuesInTheOutputDtypeInEveryOperation() {
        int[] qoIndptr = {0, 2, 5};
        int[] kvIndptr = {0, 8, 15};
        float[] k = gaussian(15 * HKV * D);
        float[] v = gaussian(15 * HKV * D);
        PageTable prefix = new PageTable(new int[] {0, 5}, new int[] {0, 1, 2, 3, 4}, new int[] {1}, 1);
        PageTable own = new PageTable(new int[] {0, 3, 5}, new int[] {5, 6, 7, 8, 9}, new int[] {1, 1}, 1);
        for (DType q8 : new DType[] {DType.FP8_E4M3, DType.FP8_E5M2}) {
            for (DType out : new DType[] {DType.BF16, DType.F32}) {
                try (Tensor qt8 = tensor(attn, q8, gaussian(5 * HQ * D), 5, HQ, D);
                     Tensor qt16 = tensor(attn, out, read(attn, qt8), 5, HQ, D); // the twin: q of o's dtype
                     Tensor kt = tensor(attn, DType.BF16, k, 15, HKV, D);
                     Tensor vt = tensor(attn, DType.BF16, v, 15, HKV, D);
                     Tensor o8 = attn.allocate(out, 5, HQ, D);
                     Tensor o16 = attn.allocate(out, 5, HQ, D);
                     RaggedAttentionPlan ragged = attn.planBatchPrefillRagged(qoIndptr, kvIndptr, HEADS, CAUSAL, null,
                             PlanOptions.DEFAULT.withDtypes(q8, DType.BF16));
                     CascadePlan cascade = attn.planCascade(List.of(new CascadeLevel(new int[] {0, 5}, prefix),
                             new CascadeLevel(qoIndptr, own)), HEADS, CAUSAL, PlanOptions.DEFAULT)) {
                    String what = q8 + " q, " + out + " o";
                    ragged.run(qt8, new RaggedKv(kt, vt), o8, null);
                    // The twin's plan is made per run: a plan for q8 takes only q8.
                    try (RaggedAttentionPlan twin = attn.planBatchPrefillRagged(qoIndptr, kvIndptr, HEADS, CAUSAL,
                            null, PlanOptions.DEFAULT)) {
                        twin.run(qt16, new RaggedKv(kt, vt), o16, null);
                    }
                    assertArrayEquals(read(attn, o16), read(attn, o8), "ragged, " + what);
                    PagedKvCache cache = PagedKvCache.separate(kt.view(0, new long[] {15, 1, HKV, D},
                            new long[] {HKV * D, HKV * D, D, 1}), vt.view(0, new long[] {15, 1, HKV, D},
                            new long[] {HKV * D, HKV * D, D, 1}), KvLayout.NHD);
                    cascade.run(qt8, cache, o8, null);
                    cascade.run(qt16, cache, o16, null);
                    assertArrayEquals(read(attn, o16), read(attn, o8), "cascade, " + what);
                    try (Tensor q1 = qt8.view(0, new long[] {HQ, D}, new long[] {D, 1});
                         Tensor q1twin = qt16.view(0, new long[] {HQ, D}, new long[] {D, 1});
                         Tensor k1 = kt.view(0, new long[] {8, HKV, D}, new long[] {HKV * D, D, 1});
                         Tensor v1 = vt.view(0, new long[] {8, HKV, D}, new long[] {HKV * D, D, 1});
                         Tensor d8 = attn.allocate(out, HQ, D);
                         Tensor d16 = attn.allocate(out, HQ, D)) {
                        attn.singleDecode(q1, new ContiguousKv(k1, v1, KvLayout.NHD), AttentionOptions.DEFAULT, d8,
                                null);
                        attn.singleDecode(q1twin, new ContiguousKv(k1, v1, KvLayout.NHD), AttentionOptions.DEFAULT, d16,
                                null);
                        assertArrayEquals(read(attn, d16), read(attn, d8), "single decode, " + what);
                    }
                }
            }
        }
    }

    private static int[] indptr(int[] lens) {
        int[] out = new int[lens.length + 1];
        for (int i = 0; i < lens.length; i++) {
            out[i + 1] = out[i] + lens[i];
        }
        return out;
    }

    /** Rows {@code from .. to)} of a {@code [rows, heads, D]} array. */
    private static float[] slice(float[] x, int from, int to, int heads) {
        return Arrays.copyOfRange(x, from * heads * D, to * heads * D);
    }

    private static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i];
        }
        return out;
    }
}
