package org.attn4j.conformance.ops;

import java.util.ArrayList;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.CascadePlan;
import org.attn4j.options.PlanOptions;
import org.attn4j.RaggedAttentionPlan;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.cases.CaseData;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.check.AttentionOutput;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.parallel.ContextParallelPlan;
import org.attn4j.parallel.ContextShards;
import org.attn4j.parallel.ShardPlacement;
import org.attn4j.kv.RaggedKv;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Every attention operation of spec §6, run on a backend over a case's data and read back. Each
 * call uploads its inputs, runs, reads the outputs back to the host and frees its device memory
 * before it returns; a backend's exception passes through.
 *
 * <p>Stateless and thread-safe, as far as the backend is.
 */
public final class Operations {
    private Operations() {}

    private static Tensor q(DeviceScope s, CaseData data) {
        AttentionCase c = data.kase();
        return s.upload(c.qDtype(), data.q(), c.totalQ(), c.numQoHeads(), c.headDimQk());
    }

    private static AttentionOutput read(DeviceScope s, AttentionCase c, Tensor o, Tensor lse, int rows) {
        return new AttentionOutput(s.floats(o), lse == null ? null : s.floats(lse), c.qDtype(), rows,
                c.numQoHeads(), c.headDimVo());
    }

    /**
     * Batch decode or paged prefill over a pool, with the case's options, custom mask and LSE.
     *
     * @param be          the backend
     * @param data        the case's values; only q is read, K and V come from {@code pool}
     * @param pool        the KV pool, with its own page table
     * @param decode      plan a batch decode (every qoLen 1) rather than a paged prefill
     * @param planOptions scheduling options
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput batch(AttentionBackend be, CaseData data, PagedPool pool, boolean decode,
                                        PlanOptions planOptions) {
        return batch(be, data, pool, pool.table(), decode, planOptions);
    }

    /**
     * As {@link #batch(AttentionBackend, CaseData, PagedPool, boolean, PlanOptions)} with another table over the pool.
     *
     * @param be          the backend
     * @param data        the case's values; only q is read
     * @param pool        the KV pool
     * @param table       the page table the call sees, over the pool's pages
     * @param decode      plan a batch decode rather than a paged prefill
     * @param planOptions scheduling options
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput batch(AttentionBackend be, CaseData data, PagedPool pool, PageTable table,
                                        boolean decode, PlanOptions planOptions) {
        return batch(be, data, pool, table, decode, planOptions, data.kase().qDtype());
    }

    /**
     * As {@link #batch(AttentionBackend, CaseData, PagedPool, boolean, PlanOptions)} with q stored in
     * {@code qDtype} (an FP8 q, spec §1) and o still in the case's dtype.
     *
     * @param be          the backend
     * @param data        the case's values; q's must be exact in {@code qDtype}
     * @param pool        the KV pool, with its own page table
     * @param decode      plan a batch decode rather than a paged prefill
     * @param planOptions scheduling options
     * @param qDtype      the dtype q is uploaded in
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput batch(AttentionBackend be, CaseData data, PagedPool pool, boolean decode,
                                        PlanOptions planOptions, DType qDtype) {
        return batch(be, data, pool, pool.table(), decode, planOptions, qDtype);
    }

    /**
     * Whether a case runs as a batch decode: every request has one query row and there is no
     * custom mask, which decode plans do not take (a prefill case may draw single rows with one).
     * A property comparing with the spec formula must choose so, or the formula applies a mask the
     * call never saw.
     *
     * @param c the case
     * @return true to plan a decode, false a paged prefill
     */
    public static boolean runsAsDecode(AttentionCase c) {
        return c.isDecode() && c.mask() == AttentionCase.MaskKind.NONE;
    }

