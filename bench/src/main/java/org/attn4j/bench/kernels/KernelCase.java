package org.attn4j.bench.kernels;

import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.bench.Traffic;
import org.attn4j.bench.Workload;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;

/**
 * One case a kernel bench runs on the baseline and on a candidate kernel: a shape (a
 * {@link Workload}, whose {@code causal} the options repeat), the call's options, whether it
 * carries a custom mask, the K/V scales, and whether it is timed (the spec §10 workloads) or only
 * compared (the option cases). Requests' pages are interleaved as a serving pool hands them out.
 *
 * <p>Immutable and thread-safe.
 *
 * @param shape      requests, lengths, heads, page size, dtype (q and K/V alike), layout
 * @param options    the attention options
 * @param customMask whether a random custom mask (about one key in three masked out) is applied
 * @param scales     the K/V scales
 * @param timed      whether the case is timed after it is compared
 */
public record KernelCase(Workload shape, AttentionOptions options, boolean customMask, KvScales scales,
                         boolean timed) {

    /** A spec §10 workload as named, with its causal flag, timed. */
    static KernelCase timed(Workload named) {
        return new KernelCase(named, AttentionOptions.DEFAULT.withCausal(named.causal()), false, KvScales.ONE, true);
    }

    /** An untimed decode case. */
    static KernelCase decode(String name, DType dtype, int[] kvLens, int hq, int hkv, int d, int pageSize,
                             KvLayout layout, AttentionOptions options, KvScales scales) {
        int[] qo = new int[kvLens.length];
        java.util.Arrays.fill(qo, 1);
        return new KernelCase(shape(name, Workload.Op.DECODE, qo, kvLens, hq, hkv, d, pageSize, dtype, layout,
                options), options, false, scales, false);
    }

    /** An untimed prefill case. */
    static KernelCase prefill(String name, DType dtype, int[] qoLens, int[] kvLens, int hq, int hkv, int d,
                              int pageSize, KvLayout layout, AttentionOptions options, boolean customMask,
                              KvScales scales) {
        return new KernelCase(shape(name, Workload.Op.PREFILL, qoLens, kvLens, hq, hkv, d, pageSize, dtype, layout,
                options), options, customMask, scales, false);
    }

    /** A prefill workload that is not among the named ones, timed. */
    static KernelCase timedPrefill(String name, int kvLen, int hq, int hkv, int d) {
        AttentionOptions causal = AttentionOptions.DEFAULT.withCausal(true);
        return new KernelCase(shape(name, Workload.Op.PREFILL, new int[] {kvLen}, new int[] {kvLen}, hq, hkv, d,
                16, DType.BF16, KvLayout.NHD, causal), causal, false, KvScales.ONE, true);
    }

    private static Workload shape(String name, Workload.Op op, int[] qoLens, int[] kvLens, int hq, int hkv, int d,
                                  int pageSize, DType dtype, KvLayout layout, AttentionOptions options) {
        return new Workload(name, op, qoLens, kvLens, 0, new HeadConfig(hq, hkv, d), pageSize, dtype, dtype, layout,
                options.causal(), 1.0, true);
    }

    /**
     * The case's name in the report.
     *
     * @return the shape's name
     */
    public String name() {
        return shape.name();
    }

    boolean decode() {
        return shape.op() == Workload.Op.DECODE;
    }

    int headDim() {
        return shape.heads().headDimQk(); // the kernel shapes have one head dim
    }

    /** Page ids of each request, the requests' pages interleaved as a serving pool hands them out. */
    int[][] pages() {
        int[] kvLens = shape.kvLens();
        int pageSize = shape.pageSize();
        int[][] pages = new int[kvLens.length][];
        int maxPages = 0;
        for (int b = 0; b < kvLens.length; b++) {
            pages[b] = new int[(kvLens[b] + pageSize - 1) / pageSize];
            maxPages = Math.max(maxPages, pages[b].length);
        }
        int next = 0;
        for (int i = 0; i < maxPages; i++) {
            for (int[] p : pages) {
                if (i < p.length) {
                    p[i] = next++;
                }
            }
        }
        return pages;
    }

    /** Shape of the K or V pool (at least one page, so an all-empty batch allocates). */
    long[] kvShape() {
        int numPages = 0;
        for (int[] p : pages()) {
            numPages += p.length;
        }
        int n = Math.max(1, numPages);
        int hkv = shape.heads().numKvHeads();
        int d = headDim();
        int pageSize = shape.pageSize();
        return shape.layout() == KvLayout.NHD ? new long[] {n, pageSize, hkv, d} : new long[] {n, hkv, pageSize, d};
    }

    /** Shape of q and o. */
    long[] qShape() {
        return new long[] {shape.totalQ(), shape.heads().numQoHeads(), headDim()};
    }

    /** Shape of the LSE. */
    long[] lseShape() {
        return new long[] {shape.totalQ(), shape.heads().numQoHeads()};
    }

    /** The case's plan on {@code backend}. */
    BatchAttentionPlan plan(AttentionBackend backend) {
        PageTable table = PageTable.of(shape.pageSize(), pages(), shape.kvLens());
        if (decode()) {
            return backend.planBatchDecode(table, shape.heads(), options, PlanOptions.DEFAULT);
        }
        int[] qoLens = shape.qoLens();
        int[] qoIndptr = new int[qoLens.length + 1];
        for (int b = 0; b < qoLens.length; b++) {
            qoIndptr[b + 1] = qoIndptr[b] + qoLens[b];
        }
        return backend.planBatchPrefill(qoIndptr, table, shape.heads(), options, customMask ? randomMask() : null,
                PlanOptions.DEFAULT);
    }

    /** Random bits, each request's matrix concatenated; about one key in three masked out. */
    private CustomMask randomMask() {
        int total = 0;
        for (int b = 0; b < shape.batch(); b++) {
            total += shape.qoLens()[b] * shape.kvLens()[b];
        }
        boolean[] bits = new boolean[total];
        long x = 0x2545F4914F6CDD1DL;
        for (int i = 0; i < total; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            bits[i] = Long.remainderUnsigned(x, 3) != 0;
        }
        return CustomMask.fromBooleans(bits);
    }

    /** Bytes moved and FLOPs done, as {@code attn4j bench} counts them. */
    Traffic traffic() {
        return Traffic.of(shape);
    }
}
