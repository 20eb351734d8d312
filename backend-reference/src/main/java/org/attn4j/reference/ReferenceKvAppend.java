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

    static void append(HostTensor k, HostTensor v, int[] batchIndices, int[] positions, PagedKvCache cache,
                       PageTable table) {
        HostTensor kc = ReferenceTensor.host(cache.k());
        HostTensor vc = ReferenceTensor.host(cache.v());
        int heads = cache.numKvHeads();
        int headDim = cache.headDim();
        int pageSize = table.pageSize();
        for (int t = 0; t < positions.length; t++) {
            int page = table.pageOf(batchIndices[t], positions[t]);
            int slot = positions[t] % pageSize;
            for (int h = 0; h < heads; h++) {
                long src = ((long) t * heads + h) * headDim;
                copy(k, src, kc, cache.kIndex(page, slot, h), headDim, cache.scales().k());
                copy(v, src, vc, cache.vIndex(page, slot, h), headDim, cache.scales().v());
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