    /**
     * As {@link #batch(AttentionBackend, CaseData, PagedPool, boolean, PlanOptions, DType)}, planned
     * ahead (with q's and the pool's dtypes) in a caller workspace of the size the backend asks
     * for, which starts 256 bytes into a larger tensor whose bytes around it are garbage.
     *
     * @param be          the backend
     * @param data        the case's values; q's must be exact in {@code qDtype}
     * @param pool        the KV pool, with its own page table
     * @param decode      plan a batch decode rather than a paged prefill
     * @param planOptions scheduling options (their dtypes and workspace are replaced)
     * @param qDtype      the dtype q is uploaded in
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput batchInWorkspace(AttentionBackend be, CaseData data, PagedPool pool, boolean decode,
                                                   PlanOptions planOptions, DType qDtype) {
        AttentionCase c = data.kase();
        PlanOptions ahead = planOptions.withDtypes(qDtype, pool.k().dtype());
        long bytes = decode ? be.decodeWorkspaceBytes(pool.table(), c.heads(), c.options(), ahead)
                : be.prefillWorkspaceBytes(c.qoIndptr(), pool.table(), c.heads(), c.options(), data.customMask(), ahead);
        try (DeviceScope s = new DeviceScope(be)) {
            long words = (bytes + 3) / 4;
            int[] garbage = new int[Math.toIntExact(words + 128)];
            java.util.Arrays.fill(garbage, 0x7FC0_0BAD);
            Tensor whole = s.uploadBits(DType.I32, garbage, garbage.length);
            Tensor workspace = whole.view(64, Math.max(1, words));
            return batch(be, data, pool, pool.table(), decode, ahead.withWorkspace(workspace), qDtype, s);
        }
    }

    private static AttentionOutput batch(AttentionBackend be, CaseData data, PagedPool pool, PageTable table,
                                         boolean decode, PlanOptions planOptions, DType qDtype) {
        try (DeviceScope s = new DeviceScope(be)) {
            return batch(be, data, pool, table, decode, planOptions, qDtype, s);
        }
    }

    private static AttentionOutput batch(AttentionBackend be, CaseData data, PagedPool pool, PageTable table,
                                         boolean decode, PlanOptions planOptions, DType qDtype, DeviceScope s) {
        AttentionCase c = data.kase();
        Tensor q = s.upload(qDtype, data.q(), c.totalQ(), c.numQoHeads(), c.headDimQk());
        Tensor o = s.allocate(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo());
        Tensor lse = c.lse() ? s.allocate(DType.F32, c.totalQ(), c.numQoHeads()) : null;
        PagedKvCache kv = s.cache(pool);
        try (BatchAttentionPlan plan = decode
                ? be.planBatchDecode(table, c.heads(), c.options(), planOptions)
                : be.planBatchPrefill(c.qoIndptr(), table, c.heads(), c.options(), data.customMask(),
                        planOptions)) {
            plan.run(q, kv, o, lse);
        }
        return read(s, c, o, lse, c.totalQ());
    }

    /**
     * Context-parallel decode or prefill (spec §12) over {@code shards} logical shards of the
     * backend: the pool's table cut by {@link ContextShards#split}, every shard's partial state
     * merged on the backend itself.
     *
     * @param be     the backend
     * @param data   the case's values; only q is read, K and V come from {@code pool}
     * @param pool   the KV pool, with its own page table
     * @param shards the number of logical shards
     * @param decode plan a decode (every qoLen 1) rather than a prefill
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput contextParallel(AttentionBackend be, CaseData data, PagedPool pool, int shards,
                                                  boolean decode) {
        AttentionCase c = data.kase();
        try (DeviceScope s = new DeviceScope(be)) {
            Tensor q = q(s, data);
            Tensor o = s.allocate(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo());
            Tensor lse = c.lse() ? s.allocate(DType.F32, c.totalQ(), c.numQoHeads()) : null;
            PagedKvCache kv = s.cache(pool);
            ShardPlacement placement = ShardPlacement.logical(be, shards);
            ContextShards cut = ContextShards.split(pool.table(), shards);
            try (ContextParallelPlan plan = decode
                    ? ContextParallelPlan.decode(placement, cut, c.heads(), c.options(), null)
                    : ContextParallelPlan.prefill(placement, c.qoIndptr(), cut, c.heads(), c.options(),
                            data.customMask(), null)) {
                plan.run(q, kv, o, lse);
            }
            return read(s, c, o, lse, c.totalQ());
        }
    }

    /**
     * Batch prefill over ragged K/V {@code [totalKv, Hkv, D]}, the requests' keys laid end to end.
     *
     * @param be          the backend
     * @param data        the case's values
     * @param planOptions scheduling options
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput ragged(AttentionBackend be, CaseData data, PlanOptions planOptions) {
        return ragged(be, data, planOptions, data.kase().qDtype());
    }

    /**
     * As {@link #ragged(AttentionBackend, CaseData, PlanOptions)} with q stored in {@code qDtype}
     * (an FP8 q, spec §1) and o still in the case's dtype.
     *
     * @param be          the backend
     * @param data        the case's values; q's must be exact in {@code qDtype}
     * @param planOptions scheduling options
     * @param qDtype      the dtype q is uploaded in
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput ragged(AttentionBackend be, CaseData data, PlanOptions planOptions, DType qDtype) {
        AttentionCase c = data.kase();
        float[] k = new float[c.totalKv() * c.numKvHeads() * c.headDimQk()];
        float[] v = new float[c.totalKv() * c.numKvHeads() * c.headDimVo()];
        int at = 0;
        int atV = 0;
        for (int b = 0; b < c.batchSize(); b++) {
            System.arraycopy(data.k(b), 0, k, at, data.k(b).length);
            System.arraycopy(data.v(b), 0, v, atV, data.v(b).length);
            at += data.k(b).length;
            atV += data.v(b).length;
        }
        try (DeviceScope s = new DeviceScope(be)) {
            Tensor q = s.upload(qDtype, data.q(), c.totalQ(), c.numQoHeads(), c.headDimQk());
            Tensor kt = s.upload(c.kvDtype(), k, c.totalKv(), c.numKvHeads(), c.headDimQk());
            Tensor vt = s.upload(c.kvDtype(), v, c.totalKv(), c.numKvHeads(), c.headDimVo());
            Tensor o = s.allocate(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo());
            Tensor lse = c.lse() ? s.allocate(DType.F32, c.totalQ(), c.numQoHeads()) : null;
            try (RaggedAttentionPlan plan = be.planBatchPrefillRagged(c.qoIndptr(), c.kvIndptr(), c.heads(),
                    c.options(), data.customMask(), planOptions)) {
                plan.run(q, new RaggedKv(kt, vt, unpagedScales(s, c)), o, lse);
            }
            return read(s, c, o, lse, c.totalQ());
        }
    }

    /**
     * The case's scales for contiguous and ragged K/V: the scalar ones, or the per-head tensors
     * (per-token scales are a paged-cache feature, spec §2, so such a case has no unpaged form).
     */
    static KvScales unpagedScales(DeviceScope s, AttentionCase c) {
        return switch (c.scaleKind()) {
            case SCALAR -> new KvScales(c.kScale(), c.vScale());
            case PER_HEAD -> KvScales.perHead(s.upload(DType.F32, c.headScales(false), c.numKvHeads()),
                    s.upload(DType.F32, c.headScales(true), c.numKvHeads()));
            case PER_TOKEN -> throw new IllegalStateException("per-token scales have no contiguous or ragged form");
        };
    }

