package org.attn4j.conformance.cases;

import java.util.SplittableRandom;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/**
 * Host tensors of a paged KV pool holding some token sequences: pages handed out in a random
 * permutation, extra pages no sequence references, and every slot no sequence owns filled with
 * garbage (random bit patterns, NaN and Inf) or zeros.
 *
 * <p>Not thread-safe: the tensors are mutable host memory, with {@link HostTensor}'s rules. The
 * pool owns them; {@link #close()} frees them once.
 *
 * @param k        K pages, or K and V together when {@code combined}
 * @param v        V pages ({@code k} itself when combined)
 * @param combined one tensor {@code [numPages, 2, ...]}
 * @param layout   page layout
 * @param table    the sequences' page table
 * @param numPages pages in the pool
 * @param scales   dequantisation scales; the scalar ones when {@code tensorScales} is set
 * @param tensorScales per-head or per-token scales as host tensors, or null for the scalar ones
 */
public record PagedPool(HostTensor k, HostTensor v, boolean combined, KvLayout layout, PageTable table, int numPages,
                        KvScales scales, TensorScales tensorScales) implements AutoCloseable {

    /**
     * Per-head ({@code [Hkv]}) or per-token (spec §2's scale pools) K and V scales, F32 host
     * tensors the pool owns.
     *
     * @param mode per head or per token
     * @param k    K's scales
     * @param v    V's scales
     */
    public record TensorScales(KvScaleMode mode, HostTensor k, HostTensor v) {}

    /** What fills the slots no sequence owns. */
    public enum Fill {
        /** Random bit patterns, a quarter of them NaN or ±Inf codes of the dtype. */
        GARBAGE,
        /** Zero bits. */
        ZEROS
    }

    /**
     * A pool holding sequences of stored values, each rounded to the dtype's nearest code.
     *
     * @param kSeqs           K of sequence {@code s}: {@code [lens[s], Hkv, D]} stored values
     * @param vSeqs           V of each sequence, shaped as {@code kSeqs}
     * @param lens            tokens per sequence
     * @param hkv             {@code Hkv}
     * @param d               {@code D}
     * @param dtype           the pool's dtype
     * @param scales          dequantisation scales the pool reports; values are stored as given
     * @param pageSize        tokens per page
     * @param layout          page layout
     * @param combined        K and V in one tensor {@code [numPages, 2, ...]}
     * @param extraPages      pages beyond those the sequences need, referenced by none
     * @param permutationSeed seed of the page permutation and of the garbage
     * @param fill            what fills the slots no sequence owns
     * @return a new pool, which the caller closes; at least one page even with no tokens
     */
    public static PagedPool build(float[][] kSeqs, float[][] vSeqs, int[] lens, int hkv, int d, DType dtype,
                                  KvScales scales, int pageSize, KvLayout layout, boolean combined, int extraPages,
                                  long permutationSeed, Fill fill) {
        return build(kSeqs, vSeqs, lens, hkv, d, d, dtype, scales, pageSize, layout, combined, extraPages,
                permutationSeed, fill);
    }

    /**
     * As {@link #build(float[][], float[][], int[], int, int, DType, KvScales, int, KvLayout, boolean, int, long,
     * Fill)}, V's rows {@code dv} long ({@code Dvo}) where K's are {@code d} ({@code Dqk}); K and V
     * then live in separate tensors (spec §2).
     *
     * @param kSeqs           K of sequence {@code s}: {@code [lens[s], Hkv, Dqk]}
     * @param vSeqs           V of each sequence: {@code [lens[s], Hkv, Dvo]}
     * @param lens            tokens per sequence
     * @param hkv             {@code Hkv}
     * @param d               {@code Dqk}
     * @param dv              {@code Dvo}
     * @param dtype           the pool's dtype
     * @param scales          dequantisation scales the pool reports; values are stored as given
     * @param pageSize        tokens per page
     * @param layout          page layout
     * @param combined        K and V in one tensor (only when {@code d == dv})
     * @param extraPages      pages beyond those the sequences need, referenced by none
     * @param permutationSeed seed of the page permutation and of the garbage
     * @param fill            what fills the slots no sequence owns
     * @return a new pool, which the caller closes
     */
    public static PagedPool build(float[][] kSeqs, float[][] vSeqs, int[] lens, int hkv, int d, int dv,
                                  DType dtype, KvScales scales, int pageSize, KvLayout layout, boolean combined,
                                  int extraPages, long permutationSeed, Fill fill) {
        return buildBits(bits(dtype, kSeqs), bits(dtype, vSeqs), lens, hkv, d, dv, dtype, scales, pageSize, layout,
                combined, extraPages, permutationSeed, fill);
    }

    private static int[][] bits(DType dtype, float[][] seqs) {
        int[][] out = new int[seqs.length][];
        for (int s = 0; s < seqs.length; s++) {
            out[s] = new int[seqs[s].length];
            for (int i = 0; i < out[s].length; i++) {
                out[s][i] = SpecFormats.encode(dtype, seqs[s][i]);
            }
        }
        return out;
    }

    /**
     * As {@link #build}, with the stored bit patterns given (every NaN code, not only the one a store writes).
     *
     * @param kSeqs           K codes of sequence {@code s}: {@code [lens[s], Hkv, D]}, in the low bits of each int
     * @param vSeqs           V codes of each sequence, shaped as {@code kSeqs}
     * @param lens            tokens per sequence
     * @param hkv             {@code Hkv}
     * @param d               {@code D}
     * @param dtype           the pool's dtype
     * @param scales          dequantisation scales the pool reports
     * @param pageSize        tokens per page
     * @param layout          page layout
     * @param combined        K and V in one tensor {@code [numPages, 2, ...]}
     * @param extraPages      pages beyond those the sequences need, referenced by none
     * @param permutationSeed seed of the page permutation and of the garbage
     * @param fill            what fills the slots no sequence owns
     * @return a new pool, which the caller closes; at least one page even with no tokens
     */
    public static PagedPool buildBits(int[][] kSeqs, int[][] vSeqs, int[] lens, int hkv, int d, DType dtype,
                                      KvScales scales, int pageSize, KvLayout layout, boolean combined,
                                      int extraPages, long permutationSeed, Fill fill) {
        return buildBits(kSeqs, vSeqs, lens, hkv, d, d, dtype, scales, pageSize, layout, combined, extraPages,
                permutationSeed, fill);
    }

    /**
     * As {@link #buildBits(int[][], int[][], int[], int, int, DType, KvScales, int, KvLayout, boolean, int, long,
     * Fill)}, with V rows of another head dim than K rows (then not combined).
     *
     * @param kSeqs           K codes of sequence {@code s}: {@code [lens[s], Hkv, Dqk]}, in the low bits of each int
     * @param vSeqs           V codes of each sequence: {@code [lens[s], Hkv, Dvo]}
     * @param lens            tokens per sequence
     * @param hkv             {@code Hkv}
     * @param d               {@code Dqk}
     * @param dv              {@code Dvo}
     * @param dtype           the pool's dtype
     * @param scales          dequantisation scales the pool reports
     * @param pageSize        tokens per page
     * @param layout          page layout
     * @param combined        K and V in one tensor {@code [numPages, 2, ...]} (only when {@code d == dv})
     * @param extraPages      pages beyond those the sequences need, referenced by none
     * @param permutationSeed seed of the page permutation and of the garbage
     * @param fill            what fills the slots no sequence owns
     * @return a new pool, which the caller closes; at least one page even with no tokens
     * @throws IllegalArgumentException if a combined pool is asked for with two head dims
     */
    public static PagedPool buildBits(int[][] kSeqs, int[][] vSeqs, int[] lens, int hkv, int d, int dv, DType dtype,
                                       KvScales scales, int pageSize, KvLayout layout, boolean combined,
                                       int extraPages, long permutationSeed, Fill fill) {
        if (combined && d != dv) {
            throw new IllegalArgumentException("a combined pool has one head dim, not " + d + " and " + dv);
        }
        int used = 0;
        int[] pagesOf = new int[lens.length];
        for (int s = 0; s < lens.length; s++) {
            pagesOf[s] = (lens[s] + pageSize - 1) / pageSize;
            used += pagesOf[s];
        }
        int numPages = Math.max(1, used + extraPages);
        SplittableRandom rng = new SplittableRandom(permutationSeed);
        int[] perm = permutation(numPages, rng);
        int[][] pages = new int[lens.length][];
        int next = 0;
        for (int s = 0; s < lens.length; s++) {
            pages[s] = new int[pagesOf[s]];
            for (int i = 0; i < pagesOf[s]; i++) {
                pages[s][i] = perm[next++];
            }
        }
        PageTable table = PageTable.of(pageSize, pages, lens);
        long pageElems = (long) pageSize * hkv * d;
        HostTensor k;
        HostTensor v;
        if (combined) {
            k = layout == KvLayout.NHD ? HostTensor.allocate(dtype, numPages, 2, pageSize, hkv, d)
                    : HostTensor.allocate(dtype, numPages, 2, hkv, pageSize, d);
            v = k;
        } else {
            k = HostTensor.allocate(dtype, layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv, d}
                    : new long[] {numPages, hkv, pageSize, d});
            v = HostTensor.allocate(dtype, layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv, dv}
                    : new long[] {numPages, hkv, pageSize, dv});
        }
        if (fill == Fill.GARBAGE) {
            garbage(k, rng);
            if (!combined) {
                garbage(v, rng);
            }
        }
        long pageStride = combined ? 2 * pageElems : pageElems;
        long vOffset = combined ? pageElems : 0;
        long slotStride = layout == KvLayout.NHD ? (long) hkv * d : d;
        long headStride = layout == KvLayout.NHD ? d : (long) pageSize * d;
        for (int s = 0; s < lens.length; s++) {
            for (int t = 0; t < lens[s]; t++) {
                int page = pages[s][t / pageSize];
                int slot = t % pageSize;
                for (int h = 0; h < hkv; h++) {
                    long base = page * pageStride + slot * slotStride + h * headStride;
                    int src = (t * hkv + h) * d;
                    for (int i = 0; i < d; i++) {
                        k.setBits(base + i, kSeqs[s][src + i]);
                    }
                    // V's own rows: page, slot and head strides of Dvo elements.
                    long vBase = vOffset + page * (combined ? pageStride : (long) pageSize * hkv * dv)
                            + slot * (layout == KvLayout.NHD ? (long) hkv * dv : dv)
                            + h * (layout == KvLayout.NHD ? dv : (long) pageSize * dv);
                    int vSrc = (t * hkv + h) * dv;
                    for (int i = 0; i < dv; i++) {
                        v.setBits(vBase + i, vSeqs[s][vSrc + i]);
                    }
                }
            }
        }
        return new PagedPool(k, v, combined, layout, table, numPages, scales, null);
    }

    /**
     * The pool of a case's requests, in the case's paging: its page size, layout, combined cache
     * and extra pages, with a page permutation drawn from its seed.
     *
     * @param data the case's values; sequence {@code s} is request {@code s}
     * @param fill what fills the slots no request owns
     * @return a new pool, which the caller closes
     */
    public static PagedPool of(CaseData data, Fill fill) {
        AttentionCase c = data.kase();
        return of(data, c.pageSize(), c.layout(), c.combinedCache(), c.extraPages(), c.seed() * 31 + 7, fill);
    }

    /**
     * The pool of a case's requests in another paging than the case's own, to check that paging
     * does not change the result.
     *
     * @param data            the case's values; sequence {@code s} is request {@code s}
     * @param pageSize        tokens per page
     * @param layout          page layout
     * @param combined        K and V in one tensor
     * @param extraPages      pages no request references
     * @param permutationSeed seed of the page permutation and of the garbage
     * @param fill            what fills the slots no request owns
     * @return a new pool, which the caller closes
     */
    public static PagedPool of(CaseData data, int pageSize, KvLayout layout, boolean combined, int extraPages,
                               long permutationSeed, Fill fill) {
        AttentionCase c = data.kase();
        PagedPool pool = build(data.allK(), data.allV(), c.kvLens(), c.numKvHeads(), c.headDimQk(), c.headDimVo(), c.kvDtype(),
                new KvScales(c.kScale(), c.vScale()), pageSize, layout, combined, extraPages, permutationSeed, fill);
        return switch (c.scaleKind()) {
            case SCALAR -> pool;
            case PER_HEAD -> pool.withHeadScales(c.headScales(false), c.headScales(true));
            case PER_TOKEN -> {
                float[][] ks = new float[c.batchSize()][];
                float[][] vs = new float[c.batchSize()][];
                for (int b = 0; b < ks.length; b++) {
                    ks[b] = data.kScales(b);
                    vs[b] = data.vScales(b);
                }
                yield pool.withTokenScales(ks, vs, fill, permutationSeed + 11);
            }
        };
    }

    /**
     * This pool with per-head scales (it takes over the tensors; closing either closes them).
     *
     * @param kHeads K's scale per KV head
     * @param vHeads V's scale per KV head
     * @return the pool with {@link KvScaleMode#PER_HEAD} scales
     */
    public PagedPool withHeadScales(float[] kHeads, float[] vHeads) {
        HostTensor ks = HostTensor.allocate(DType.F32, kHeads.length);
        HostTensor vs = HostTensor.allocate(DType.F32, vHeads.length);
        for (int h = 0; h < kHeads.length; h++) {
            ks.setBits(h, Float.floatToRawIntBits(kHeads[h]));
            vs.setBits(h, Float.floatToRawIntBits(vHeads[h]));
        }
        return new PagedPool(k, v, combined, layout, table, numPages, scales,
                new TensorScales(KvScaleMode.PER_HEAD, ks, vs));
    }

    /**
     * This pool with per-token scale pools holding each sequence's scales at its tokens' slots;
     * every other slot holds garbage (NaN and ±Inf among it) or zeros, as {@code fill} says.
     *
     * @param kSeqs K's scales of sequence {@code s}: {@code [lens[s], Hkv]}
     * @param vSeqs V's scales, shaped as {@code kSeqs}
     * @param fill  what fills the slots no sequence owns
     * @param seed  seed of the garbage
     * @return the pool with {@link KvScaleMode#PER_TOKEN} scales
     */
    public PagedPool withTokenScales(float[][] kSeqs, float[][] vSeqs, Fill fill, long seed) {
        int hkv = numKvHeads();
        int pageSize = table.pageSize();
        long[] shape = layout == KvLayout.NHD ? new long[] {numPages, pageSize, hkv}
                : new long[] {numPages, hkv, pageSize};
        HostTensor ks = HostTensor.allocate(DType.F32, shape);
        HostTensor vs = HostTensor.allocate(DType.F32, shape);
        if (fill == Fill.GARBAGE) {
            SplittableRandom rng = new SplittableRandom(seed);
            garbage(ks, rng);
            garbage(vs, rng);
        }
        for (int s = 0; s < kSeqs.length; s++) {
            for (int t = 0; t < table.kvLen(s); t++) {
                for (int h = 0; h < hkv; h++) {
                    ks.setBits(scaleIndex(s, t, h), Float.floatToRawIntBits(kSeqs[s][t * hkv + h]));
                    vs.setBits(scaleIndex(s, t, h), Float.floatToRawIntBits(vSeqs[s][t * hkv + h]));
                }
            }
        }
        return new PagedPool(k, v, combined, layout, table, numPages, scales,
                new TensorScales(KvScaleMode.PER_TOKEN, ks, vs));
    }

    /**
     * Where the per-token scale of token {@code t} of sequence {@code s}, head {@code h} lives in
     * the scale pools (spec §2).
     *
     * @param s a sequence
     * @param t a token of it
     * @param h a KV head
     * @return the flat index
     */
    public long scaleIndex(int s, int t, int h) {
        int pageSize = table.pageSize();
        int hkv = numKvHeads();
        long page = table.pageOf(s, t);
        int slot = t % pageSize;
        return layout == KvLayout.NHD ? (page * pageSize + slot) * hkv + h : (page * hkv + h) * pageSize + slot;
    }

    /**
     * The pool's KV heads.
     *
     * @return {@code Hkv}
     */
    public int numKvHeads() {
        return layout == KvLayout.NHD ? (int) k.dim(combined ? 3 : 2) : (int) k.dim(combined ? 2 : 1);
    }

    /**
     * Where element {@code i} of head {@code h} of token {@code t} of sequence {@code s} lives: an
     * index into {@link #k()} (K) or {@link #v()} (V, which is {@code k} itself when combined).
     *
     * @param s     a sequence
     * @param t     a token of it, {@code 0 <= t < kvLen(s)}
     * @param h     a KV head
     * @param i     an element of the head, {@code 0 <= i < D}
     * @param value V rather than K
     * @return the flat element index
     */
    public long index(int s, int t, int h, int i, boolean value) {
        int pageSize = table.pageSize();
        int hkv = layout == KvLayout.NHD ? (int) k.dim(combined ? 3 : 2) : (int) k.dim(combined ? 2 : 1);
        int d = (int) (value ? v : k).dim(-1); // V's rows may be shorter or longer than K's
        long pageElems = (long) pageSize * hkv * d;
        long pageStride = combined ? 2 * pageElems : pageElems;
        long slotStride = layout == KvLayout.NHD ? (long) hkv * d : d;
        long headStride = layout == KvLayout.NHD ? d : (long) pageSize * d;
        long at = table.pageOf(s, t) * pageStride + (t % pageSize) * slotStride + h * headStride + i;
        return value && combined ? at + pageElems : at;
    }

    /**
     * Overwrites with garbage every slot of sequence s from token {@code from[s]} on, as if those
     * tokens were not written yet.
     *
     * @param from per sequence, the first token to overwrite; its own length or more overwrites nothing
     * @param seed seed of the random bit patterns
     */
    public void scribble(int[] from, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int pageSize = table.pageSize();
        int hkv = layout == KvLayout.NHD ? (int) k.dim(combined ? 3 : 2) : (int) k.dim(combined ? 2 : 1);
        int d = (int) k.dim(-1);
        int dv = (int) v.dim(-1);
        for (int s = 0; s < from.length; s++) {
            for (int t = from[s]; t < table.kvLen(s); t++) {
                for (int h = 0; h < hkv; h++) {
                    for (int i = 0; i < Math.max(d, dv); i++) {
                        if (i < d) {
                            k.setBits(index(s, t, h, i, false), rng.nextInt());
                        }
                        if (i < dv) {
                            v.setBits(index(s, t, h, i, true), rng.nextInt());
                        }
                    }
                }
            }
        }
    }

    private static int[] permutation(int n, SplittableRandom rng) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** Random bit patterns everywhere, with NaN and +-Inf (where the dtype has them) frequent among them. */
    static void garbage(HostTensor t, SplittableRandom rng) {
        long n = t.elementCount();
        int[] specials = SpecFormats.nonFiniteCodes(t.dtype()).stream().mapToInt(Integer::intValue).toArray();
        for (long i = 0; i < n; i++) {
            int r = rng.nextInt(8);
            t.setBits(i, r < 2 ? specials[rng.nextInt(specials.length)] : rng.nextInt());
        }
    }

    @Override
    public void close() {
        k.close();
        if (!combined) {
            v.close();
        }
        if (tensorScales != null) {
            tensorScales.k().close();
            tensorScales.v().close();
        }
    }
}
