package org.attn4j.bench;

import java.util.ArrayList;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.CascadePlan;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * A workload made concrete on one backend: host inputs, page tables, the plan, and
 * {@code sets} copies of q, K, V and o on the device that timing rotates through so that
 * repetitions do not hit a warm cache.
 */
final class BenchCase implements AutoCloseable {
    final Workload w;
    final HostTensor hostQ;
    final HostTensor hostK;
    final HostTensor hostV;
    /** Request b's pages in attention order (the prefix first for a cascade). */
    final int[][] flatPages;
    final int numPages;
    private final List<Tensor> owned = new ArrayList<>();
    private final List<Tensor> qs = new ArrayList<>();
    private final List<Tensor> os = new ArrayList<>();
    private final List<PagedKvCache> caches = new ArrayList<>();
    private BatchAttentionPlan batchPlan;
    private CascadePlan cascadePlan;

    BenchCase(Workload w, long seed) {
        this.w = w;
        int p = w.pageSize();
        int prefixPages = w.sharedPrefix() / p;
        int next = prefixPages;
        flatPages = new int[w.batch()][];
        for (int b = 0; b < w.batch(); b++) {
            int own = (w.kvLens()[b] + p - 1) / p;
            int[] pages = new int[prefixPages + own];
            for (int i = 0; i < prefixPages; i++) {
                pages[i] = i;
            }
            for (int i = 0; i < own; i++) {
                pages[prefixPages + i] = next++;
            }
            flatPages[b] = pages;
        }
        numPages = Math.max(1, next);
        int hkv = w.heads().numKvHeads();
        int d = w.heads().headDimQk(); // Workload keeps Dvo == Dqk
        long[] cacheShape = w.layout() == KvLayout.NHD ? new long[] {numPages, p, hkv, d}
                : new long[] {numPages, hkv, p, d};
        hostQ = HostData.uniform(w.qDtype(), seed, w.totalQ(), w.heads().numQoHeads(), d);
        hostK = HostData.uniform(w.kvDtype(), seed + 1, cacheShape);
        hostV = HostData.uniform(w.kvDtype(), seed + 2, cacheShape);
    }

    /** Bytes of one input set on the device (q, K, V, o). */
    long setBytes() {
        return hostQ.byteSize() * 2 + hostK.byteSize() + hostV.byteSize();
    }

    int[] qoIndptr() {
        int[] ind = new int[w.batch() + 1];
        for (int b = 0; b < w.batch(); b++) {
            ind[b + 1] = ind[b] + w.qoLens()[b];
        }
        return ind;
    }

    /** The table attention reads for request b: own keys only for a cascade's last level. */
    PageTable ownTable() {
        int prefixPages = w.sharedPrefix() / w.pageSize();
        int[][] pages = new int[w.batch()][];
        for (int b = 0; b < w.batch(); b++) {
            pages[b] = java.util.Arrays.copyOfRange(flatPages[b], prefixPages, flatPages[b].length);
        }
        return PageTable.of(w.pageSize(), pages, w.kvLens());
    }

    /** Uploads {@code sets} input copies and plans the operation. */
    void prepare(AttentionBackend backend, int sets) {
        for (int s = 0; s < sets; s++) {
            Tensor q = keep(backend.upload(hostQ));
            Tensor k = keep(backend.upload(hostK));
            Tensor v = keep(backend.upload(hostV));
            Tensor o = keep(backend.allocate(w.outputDtype(), new long[] {w.totalQ(), w.heads().numQoHeads(),
                    w.heads().headDimVo()}));
            qs.add(q);
            os.add(o);
            caches.add(PagedKvCache.separate(k, v, w.layout()));
        }
        AttentionOptions options = AttentionOptions.DEFAULT.withCausal(w.causal());
        switch (w.op()) {
            case DECODE -> batchPlan = backend.planBatchDecode(ownTable(), w.heads(), options, PlanOptions.DEFAULT);
            case PREFILL -> batchPlan = backend.planBatchPrefill(qoIndptr(), ownTable(), w.heads(), options, null,
                    PlanOptions.DEFAULT);
            case CASCADE -> {
                int prefixPages = w.sharedPrefix() / w.pageSize();
                int[] prefix = new int[prefixPages];
                for (int i = 0; i < prefixPages; i++) {
                    prefix[i] = i;
                }
                PageTable shared = PageTable.of(w.pageSize(), new int[][] {prefix}, new int[] {w.sharedPrefix()});
                CascadeLevel top = new CascadeLevel(new int[] {0, w.batch()}, shared);
                CascadeLevel own = new CascadeLevel(qoIndptr(), ownTable());
                cascadePlan = backend.planCascade(List.of(top, own), w.heads(), options, PlanOptions.DEFAULT);
            }
        }
    }

    int sets() {
        return qs.size();
    }

    /** Queues one run on input set {@code s}. */
    void run(int s) {
        if (cascadePlan != null) {
            cascadePlan.run(qs.get(s), caches.get(s), os.get(s), null);
        } else {
            batchPlan.run(qs.get(s), caches.get(s), os.get(s), null);
        }
    }

    Tensor output(int s) {
        return os.get(s);
    }

    private Tensor keep(Tensor t) {
        owned.add(t);
        return t;
    }

    @Override
    public void close() {
        if (batchPlan != null) {
            batchPlan.close();
        }
        if (cascadePlan != null) {
            cascadePlan.close();
        }
        owned.forEach(Tensor::close);
        owned.clear();
        hostQ.close();
        hostK.close();
        hostV.close();
    }
}
