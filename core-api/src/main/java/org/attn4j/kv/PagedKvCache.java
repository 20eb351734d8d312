package org.attn4j.kv;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.tensor.Tensor;

/**
 * K and V pages of a paged KV cache, as two tensors or one tensor holding both.
 *
 * <p>Element {@code (page, slot, head, d)} of K lives at flat index
 * {@code kOffset + page * kPageStride + slot * kSlotStride() + head * kHeadStride() + d} of
 * {@link #k()}, and likewise for V with its own head dim and strides. K rows hold
 * {@code kHeadDim} ({@code Dqk}) elements and V rows {@code vHeadDim} ({@code Dvo}); the two differ
 * in models such as DeepSeek's (192 and 128), spec §2. This one addressing rule covers separate and
 * combined caches, both layouts, and the contiguous and ragged K/V that single and ragged
 * operations view as pages; kernels see only strides.
 *
 * <p>Immutable and thread-safe (the tensors are referred to, not copied).
 *
 * @param k           tensor holding K (for a combined cache, the same tensor as {@code v})
 * @param v           tensor holding V
 * @param layout      {@link KvLayout#NHD} or {@link KvLayout#HND}
 * @param numPages    pages addressable
 * @param pageSize    tokens per page
 * @param numKvHeads  {@code Hkv}
 * @param kHeadDim    elements of a K row, {@code Dqk}
 * @param vHeadDim    elements of a V row, {@code Dvo}
 * @param kOffset     flat element offset of page 0 of K
 * @param vOffset     flat element offset of page 0 of V
 * @param kPageStride elements from one K page to the next
 * @param vPageStride elements from one V page to the next
 * @param scales      dequantisation scales (FP8 caches)
 */
