package org.attn4j.reference;

import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/**
 * KV append (spec §5): same-dtype tokens are copied bit for bit; others are divided by the
 * cache's scale in double and rounded once (to nearest even, FP8 saturating). The scale is the
 * scalar, the KV head's, or, per token, computed from the row's absolute maximum and written to
 * the scale pool.
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
        KvScales scales = cache.scales();
        HostTensor kScales = scales.isScalar() ? null : ReferenceMemory.contiguous(scales.kTensor());
        HostTensor vScales = scales.isScalar() ? null : ReferenceMemory.contiguous(scales.vTensor());
        boolean perToken = scales.mode() == KvScaleMode.PER_TOKEN;
        for (int t = 0; t < positions.length; t++) {
            if (skip != null && skip[t]) {
                continue;
            }
            int page = table.pageOf(batchIndices[t], positions[t]);
            int slot = positions[t] % pageSize;
            for (int h = 0; h < heads; h++) {
                long kFrom = t * ks[0] + h * ks[1];
                long vFrom = t * vs[0] + h * vs[1];
                long at = cache.scaleIndex(page, slot, h);
                float kScale;
                float vScale;
                if (perToken) {
                    kScale = rowScale(k, kFrom, cache.kHeadDim(), cache.dtype());
                    vScale = rowScale(v, vFrom, cache.vHeadDim(), cache.dtype());
                    kScales.setFloat(at, kScale);
                    vScales.setFloat(at, vScale);
                } else if (kScales != null) {
                    kScale = kScales.getFloat(at);
                    vScale = vScales.getFloat(at);
                } else {
                    kScale = scales.k();
                    vScale = scales.v();
                }
                copy(k, kFrom, kc, cache.kIndex(page, slot, h), cache.kHeadDim(), kScale);
                copy(v, vFrom, vc, cache.vIndex(page, slot, h), cache.vHeadDim(), vScale);
            }
        }
    }

    /**
     * spec §5's per-token scale of one row: the F32 quotient {@code amax / max} over the row's
     * finite elements, 1 where it is below the smallest normal float (a zero row among them).
     */
    static float rowScale(HostTensor src, long from, int count, DType format) {
        float amax = 0f;
        for (int d = 0; d < count; d++) {
            float x = Math.abs(src.getFloat(from + d));
            if (Float.isFinite(x) && x > amax) {
                amax = x;
            }
        }
        float max = format == DType.FP8_E4M3 ? 448f : 57344f;
        float scale = amax / max; // binary32 division, rounded to nearest even
        return scale < Float.MIN_NORMAL ? 1f : scale;
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
