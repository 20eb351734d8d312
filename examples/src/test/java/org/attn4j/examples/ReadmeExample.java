package org.attn4j.examples;

import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageManager;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The steps of the README's quick start as a method, so that {@link ReadmeExampleTest} can check
 * its result against a plain softmax. {@link DocSnippetsTest} compiles and runs the README's own
 * block.
 */
public final class ReadmeExample {
    private ReadmeExample() {}

    /** One decode step for two requests over a paged bf16 cache; returns o on the host. */
    public static HostTensor decodeStep(AttentionBackend attn, HostTensor promptK, HostTensor promptV,
                                        HostTensor q) {
        HeadConfig heads = new HeadConfig(32, 8, 128);       // Hq, Hkv, D (GQA, g = 4)
        PageManager pages = new PageManager(64, 16);         // 64 pages of 16 tokens
        int a = pages.addRequest();
        int b = pages.addRequest();
        pages.grow(a, 100);                                  // prompt lengths
        pages.grow(b, 37);
        PageTable table = pages.pageTable(a, b);
        AppendPositions where = pages.appendPositions(new int[] {a, b}, new int[] {100, 37});

        try (Tensor k = attn.allocate(DType.BF16, 64, 16, 8, 128);   // [pages, pageSize, Hkv, D]
             Tensor v = attn.allocate(DType.BF16, 64, 16, 8, 128);
             Tensor newK = attn.upload(promptK);                      // [137, Hkv, D]
             Tensor newV = attn.upload(promptV);
             Tensor qd = attn.upload(q);                              // [2, Hq, D]
             Tensor o = attn.allocate(DType.BF16, 2, 32, 128);
             Tensor lse = attn.allocate(DType.F32, 2, 32)) {
            PagedKvCache cache = PagedKvCache.separate(k, v, KvLayout.NHD);
            attn.appendPagedKv(newK, newV, where, cache, table);
            try (BatchAttentionPlan plan = attn.planBatchDecode(table, heads, AttentionOptions.defaults(),
                    PlanOptions.DEFAULT)) {
                plan.run(qd, cache, o, lse);                          // once per layer
            }
            return attn.download(o);
        }
    }
}
