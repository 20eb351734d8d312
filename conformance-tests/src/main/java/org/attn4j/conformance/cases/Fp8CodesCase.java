package org.attn4j.conformance.cases;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;

/**
 * Every code of an FP8 format read through one attention operation: the 256 codes, in an order
 * drawn from {@link #seed}, stored as K and V of single-key requests, so that {@code o} is the
 * decoded V and each query row's LSE the decoded K element its one-hot query picks. Printed with
 * {@link #toJava()} as a ready-to-paste reproduction.
 *
 * <p>Immutable and thread-safe.
 *
 * @param format     {@code FP8_E4M3} or {@code FP8_E5M2}
 * @param qDtype     q and o dtype
 * @param op         the operation that reads the cache
 * @param numKvHeads {@code Hkv}
 * @param group      query heads per KV head
 * @param headDim    {@code D}
 * @param pageSize   tokens per page (paged operations)
 * @param layout     page or contiguous layout
 * @param combined   K and V in one paged tensor
 * @param seed       the order of the codes
 */
public record Fp8CodesCase(DType format, DType qDtype, Op op, int numKvHeads, int group, int headDim, int pageSize,
                           KvLayout layout, boolean combined, long seed) {

    /** The operation that reads the codes. */
    public enum Op {
        /** Paged batch decode: one request per (vector of codes, K element checked). */
        BATCH_DECODE,
        /** Paged batch prefill: one request per vector of codes, D one-hot query rows. */
        BATCH_PREFILL,
        /** Batch prefill over ragged K/V. */
        RAGGED_PREFILL,
        /** Single prefill over contiguous K/V, one call per vector. */
        SINGLE_PREFILL,
        /** Single decode over contiguous K/V, one call per vector (one K element each). */
        SINGLE_DECODE;

        /**
         * Whether the operation is a decode.
         *
         * @return true for {@link #BATCH_DECODE} and {@link #SINGLE_DECODE}
         */
        public boolean decode() {
            return this == BATCH_DECODE || this == SINGLE_DECODE;
        }
    }

    /**
     * Query heads.
     *
     * @return {@code Hq}, {@code numKvHeads * group}
     */
    public int numQoHeads() {
        return numKvHeads * group;
    }

    /**
     * Cases every run checks first: each operation once for each format, with every q dtype,
     * both layouts and a combined cache among them.
     *
     * @param rng the source of seeds
     * @return new cases
     */
    public static List<Fp8CodesCase> edgeCases(SplittableRandom rng) {
        List<Fp8CodesCase> out = new ArrayList<>();
        for (DType f : new DType[] {DType.FP8_E4M3, DType.FP8_E5M2}) {
            out.add(new Fp8CodesCase(f, DType.F16, Op.BATCH_DECODE, 2, 2, 64, 16, KvLayout.NHD, false,
                    rng.nextLong()));
            out.add(new Fp8CodesCase(f, DType.BF16, Op.BATCH_PREFILL, 1, 4, 128, 1, KvLayout.HND, false,
                    rng.nextLong()));
            out.add(new Fp8CodesCase(f, DType.F32, Op.BATCH_PREFILL, 2, 1, 32, 7, KvLayout.NHD, true,
                    rng.nextLong()));
            out.add(new Fp8CodesCase(f, DType.F16, Op.RAGGED_PREFILL, 4, 1, 64, 16, KvLayout.NHD, false,
                    rng.nextLong()));
            out.add(new Fp8CodesCase(f, DType.BF16, Op.SINGLE_PREFILL, 1, 2, 256, 16, KvLayout.HND, false,
                    rng.nextLong()));
            out.add(new Fp8CodesCase(f, DType.F16, Op.SINGLE_DECODE, 2, 8, 128, 16, KvLayout.NHD, false,
                    rng.nextLong()));
        }
        return out;
    }

    /**
     * A random case: either format, any q dtype and operation, 1 to 4 KV heads, groups of 1 to 8,
     * head dims 32 to 256 (40, 48 and 96 among them), page sizes 1 to 17, either layout, combined in
     * one case of four.
     *
     * @param rng the source of randomness
     * @return a new case
     */
    public static Fp8CodesCase random(SplittableRandom rng) {
        DType[] qs = {DType.F16, DType.BF16, DType.F32};
        int[] dims = {32, 48, 64, 96, 128, 256, 40};
        int[] groups = {1, 2, 3, 4, 8};
        int[] pages = {1, 3, 16, 17};
        return new Fp8CodesCase(rng.nextBoolean() ? DType.FP8_E4M3 : DType.FP8_E5M2, qs[rng.nextInt(qs.length)],
                Op.values()[rng.nextInt(Op.values().length)], 1 + rng.nextInt(4), groups[rng.nextInt(groups.length)],
                dims[rng.nextInt(dims.length)], pages[rng.nextInt(pages.length)],
                rng.nextBoolean() ? KvLayout.NHD : KvLayout.HND, rng.nextInt(4) == 0, rng.nextLong());
    }

    /**
     * Simpler cases to try when this one fails: batch prefill, one KV head, one query head per KV
     * head, a smaller head dim, separate K and V, NHD, one token a page.
     *
     * @return the candidates, each simpler than this case in one respect; empty at the simplest
     */
    public List<Fp8CodesCase> shrink() {
        List<Fp8CodesCase> out = new ArrayList<>();
        if (op != Op.BATCH_PREFILL) {
            out.add(with(Op.BATCH_PREFILL, numKvHeads, group, headDim, pageSize, layout, combined));
        }
        if (numKvHeads > 1) {
            out.add(with(op, 1, group, headDim, pageSize, layout, combined));
        }
        if (group > 1) {
            out.add(with(op, numKvHeads, 1, headDim, pageSize, layout, combined));
        }
        for (int d : new int[] {32, headDim / 2}) {
            if (d < headDim && d >= 16 && d % 2 == 0) {
                out.add(with(op, numKvHeads, group, d, pageSize, layout, combined));
            }
        }
        if (combined) {
            out.add(with(op, numKvHeads, group, headDim, pageSize, layout, false));
        }
        if (layout != KvLayout.NHD) {
            out.add(with(op, numKvHeads, group, headDim, pageSize, KvLayout.NHD, combined));
        }
        if (pageSize != 1) {
            out.add(with(op, numKvHeads, group, headDim, 1, layout, combined));
        }
        return out;
    }

    private Fp8CodesCase with(Op o, int hkv, int g, int d, int page, KvLayout l, boolean comb) {
        return new Fp8CodesCase(format, qDtype, o, hkv, g, d, page, l, comb, seed);
    }

    /**
     * The case as a Java expression that rebuilds it exactly.
     *
     * @return a {@code new Fp8CodesCase(...)} expression
     */
    public String toJava() {
        return "new Fp8CodesCase(DType." + format + ", DType." + qDtype + ", Fp8CodesCase.Op." + op + ", " + numKvHeads
                + ", " + group + ", " + headDim + ", " + pageSize + ", KvLayout." + layout + ", " + combined + ", "
                + seed + "L)";
    }

    @Override
    public String toString() {
        return "all 256 " + format + " codes via " + op + " q=" + qDtype + " Hq/Hkv/D=" + numQoHeads() + "/"
                + numKvHeads + "/" + headDim + (op == Op.SINGLE_PREFILL || op == Op.SINGLE_DECODE
                        || op == Op.RAGGED_PREFILL ? "" : " page=" + pageSize) + " " + layout
                + (combined ? " combined" : "");
    }
}