    /** Request b's K or V as one contiguous tensor's values in {@code layout}. */
    static float[] contiguous(float[] tokens, int kvLen, int hkv, int d, KvLayout layout) {
        if (layout == KvLayout.NHD) {
            return tokens.clone();
        }
        float[] out = new float[tokens.length];
        for (int j = 0; j < kvLen; j++) {
            for (int h = 0; h < hkv; h++) {
                System.arraycopy(tokens, (j * hkv + h) * d, out, (h * kvLen + j) * d, d);
            }
        }
        return out;
    }

    /**
     * Single decode (when {@code decode}) or single prefill of every request in turn, with
     * contiguous K/V in {@code layout}; the rows stacked like a batch's.
     *
     * @param be     the backend
     * @param data   the case's values
     * @param layout the layout of each request's K and V
     * @param decode single decode (every qoLen 1) rather than single prefill
     * @return o, and lse when the case asks for it, of every request in order
     */
    public static AttentionOutput singles(AttentionBackend be, CaseData data, KvLayout layout, boolean decode) {
        AttentionCase c = data.kase();
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDimQk();
        int dv = c.headDimVo();
        int[] qoIndptr = c.qoIndptr();
        List<AttentionOutput> parts = new ArrayList<>();
        for (int b = 0; b < c.batchSize(); b++) {
            int qoLen = c.qoLen(b);
            int kvLen = c.kvLen(b);
            if (qoLen == 0) {
                continue;
            }
            long[] kvShape = layout == KvLayout.NHD ? new long[] {kvLen, hkv, d} : new long[] {hkv, kvLen, d};
            long[] vShape = layout == KvLayout.NHD ? new long[] {kvLen, hkv, dv} : new long[] {hkv, kvLen, dv};
            float[] qRows = java.util.Arrays.copyOfRange(data.q(), qoIndptr[b] * hq * d, qoIndptr[b + 1] * hq * d);
            try (DeviceScope s = new DeviceScope(be)) {
                Tensor k = s.upload(c.kvDtype(), contiguous(data.k(b), kvLen, hkv, d, layout), kvShape);
                Tensor v = s.upload(c.kvDtype(), contiguous(data.v(b), kvLen, hkv, dv, layout), vShape);
                ContiguousKv kv = new ContiguousKv(k, v, layout, unpagedScales(s, c));
                Tensor q;
                Tensor o;
                Tensor lse;
                if (decode) {
                    q = s.upload(c.qDtype(), qRows, hq, d);
                    o = s.allocate(c.qDtype(), hq, dv);
                    lse = c.lse() ? s.allocate(DType.F32, hq) : null;
                    be.singleDecode(q, kv, c.options(), o, lse);
                } else {
                    q = s.upload(c.qDtype(), qRows, qoLen, hq, d);
                    o = s.allocate(c.qDtype(), qoLen, hq, dv);
                    lse = c.lse() ? s.allocate(DType.F32, qoLen, hq) : null;
                    be.singlePrefill(q, kv, c.options(), data.customMask(b), o, lse);
                }
                parts.add(read(s, c, o, lse, qoLen));
            }
        }
        return AttentionOutput.concat(parts, c.qDtype(), hq, dv, c.lse());
    }