public record PagedKvCache(Tensor k, Tensor v, KvLayout layout, int numPages, int pageSize, int numKvHeads,
                           int kHeadDim, int vHeadDim, long kOffset, long vOffset, long kPageStride,
                           long vPageStride, KvScales scales) {

    /**
     * Checks the geometry; the extent is checked against the tensors when a call uses the cache.
     *
     * @throws InvalidArgumentException when a tensor, the layout or the scales is missing, K and V
     *         differ in dtype, or a count, offset or stride is out of range
     */
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
        if (numPages < 0 || pageSize < 1 || numKvHeads < 1 || kHeadDim < 1 || vHeadDim < 1) {
            throw new InvalidArgumentException("cache", "expected numPages >= 0, pageSize, Hkv, Dqk, Dvo >= 1, actual "
                    + numPages + ", " + pageSize + ", " + numKvHeads + ", " + kHeadDim + ", " + vHeadDim);
        }
        // Negative strides or offsets would send a kernel below the tensor's start, which on a GPU
        // is a memory fault, not an exception; the extent above the start is checked exactly
        // against the tensors when a call uses the cache.
        if (kOffset < 0 || vOffset < 0) {
            throw InvalidArgumentException.expected(kOffset < 0 ? "kOffset" : "vOffset", ">= 0",
                    kOffset < 0 ? kOffset : vOffset);
        }
        if (kPageStride < 0 || vPageStride < 0) {
            throw InvalidArgumentException.expected(kPageStride < 0 ? "kPageStride" : "vPageStride", ">= 0",
                    kPageStride < 0 ? kPageStride : vPageStride);
        }
    }

    /**
     * A cache whose K and V rows have one head dim and whose K and V pages one stride.
     *
     * @param k          tensor holding K
     * @param v          tensor holding V
     * @param layout     NHD or HND
     * @param numPages   pages addressable
     * @param pageSize   tokens per page
     * @param numKvHeads {@code Hkv}
     * @param headDim    {@code D} of K and V
     * @param kOffset    flat element offset of page 0 of K
     * @param vOffset    flat element offset of page 0 of V
     * @param pageStride elements from one page to the next, K and V alike
     * @param scales     dequantisation scales
     */
    public PagedKvCache(Tensor k, Tensor v, KvLayout layout, int numPages, int pageSize, int numKvHeads,
                        int headDim, long kOffset, long vOffset, long pageStride, KvScales scales) {
        this(k, v, layout, numPages, pageSize, numKvHeads, headDim, headDim, kOffset, vOffset, pageStride, pageStride,
                scales);
    }

    /**
     * Separate K and V tensors, each {@code [numPages, pageSize, Hkv, D]} (NHD) or
     * {@code [numPages, Hkv, pageSize, D]} (HND), with scales 1.
     *
     * @param k      keys, contiguous
     * @param v      values, k's dtype and shape but for the head dim
     * @param layout NHD or HND
     * @return the cache
     */
    public static PagedKvCache separate(Tensor k, Tensor v, KvLayout layout) {
        return separate(k, v, layout, KvScales.ONE);
    }

    /**
     * Separate K and V tensors with dequantisation scales. V's head dim may differ from K's
     * (spec §2: K pages hold {@code Dqk}, V pages {@code Dvo}); every other dim must match.
     *
     * @param k      keys, contiguous {@code [numPages, pageSize, Hkv, Dqk]} (NHD) or
     *               {@code [numPages, Hkv, pageSize, Dqk]} (HND)
     * @param v      values, k's dtype and shape but for the last dim, {@code Dvo}
     * @param layout NHD or HND
     * @param scales the dequantisation scales
     * @return the cache
     */
    public static PagedKvCache separate(Tensor k, Tensor v, KvLayout layout, KvScales scales) {
        if (k == null || v == null) {
            throw new InvalidArgumentException(k == null ? "k" : "v", "tensor is null");
        }
        long[] ks = k.shape();
        long[] vs = v.shape();
        if (ks.length != 4) {
            throw InvalidArgumentException.expected("k.shape", "rank 4 " + pagedShapeName(layout), Arrays.toString(ks));
        }
        if (vs.length != 4 || !Arrays.equals(Arrays.copyOf(ks, 3), Arrays.copyOf(vs, 3))) {
            throw InvalidArgumentException.expected("v.shape", "k's shape but for the head dim ["
                    + ks[0] + ", " + ks[1] + ", " + ks[2] + ", Dvo]", Arrays.toString(vs));
        }
        Args.notNull(layout, "layout");
        int pageSize = Args.toInt(layout == KvLayout.NHD ? ks[1] : ks[2], "pageSize");
        int heads = Args.toInt(layout == KvLayout.NHD ? ks[2] : ks[1], "numKvHeads");
        long kPageElems = Args.multiply(Args.multiply(ks[1], ks[2], "k.shape"), ks[3], "k.shape");
        long vPageElems = Args.multiply(Args.multiply(vs[1], vs[2], "v.shape"), vs[3], "v.shape");
        return new PagedKvCache(k, v, layout, Args.toInt(ks[0], "numPages"), pageSize, heads,
                Args.toInt(ks[3], "k.shape[3]"), Args.toInt(vs[3], "v.shape[3]"), 0, 0, kPageElems, vPageElems,
                scales);
    }

    /**
     * One tensor {@code [numPages, 2, pageSize, Hkv, D]} (NHD) or
     * {@code [numPages, 2, Hkv, pageSize, D]} (HND), K first, with scales 1. One tensor has one
     * head dim: a cache whose V rows are shorter than its K rows is made with {@link #separate}.
     *
     * @param kv     K and V of every page, contiguous
     * @param layout NHD or HND
     * @return the cache
     */
    public static PagedKvCache combined(Tensor kv, KvLayout layout) {
        return combined(kv, layout, KvScales.ONE);
    }

    /**
     * One tensor holding K then V of every page, with dequantisation scales.
     *
     * @param kv     {@code [numPages, 2, pageSize, Hkv, D]} (NHD) or {@code [numPages, 2, Hkv, pageSize, D]} (HND)
     * @param layout NHD or HND
     * @param scales the dequantisation scales
     * @return the cache
     */
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
        Args.notNull(layout, "layout");
        int pageSize = Args.toInt(layout == KvLayout.NHD ? s[2] : s[3], "pageSize");
        int heads = Args.toInt(layout == KvLayout.NHD ? s[3] : s[2], "numKvHeads");
        long pageElems = Args.multiply(Args.multiply(s[2], s[3], "kv.shape"), s[4], "kv.shape");
        return new PagedKvCache(kv, kv, layout, Args.toInt(s[0], "numPages"), pageSize, heads,
                Args.toInt(s[4], "headDim"), 0, pageElems, Args.multiply(2, pageElems, "kv.shape"), scales);
    }

    private static String pagedShapeName(KvLayout layout) {
        return layout == KvLayout.NHD ? "[numPages, pageSize, Hkv, D]" : "[numPages, Hkv, pageSize, D]";
    }

    /**
     * The element type of K and V.
     *
     * @return K's dtype
     */
    public org.attn4j.tensor.DType dtype() {
        return k.dtype();
    }

    /**
     * Whether K and V are one tensor.
     *
     * @return true for a combined cache
     */
    public boolean isCombined() {
        return k == v;
    }

    /**
     * Whether V rows are as long as K rows ({@code Dvo == Dqk}).
     *
     * @return true when the head dims are equal
     */
    public boolean sameHeadDims() {
        return kHeadDim == vHeadDim;
    }

    /**
     * Elements from one token slot of a K page to the next.
     *
     * @return {@code Hkv * Dqk} for NHD, {@code Dqk} for HND
     */
    public long kSlotStride() {
        return slotStride(kHeadDim);
    }

    /**
     * Elements from one token slot of a V page to the next.
     *
     * @return {@code Hkv * Dvo} for NHD, {@code Dvo} for HND
     */
    public long vSlotStride() {
        return slotStride(vHeadDim);
    }

    /**
     * Elements from one KV head of a K page to the next.
     *
     * @return {@code Dqk} for NHD, {@code pageSize * Dqk} for HND
     */
    public long kHeadStride() {
        return headStride(kHeadDim);
    }

    /**
     * Elements from one KV head of a V page to the next.
     *
     * @return {@code Dvo} for NHD, {@code pageSize * Dvo} for HND
     */
    public long vHeadStride() {
        return headStride(vHeadDim);
    }

    private long slotStride(int d) {
        return layout == KvLayout.NHD ? (long) numKvHeads * d : d;
    }

    private long headStride(int d) {
        return layout == KvLayout.NHD ? d : (long) pageSize * d;
    }

    /**
     * Flat index in {@link #k()} of element {@code (page, slot, head, 0)}.
     *
     * @param page a page id
     * @param slot a token slot within the page
     * @param head a KV head
     * @return the element's index
     */
    public long kIndex(int page, int slot, int head) {
        return kOffset + page * kPageStride + slot * kSlotStride() + head * kHeadStride();
    }

    /**
     * Flat index in {@link #v()} of element {@code (page, slot, head, 0)}.
     *
     * @param page a page id
     * @param slot a token slot within the page
     * @param head a KV head
     * @return the element's index
     */
    public long vIndex(int page, int slot, int head) {
        return vOffset + page * vPageStride + slot * vSlotStride() + head * vHeadStride();
    }

    /**
     * This cache with other dequantisation scales.
     *
     * @param newScales the scales
     * @return the cache
     */
    public PagedKvCache withScales(KvScales newScales) {
        return new PagedKvCache(k, v, layout, numPages, pageSize, numKvHeads, kHeadDim, vHeadDim, kOffset, vOffset,
                kPageStride, vPageStride, newScales);
    }
    /**
     * Scale elements from one page to the next in the K and V scale tensors: {@code pageSize * Hkv}
     * for per-token scale pools, 0 for per-head and scalar scales (spec §2).
     *
     * @return the stride
     */
    public long scalePageStride() {
        return scales.mode() == KvScaleMode.PER_TOKEN ? (long) pageSize * numKvHeads : 0;
    }

    /**
     * Scale elements from one token slot to the next: {@code Hkv} (NHD) or 1 (HND) for per-token
     * scale pools, 0 otherwise.
     *
     * @return the stride
     */
    public long scaleSlotStride() {
        return scales.mode() != KvScaleMode.PER_TOKEN ? 0 : layout == KvLayout.NHD ? numKvHeads : 1;
    }

    /**
     * Scale elements from one KV head to the next: 1 (NHD) or {@code pageSize} (HND) for
     * per-token scale pools, 1 for per-head scales, 0 for scalar ones.
     *
     * @return the stride
     */
    public long scaleHeadStride() {
        return switch (scales.mode()) {
            case SCALAR -> 0;
            case PER_HEAD -> 1;
            case PER_TOKEN -> layout == KvLayout.NHD ? 1 : pageSize;
        };
    }

    /**
     * Flat index in {@link KvScales#kTensor()} and {@link KvScales#vTensor()} of the scale of
     * {@code (page, slot, head)}: the one addressing rule of per-head and per-token scales.
     *
     * @param page a page id
     * @param slot a token slot within the page
     * @param head a KV head
     * @return the scale's index (0 for scalar scales)
     */
    public long scaleIndex(int page, int slot, int head) {
        return page * scalePageStride() + slot * scaleSlotStride() + head * scaleHeadStride();
    }
}
