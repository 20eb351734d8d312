package org.attn4j.kv;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.tensor.Tensor;

/**
 * K and V pages of a paged KV cache, as two tensors or one tensor holding both.
 *
 * <p>Element {@code (page, slot, head, d)} of K lives at flat index
 * {@code kOffset + page * pageStride + slot * slotStride() + head * headStride() + d} of
 * {@link #k()}, and likewise for V. This one addressing rule covers separate and combined
 * caches, both layouts, and the contiguous and ragged K/V that single and ragged operations
 * view as pages; kernels see only strides.
 *
 * @param k           tensor holding K (for a combined cache, the same tensor as {@code v})
 * @param v           tensor holding V
 * @param layout      {@link KvLayout#NHD} or {@link KvLayout#HND}
 * @param numPages    pages addressable
 * @param pageSize    tokens per page
 * @param numKvHeads  {@code Hkv}
 * @param headDim     {@code D}
 * @param kOffset     flat element offset of page 0 of K
 * @param vOffset     flat element offset of page 0 of V
 * @param pageStride  elements from one page to the next
 * @param scales      dequantisation scales (FP8 caches)
 */
public record PagedKvCache(Tensor k, Tensor v, KvLayout layout, int numPages, int pageSize, int numKvHeads,
                           int headDim, long kOffset, long vOffset, long pageStride, KvScales scales) {

    public PagedKvCache {
        if (k == null || v == null) {
            throw new InvalidArgumentException(k == null ? "k" : "v", "tensor is null");
        }
        if (layout == null || scales == null) {
            throw new InvalidArgumentException(layout == null ? "layout" : "scales", "is null");
        }
        if (k.dtype() != v.dtype()) {
            throw InvalidArgumentException.expected("v.dtype", "k's dtype " + k.dtype(), v.dtype());
        }
        if (numPages < 0 || pageSize < 1 || numKvHeads < 1 || headDim < 1) {
            throw new InvalidArgumentException("cache", "expected numPages >= 0, pageSize, Hkv, D >= 1, actual "
                    + numPages + ", " + pageSize + ", " + numKvHeads + ", " + headDim);
        }
        // The run-time extent check bounds only the last page; negative strides or offsets would
        // send a kernel below the tensor's start, which on a GPU is a memory fault, not an exception.
        if (kOffset < 0 || vOffset < 0) {
            throw InvalidArgumentException.expected(kOffset < 0 ? "kOffset" : "vOffset", ">= 0",
                    kOffset < 0 ? kOffset : vOffset);
        }
        if (pageStride < 0) {
            throw InvalidArgumentException.expected("pageStride", ">= 0", pageStride);
        }
    }

    /** Separate K and V tensors, each {@code [numPages, pageSize, Hkv, D]} (NHD) or {@code [numPages, Hkv, pageSize, D]} (HND). */
    public static PagedKvCache separate(Tensor k, Tensor v, KvLayout layout) {
        return separate(k, v, layout, KvScales.ONE);
    }

    public static PagedKvCache separate(Tensor k, Tensor v, KvLayout layout, KvScales scales) {
        if (k == null || v == null) {
            throw new InvalidArgumentException(k == null ? "k" : "v", "tensor is null");
        }
        long[] ks = k.shape();
        long[] vs = v.shape();
        if (ks.length != 4) {
            throw InvalidArgumentException.expected("k.shape", "rank 4 " + pagedShapeName(layout), Arrays.toString(ks));
        }
        if (!Arrays.equals(ks, vs)) {
            throw InvalidArgumentException.expected("v.shape", "k's shape " + Arrays.toString(ks), Arrays.toString(vs));
        }
        int pageSize = Math.toIntExact(layout == KvLayout.NHD ? ks[1] : ks[2]);
        int heads = Math.toIntExact(layout == KvLayout.NHD ? ks[2] : ks[1]);
        long pageElems = ks[1] * ks[2] * ks[3];
        return new PagedKvCache(k, v, layout, Math.toIntExact(ks[0]), pageSize, heads, Math.toIntExact(ks[3]),
                0, 0, pageElems, scales);
    }

    /** One tensor {@code [numPages, 2, pageSize, Hkv, D]} (NHD) or {@code [numPages, 2, Hkv, pageSize, D]} (HND), K first. */
    public static PagedKvCache combined(Tensor kv, KvLayout layout) {
        return combined(kv, layout, KvScales.ONE);
    }

    public static PagedKvCache combined(Tensor kv, KvLayout layout, KvScales scales) {
        if (kv == null) {
            throw new InvalidArgumentException("kv", "tensor is null");
        }
        long[] s = kv.shape();
        if (s.length != 5 || s[1] != 2) {
            throw InvalidArgumentException.expected("kv.shape",
                    "rank 5 with dim 1 = 2: " + (layout == KvLayout.NHD ? "[numPages, 2, pageSize, Hkv, D]"
                            : "[numPages, 2, Hkv, pageSize, D]"), Arrays.toString(s));
        }
        int pageSize = Math.toIntExact(layout == KvLayout.NHD ? s[2] : s[3]);
        int heads = Math.toIntExact(layout == KvLayout.NHD ? s[3] : s[2]);
        long pageElems = s[2] * s[3] * s[4];
        return new PagedKvCache(kv, kv, layout, Math.toIntExact(s[0]), pageSize, heads, Math.toIntExact(s[4]),
                0, pageElems, 2 * pageElems, scales);
    }

    private static String pagedShapeName(KvLayout layout) {
        return layout == KvLayout.NHD ? "[numPages, pageSize, Hkv, D]" : "[numPages, Hkv, pageSize, D]";
    }

    public org.attn4j.tensor.DType dtype() {
        return k.dtype();
    }

    public boolean isCombined() {
        return k == v;
    }

    public long slotStride() {
        return layout == KvLayout.NHD ? (long) numKvHeads * headDim : headDim;
    }

    public long headStride() {
        return layout == KvLayout.NHD ? headDim : (long) pageSize * headDim;
    }

    /** Flat index in {@link #k()} of element {@code (page, slot, head, 0)}. */
    public long kIndex(int page, int slot, int head) {
        return kOffset + page * pageStride + slot * slotStride() + head * headStride();
    }

    public long vIndex(int page, int slot, int head) {
        return vOffset + page * pageStride + slot * slotStride() + head * headStride();
    }

    public PagedKvCache withScales(KvScales newScales) {
        return new PagedKvCache(k, v, layout, numPages, pageSize, numKvHeads, headDim, kOffset, vOffset, pageStride,
                newScales);
    }
}