    /**
     * How a cascade shares keys: request b belongs to group {@code groupOf[b]} (consecutive
     * requests), whose members share their first {@code prefixLen[g]} keys.
     *
     * <p>The arrays are not copied: once a shape is made, leave them unchanged; then it is
     * immutable and thread-safe.
     *
     * @param groupOf   per request, its group: 0 for the first, non-decreasing, rising by at most 1
     * @param prefixLen per group, the keys its members share, at most its shortest member's kvLen
     */
    public record CascadeShape(int[] groupOf, int[] prefixLen) {
        /**
         * The number of groups.
         *
         * @return the length of {@code prefixLen}
         */
        public int groups() {
            return prefixLen.length;
        }

        /**
         * A random grouping of a case's requests: each request after the first starts a new
         * group with probability 1/3, and each group shares its shortest member's keys
         * (probability 1/4) or a uniform number of them up to that.
         *
         * @param c   the case
         * @param rng the source of randomness
         * @return a new shape
         */
        public static CascadeShape random(AttentionCase c, java.util.SplittableRandom rng) {
            int batch = c.batchSize();
            int[] groupOf = new int[batch];
            int g = 0;
            for (int b = 1; b < batch; b++) {
                g += rng.nextInt(3) == 0 ? 1 : 0;
                groupOf[b] = g;
            }
            int[] prefix = new int[g + 1];
            for (int grp = 0; grp <= g; grp++) {
                int min = Integer.MAX_VALUE;
                for (int b = 0; b < batch; b++) {
                    if (groupOf[b] == grp) {
                        min = Math.min(min, c.kvLen(b));
                    }
                }
                prefix[grp] = rng.nextInt(4) == 0 ? min : rng.nextInt(min + 1);
            }
            return new CascadeShape(groupOf, prefix);
        }

        @Override
        public String toString() {
            return "groups " + java.util.Arrays.toString(groupOf) + ", prefixes " + java.util.Arrays.toString(prefixLen);
        }
    }

    /**
     * The case's data with each group's prefix keys copied from its first member, so that a
     * cascade over shared prefixes has a batch over the whole keys to compare with.
     *
     * @param data  the case's values
     * @param shape the groups and prefixes
     * @return new data; {@code data} is unchanged
     */
    public static CaseData sharePrefixes(CaseData data, CascadeShape shape) {
        AttentionCase c = data.kase();
        float[][] k = data.allK();
        float[][] v = data.allV();
        int w = c.numKvHeads() * c.headDimQk();
        int wv = c.numKvHeads() * c.headDimVo();
        int[] leader = new int[shape.groups()];
        java.util.Arrays.fill(leader, -1);
        for (int b = 0; b < c.batchSize(); b++) {
            int g = shape.groupOf()[b];
            if (leader[g] < 0) {
                leader[g] = b;
            } else {
                System.arraycopy(k[leader[g]], 0, k[b], 0, shape.prefixLen()[g] * w);
                System.arraycopy(v[leader[g]], 0, v[b], 0, shape.prefixLen()[g] * wv);
            }
        }
        return data.withKv(k, v);
    }

