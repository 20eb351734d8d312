package org.attn4j.kv;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * The paged cache of multi-head latent attention (MLA, spec §13): per token one compressed latent
 * row {@code ckv} of {@code dCkv} elements and one rotary row {@code kpe} of {@code dKpe}
 * elements, shared by every query head. Two pools, {@code ckv [numPages, pageSize, dCkv]} and
 * {@code kpe [numPages, pageSize, dKpe]} (one KV head, NHD-like); DeepSeek-V2/V3/R1 and Kimi K2
 * have {@code dCkv = 512}, {@code dKpe = 64}.
 *
 * <p>Element {@code d} of the ckv row of {@code (page, slot)} lives at flat index
 * {@code ckvOffset + page * ckvPageStride + slot * dCkv + d} of {@link #ckv()}, and likewise for
 * kpe; rows within a page are contiguous. The key of a token is {@code [ckv ; kpe]}, its value is
 * {@code ckv} itself: attention reads the value from the same bytes as the key.
 *
 * <p>FP8 caches dequantise with two scalar scales, {@code ckvScale} for the latent and
 * {@code kpeScale} for the rotary part (real value = stored value × scale), which append also
 * quantises with (spec §5). Immutable and thread-safe (the tensors are referred to, not copied).
 *
 * @param ckv           tensor holding the latent rows
 * @param kpe           tensor holding the rotary rows, ckv's dtype
 * @param numPages      pages addressable
 * @param pageSize      tokens per page
 * @param headDimCkv    {@code dCkv}, elements of a latent row (the value's and output's head dim)
 * @param headDimKpe    {@code dKpe}, elements of a rotary row
 * @param ckvOffset     flat element offset of page 0 of ckv
 * @param kpeOffset     flat element offset of page 0 of kpe
 * @param ckvPageStride elements from one ckv page to the next
 * @param kpePageStride elements from one kpe page to the next
 * @param ckvScale      dequantisation scale of ckv, finite and {@code > 0}
 * @param kpeScale      dequantisation scale of kpe, finite and {@code > 0}
 */
public record PagedMlaCache(Tensor ckv, Tensor kpe, int numPages, int pageSize, int headDimCkv, int headDimKpe,
                            long ckvOffset, long kpeOffset, long ckvPageStride, long kpePageStride, float ckvScale,
                            float kpeScale) {
    /**
     * Checks the geometry and the scales; the extent is checked against the tensors when a call uses the cache.
     *
     * @throws InvalidArgumentException when a tensor is missing, ckv and kpe differ in dtype, a count,
     *         offset or stride is out of range, or a scale is not finite and positive
     */
    public PagedMlaCache {
        if (ckv == null || kpe == null) {
            throw new InvalidArgumentException(ckv == null ? "ckv" : "kpe", "tensor is null");
        }
        if (ckv.dtype() != kpe.dtype()) {
            throw InvalidArgumentException.expected("kpe.dtype", "ckv's dtype " + ckv.dtype(), kpe.dtype());
        }
        if (numPages < 0 || pageSize < 1 || headDimCkv < 1 || headDimKpe < 1) {
            throw new InvalidArgumentException("cache", "expected numPages >= 0, pageSize, dCkv, dKpe >= 1, actual "
                    + numPages + ", " + pageSize + ", " + headDimCkv + ", " + headDimKpe);
        }
        if (ckvOffset < 0 || kpeOffset < 0) {
            throw InvalidArgumentException.expected(ckvOffset < 0 ? "ckvOffset" : "kpeOffset", ">= 0",
                    ckvOffset < 0 ? ckvOffset : kpeOffset);
        }
        if (ckvPageStride < 0 || kpePageStride < 0) {
            throw InvalidArgumentException.expected(ckvPageStride < 0 ? "ckvPageStride" : "kpePageStride", ">= 0",
                    ckvPageStride < 0 ? ckvPageStride : kpePageStride);
        }
        if (!(ckvScale > 0) || !Float.isFinite(ckvScale)) {
            throw InvalidArgumentException.expected("ckvScale", "a finite value > 0", ckvScale);
        }
        if (!(kpeScale > 0) || !Float.isFinite(kpeScale)) {
            throw InvalidArgumentException.expected("kpeScale", "a finite value > 0", kpeScale);
        }
    }

    /**
     * Two contiguous pools, {@code ckv [numPages, pageSize, dCkv]} and {@code kpe [numPages, pageSize, dKpe]},
     * with scales 1.
     *
     * @param ckv the latent pool
     * @param kpe the rotary pool, ckv's dtype, numPages and pageSize
     * @return the cache
     */
    public static PagedMlaCache of(Tensor ckv, Tensor kpe) {
        return of(ckv, kpe, 1f, 1f);
    }

    /**
     * Two contiguous pools with dequantisation scales (FP8 caches).
     *
     * @param ckv      the latent pool {@code [numPages, pageSize, dCkv]}
     * @param kpe      the rotary pool {@code [numPages, pageSize, dKpe]}
     * @param ckvScale the latent's scale, finite and {@code > 0}
     * @param kpeScale the rotary part's scale, finite and {@code > 0}
     * @return the cache
     */
    public static PagedMlaCache of(Tensor ckv, Tensor kpe, float ckvScale, float kpeScale) {
        if (ckv == null || kpe == null) {
            throw new InvalidArgumentException(ckv == null ? "ckv" : "kpe", "tensor is null");
        }
        long[] cs = ckv.shape();
        long[] ps = kpe.shape();
        if (cs.length != 3) {
            throw InvalidArgumentException.expected("ckv.shape", "rank 3 [numPages, pageSize, dCkv]",
                    Arrays.toString(cs));
        }
        if (ps.length != 3 || ps[0] != cs[0] || ps[1] != cs[1]) {
            throw InvalidArgumentException.expected("kpe.shape", "[" + cs[0] + ", " + cs[1] + ", dKpe] (ckv's pages "
                    + "and page size)", Arrays.toString(ps));
        }
        return new PagedMlaCache(ckv, kpe, Args.toInt(cs[0], "numPages"), Args.toInt(cs[1], "pageSize"),
                Args.toInt(cs[2], "ckv.shape[2]"), Args.toInt(ps[2], "kpe.shape[2]"), 0, 0,
                Args.multiply(cs[1], cs[2], "ckv.shape"), Args.multiply(ps[1], ps[2], "kpe.shape"), ckvScale,
                kpeScale);
    }

    /**
     * The element type of both pools.
     *
     * @return ckv's dtype
     */
    public DType dtype() {
        return ckv.dtype();
    }

    /**
     * Elements of a key, {@code dCkv + dKpe}.
     *
     * @return the key's head dim
     */
    public int keyDim() {
        return headDimCkv + headDimKpe;
    }

    /**
     * Flat index in {@link #ckv()} of element 0 of the latent row of {@code (page, slot)}.
     *
     * @param page a page id
     * @param slot a token slot within the page
     * @return the element's index
     */
    public long ckvIndex(int page, int slot) {
        return ckvOffset + page * ckvPageStride + (long) slot * headDimCkv;
    }

    /**
     * Flat index in {@link #kpe()} of element 0 of the rotary row of {@code (page, slot)}.
     *
     * @param page a page id
     * @param slot a token slot within the page
     * @return the element's index
     */
    public long kpeIndex(int page, int slot) {
        return kpeOffset + page * kpePageStride + (long) slot * headDimKpe;
    }

    /**
     * The two pools as a paged KV cache of one KV head in NHD: K is ckv ({@code Dqk = dCkv}), V
     * is kpe ({@code Dvo = dKpe}), scalar scales {@code (ckvScale, kpeScale)}. The same addresses,
     * so append writes an MLA cache as it writes a KV cache (spec §5). Not an attention view: MLA's
     * key is {@code [ckv ; kpe]} and its value ckv.
     *
     * @return the view
     */
    public PagedKvCache asKvPages() {
        return new PagedKvCache(ckv, kpe, KvLayout.NHD, numPages, pageSize, 1, headDimCkv, headDimKpe, ckvOffset,
                kpeOffset, ckvPageStride, kpePageStride, new KvScales(ckvScale, kpeScale));
    }
}
