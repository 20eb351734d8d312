package org.attn4j.reference;

import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.HostTensor;

/**
 * KV append (spec §5): same-dtype tokens are copied bit for bit; others are divided by the
 * cache's scale in double and rounded once (to nearest even, FP8 saturating).
 */
final class ReferenceKvAppend {
    private ReferenceKvAppend() {}

    /**
     * Token {@code t} of k and v (flat memory with token stride {@code ks[0]}/{@code vs[0]} and
     * head stride {@code ks[1]}/{@code vs[1]}) goes to request {@code batchIndices[t]} at
     * {@code positions[t]}; tokens marked skipped ({@code skip[t]}) are left out.
     */
    static void append(HostTensor k, long[] ks, HostTensor v, long[] vs, int[] batchIndices, int[] positions,
                       boolean[] skip, PagedKvCache cache, PageTable table) {
        HostTensor kc = ReferenceMemory.contiguous(cache.k());
        HostTensor vc = ReferenceMemory.contiguous(cache.v());
        int heads = cache.numKvHeads();
        int pageSize = table.pageSize();
        for (int t = 0; t < positions.length; t++) {
            if (skip != null && skip[t]) {
                continue;
            }
            int page = table.pageOf(batchIndices[t], positions[t]);
            int slot = positions[t] % pageSize;
            for (int h = 0; h < heads; h++) {
                copy(k, t * ks[0] + h * ks[1], kc, cache.kIndex(page, slot, h), cache.kHeadDim(), cache.scales().k());
                copy(v, t * vs[0] + h * vs[1], vc, cache.vIndex(page, slot, h), cache.vHeadDim(), cache.scales().v());
            }
        }
    }

    private static void copy(HostTensor src, long from, HostTensor dst, long to, int count, float scale) {
        if (src.dtype() == dst.dtype()) {
            for (int d = 0; d < count; d++) {
                dst.setBits(to + d, src.getBits(from + d));
            }
            return;
        }
        for (int d = 0; d < count; d++) {
            ReferenceRounding.store(dst, to + d, (double) src.getFloat(from + d) / scale);
        }
    }
}