    /**
     * Two-level cascade (shared prefixes, then each request's suffix) over one pool.
     *
     * @param be          the backend
     * @param shared      the case's values from {@link #sharePrefixes}; each group's prefix is
     *                    taken from its first member
     * @param shape       the groups and prefixes
     * @param planOptions scheduling options
     * @return o, and lse when the case asks for it
     */
    public static AttentionOutput cascade(AttentionBackend be, CaseData shared, CascadeShape shape,
                                          PlanOptions planOptions) {
        AttentionCase c = shared.kase();
        int batch = c.batchSize();
        int groups = shape.groups();
        int w = c.numKvHeads() * c.headDimQk();
        int wv = c.numKvHeads() * c.headDimVo();
        float[][] seqK = new float[groups + batch][];
        float[][] seqV = new float[groups + batch][];
        int[] lens = new int[groups + batch];
        boolean[] seen = new boolean[groups];
        for (int b = 0; b < batch; b++) {
            int g = shape.groupOf()[b];
            int p = shape.prefixLen()[g];
            if (!seen[g]) {
                seen[g] = true;
                seqK[g] = java.util.Arrays.copyOf(shared.k(b), p * w);
                seqV[g] = java.util.Arrays.copyOf(shared.v(b), p * wv);
                lens[g] = p;
            }
            seqK[groups + b] = java.util.Arrays.copyOfRange(shared.k(b), p * w, c.kvLen(b) * w);
            seqV[groups + b] = java.util.Arrays.copyOfRange(shared.v(b), p * wv, c.kvLen(b) * wv);
            lens[groups + b] = c.kvLen(b) - p;
        }
        try (PagedPool pool = PagedPool.build(seqK, seqV, lens, c.numKvHeads(), c.headDimQk(), c.headDimVo(),
                c.kvDtype(),
                new KvScales(c.kScale(), c.vScale()), c.pageSize(), c.layout(), c.combinedCache(), c.extraPages(),
                c.seed() * 17 + 3, PagedPool.Fill.GARBAGE);
             DeviceScope s = new DeviceScope(be)) {
            PageTable all = pool.table();
            int[] rowIndptr = c.qoIndptr();
            int[] groupIndptr = new int[groups + 1];
            for (int b = 0; b < batch; b++) {
                groupIndptr[shape.groupOf()[b] + 1] = rowIndptr[b + 1];
            }
            for (int g = 1; g <= groups; g++) {
                groupIndptr[g] = Math.max(groupIndptr[g], groupIndptr[g - 1]);
            }
            List<CascadeLevel> levels = List.of(new CascadeLevel(groupIndptr, subTable(all, 0, groups, lens)),
                    new CascadeLevel(rowIndptr, subTable(all, groups, groups + batch, lens)));
            Tensor q = q(s, shared);
            Tensor o = s.allocate(c.qDtype(), c.totalQ(), c.numQoHeads(), c.headDimVo());
            Tensor lse = c.lse() ? s.allocate(DType.F32, c.totalQ(), c.numQoHeads()) : null;
            PagedKvCache kv = s.cache(pool);
            try (CascadePlan plan = be.planCascade(levels, c.heads(), c.options(), planOptions)) {
                plan.run(q, kv, o, lse);
            }
            return read(s, c, o, lse, c.totalQ());
        }
    }

    /**
     * {@code mergeState(a, b)}: the attention over the union of both parts' keys.
     *
     * @param be the backend
     * @param a  one part, with lse
     * @param b  the other, with lse, of the same shape and dtype
     * @return the merged o and lse
     */
    public static AttentionOutput merge(AttentionBackend be, AttentionOutput a, AttentionOutput b) {
        try (DeviceScope s = new DeviceScope(be)) {
            long[] os = {a.rows(), a.heads(), a.headDim()};
            long[] ss = {a.rows(), a.heads()};
            Tensor oA = s.upload(a.dtype(), a.o(), os);
            Tensor sA = s.upload(DType.F32, a.lse(), ss);
            Tensor oB = s.upload(b.dtype(), b.o(), os);
            Tensor sB = s.upload(DType.F32, b.lse(), ss);
            Tensor o = s.allocate(a.dtype(), os);
            Tensor lse = s.allocate(DType.F32, ss);
            be.mergeState(oA, sA, oB, sB, o, lse);
            return new AttentionOutput(s.floats(o), s.floats(lse), a.dtype(), a.rows(), a.heads(), a.headDim());
        }
    }

    /**
     * Entries {@code from .. to)} of a page table as a table of their own.
     *
     * @param t    the table
     * @param from the first entry
     * @param to   one past the last entry
     * @param lens the keys of every entry of {@code t}, indexed as {@code t}
     * @return a table of {@code to - from} entries over the same pages
     */
    public static PageTable subTable(PageTable t, int from, int to, int[] lens) {
        int[][] pages = new int[to - from][];
        int[] sub = new int[to - from];
        for (int e = from; e < to; e++) {
            pages[e - from] = new int[t.pageCount(e)];
            for (int i = 0; i < pages[e - from].length; i++) {
                pages[e - from][i] = t.page(e, i);
            }
            sub[e - from] = lens[e];
        }
        return PageTable.of(t.pageSize(), pages, sub);
    }
}
