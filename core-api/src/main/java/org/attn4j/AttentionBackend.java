package org.attn4j;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.attn4j.internal.Checks;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * An open attn4j backend on one device: memory, attention, states, KV append and RoPE.
 * Every method validates its arguments completely before any device work (spec §7); a rejected
 * call throws {@link InvalidArgumentException} and leaves every output untouched.
 *
 * <pre>{@code
 * try (AttentionBackend attn = Backends.openBest()) { ... }
 * }</pre>
 */
public final class AttentionBackend implements AutoCloseable {
    private final BackendSession session;
    private volatile boolean closed;

    private AttentionBackend(BackendSession session) {
        this.session = Objects.requireNonNull(session, "session");
    }

    /** Wraps an SPI session; most users call {@link Backends#openBest()} or {@link Backends#open(String)}. */
    public static AttentionBackend of(BackendSession session) {
        return new AttentionBackend(session);
    }

    public String id() {
        return session.backendId();
    }

    public String device() {
        return session.device();
    }

    public Capabilities capabilities() {
        return session.capabilities();
    }

    /** The SPI session, for tools that need backend internals (benchmarks). */
    public BackendSession session() {
        return session;
    }

    // ------------------------------------------------------------------ memory

    /** A zero-filled tensor on this backend. */
    public Tensor allocate(DType dtype, long... shape) {
        requireOpen();
        Objects.requireNonNull(dtype, "dtype");
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                throw InvalidArgumentException.expected("shape[" + i + "]", ">= 0", shape[i]);
            }
        }
        return session.allocate(dtype, shape.clone());
    }

    /** A new tensor holding a copy of {@code host}. */
    public Tensor upload(HostTensor host) {
        requireOpen();
        requireNonNull(host, "host");
        Tensor t = allocate(host.dtype(), host.shape());
        try {
            session.copyFromHost(host, t);
        } catch (RuntimeException e) {
            t.close(); // the caller never sees t, so nobody else could free it
            throw e;
        }
        return t;
    }

    /** Copies {@code host} into the existing tensor {@code dst} of the same dtype and shape. */
    public void upload(HostTensor host, Tensor dst) {
        requireOpen();
        requireNonNull(host, "host");
        Checks.tensor(session, "dst", dst);
        Checks.dtype("dst", dst, host.dtype());
        Checks.shape("dst", dst, host.shape());
        session.copyFromHost(host, dst);
    }

    public HostTensor download(Tensor t) {
        requireOpen();
        Checks.tensor(session, "src", t);
        HostTensor host = HostTensor.allocate(t.dtype(), t.shape());
        try {
            session.copyToHost(t, host);
        } catch (RuntimeException e) {
            host.close();
            throw e;
        }
        return host;
    }

    public void download(Tensor t, HostTensor dst) {
        requireOpen();
        Checks.tensor(session, "src", t);
        requireNonNull(dst, "dst");
        if (dst.dtype() != t.dtype() || !Arrays.equals(dst.shape(), t.shape())) {
            throw InvalidArgumentException.expected("dst", t.dtype() + " " + Arrays.toString(t.shape()),
                    dst.dtype() + " " + Arrays.toString(dst.shape()));
        }
        session.copyToHost(t, dst);
    }

    /** A tensor viewing {@code host} without a copy, where the backend can ({@link Feature#ZERO_COPY_HOST}). */
    public Tensor wrap(HostTensor host) {
        requireOpen();
        requireNonNull(host, "host");
        Checks.feature(session.capabilities(), id(), Feature.ZERO_COPY_HOST, "host");
        return session.wrapHost(host);
    }

    public void synchronize() {
        requireOpen();
        session.synchronize();
    }

    public DeviceTimer newTimer() {
        requireOpen();
        return session.newTimer();
    }

    // ------------------------------------------------------------------ single request

    /**
     * Decode for one request: q {@code [Hq, D]}; K, V {@code [kvLen, Hkv, D]} (NHD) or
     * {@code [Hkv, kvLen, D]} (HND); o like q; lse {@code [Hq]} or null.
     */
    public void singleDecode(Tensor q, ContiguousKv kv, AttentionOptions options, Tensor o, Tensor lse) {
        requireOpen();
        Checks.tensor(session, "q", q);
        if (q.rank() != 2) {
            throw InvalidArgumentException.expected("q.shape", "[Hq, D]", Arrays.toString(q.shape()));
        }
        single(q, kv, options, null, o, lse, (int) q.dim(0), 1, true);
    }

    /**
     * Prefill for one request: q {@code [qoLen, Hq, D]}; K, V as in {@link #singleDecode};
     * o like q; lse {@code [qoLen, Hq]} or null; mask {@code qoLen x kvLen} or null.
     */
    public void singlePrefill(Tensor q, ContiguousKv kv, AttentionOptions options, CustomMask mask, Tensor o,
                              Tensor lse) {
        requireOpen();
        Checks.tensor(session, "q", q);
        if (q.rank() != 3) {
            throw InvalidArgumentException.expected("q.shape", "[qoLen, Hq, D]", Arrays.toString(q.shape()));
        }
        single(q, kv, options, mask, o, lse, (int) q.dim(1), Math.toIntExact(q.dim(0)), false);
    }

    private void single(Tensor q, ContiguousKv kv, AttentionOptions options, CustomMask mask, Tensor o, Tensor lse,
                        int hq, int qoLen, boolean decode) {
        if (kv == null) {
            throw new InvalidArgumentException("kv", "is null");
        }
        Checks.tensor(session, "k", kv.k());
        Checks.tensor(session, "v", kv.v());
        if (kv.layout() == null) {
            throw new InvalidArgumentException("kv.layout", "is null");
        }
        if (kv.k().rank() != 3) {
            throw InvalidArgumentException.expected("k.shape", kv.layout() == KvLayout.NHD ? "[kvLen, Hkv, D]"
                    : "[Hkv, kvLen, D]", Arrays.toString(kv.k().shape()));
        }
        Checks.shape("v", kv.v(), kv.k().shape());
        Checks.dtype("v", kv.v(), kv.k().dtype());
        boolean nhd = kv.layout() == KvLayout.NHD;
        int kvLen = Math.toIntExact(nhd ? kv.k().dim(0) : kv.k().dim(1));
        int hkv = Math.toIntExact(nhd ? kv.k().dim(1) : kv.k().dim(0));
        int d = Math.toIntExact(kv.k().dim(2));
        if (q.dim(-1) != d) {
            throw InvalidArgumentException.expected("q.shape[-1]", "K's head dim " + d, q.dim(-1));
        }
        HeadConfig heads = new HeadConfig(hq, hkv, d);
        int pages = kvLen == 0 ? 0 : 1;
        PageTable table = new PageTable(new int[] {0, pages}, pages == 0 ? new int[0] : new int[] {0},
                new int[] {kvLen == 0 ? 0 : kvLen}, Math.max(1, kvLen));
        PagedKvCache view = new PagedKvCache(kv.k(), kv.v(), kv.layout(), pages, Math.max(1, kvLen), hkv, d, 0, 0,
                (long) kvLen * hkv * d, kv.scales());
        AttentionProblem problem = problem(heads, new int[] {0, qoLen}, table, options, mask, PlanOptions.DEFAULT,
                decode);
        // q, o, lse of single ops drop the leading row axis; the kernels address them flat.
        Checks.tensor(session, "o", o);
        Checks.dtype("o", o, q.dtype());
        Checks.shape("o", o, q.shape());
        Checks.qDtype(session.capabilities(), id(), "q", q);
        if (lse != null) {
            Checks.feature(session.capabilities(), id(), Feature.LSE, "lse");
            Checks.tensor(session, "lse", lse);
            Checks.dtype("lse", lse, DType.F32);
            long[] expect = decode ? new long[] {hq} : new long[] {qoLen, hq};
            Checks.shape("lse", lse, expect);
        }
        Checks.cache(session, view, table, heads);
        try (KernelPlan plan = session.plan(problem)) {
            plan.run(q, view, o, lse);
        }
    }

    // ------------------------------------------------------------------ batch

    /** Plans decode (one query row per request) over a paged cache. */
    public BatchAttentionPlan planBatchDecode(PageTable table, HeadConfig heads, AttentionOptions options,
                                              PlanOptions plan) {
        requireOpen();
        requireNonNull(table, "pageTable");
        int batch = table.batchSize();
        int[] qoIndptr = new int[batch + 1];
        for (int b = 0; b <= batch; b++) {
            qoIndptr[b] = b;
        }
        AttentionProblem p = problem(heads, qoIndptr, table, options, null, plan, true);
        return new BatchAttentionPlan(this, p, session.plan(p));
    }

    /** Plans prefill over a paged cache; query rows of request b are {@code qoIndptr[b] .. qoIndptr[b+1])}. */
    public BatchAttentionPlan planBatchPrefill(int[] qoIndptr, PageTable table, HeadConfig heads,
                                               AttentionOptions options, CustomMask mask, PlanOptions plan) {
        requireOpen();
        requireNonNull(table, "pageTable");
        AttentionProblem p = problem(heads, qoIndptr, table, options, mask, plan, false);
        return new BatchAttentionPlan(this, p, session.plan(p));
    }

    /** Plans prefill over ragged K/V {@code [totalKv, Hkv, D]}; request b owns rows {@code kvIndptr[b] .. kvIndptr[b+1])}. */
    public RaggedAttentionPlan planBatchPrefillRagged(int[] qoIndptr, int[] kvIndptr, HeadConfig heads,
                                                      AttentionOptions options, CustomMask mask, PlanOptions plan) {
        requireOpen();
        requireNonNull(heads, "heads");
        Checks.indptr("kvIndptr", kvIndptr, -1);
        int batch = kvIndptr.length - 1;
        int maxLen = 0;
        int[] pageIndptr = new int[batch + 1];
        int[] last = new int[batch];
        List<Integer> pages = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int len = kvIndptr[b + 1] - kvIndptr[b];
            maxLen = Math.max(maxLen, len);
            if (len > 0) {
                pages.add(kvIndptr[b]);
                last[b] = len;
            }
            pageIndptr[b + 1] = pages.size();
        }
        PageTable table = new PageTable(pageIndptr, pages.stream().mapToInt(Integer::intValue).toArray(), last,
                Math.max(1, maxLen));
        AttentionProblem p = problem(heads, qoIndptr, table, options, mask, plan, false);
        return new RaggedAttentionPlan(this, p, session.plan(p), kvIndptr[batch], maxLen);
    }

    /**
     * Plans cascade attention. Causal and window rules apply to each request's keys concatenated
     * in level order; a level whose keys are all allowed for all its rows runs unmasked, any other
     * level runs with a mask built here from those rules. RoPE is not applied on the fly in a
     * cascade (apply it with {@link #applyRope} before appending K).
     */
    public CascadePlan planCascade(List<CascadeLevel> levels, HeadConfig heads, AttentionOptions options,
                                   PlanOptions plan) {
        requireOpen();
        requireNonNull(levels, "levels");
        requireNonNull(heads, "heads");
        requireNonNull(options, "options");
        Checks.feature(capabilities(), id(), Feature.CASCADE, "levels");
        if (levels.isEmpty()) {
            throw InvalidArgumentException.expected("levels.size", ">= 1", 0);
        }
        // Levels are planned with causal and window turned into masks, so the caller's own
        // options are checked here or a bad window (say -5) would pass as "no window".
        Checks.options(capabilities(), id(), options, heads.headDim());
        if (options.rope() != null) {
            throw new InvalidArgumentException("options.rope", "RoPE on the fly is not supported in a cascade; "
                    + "rotate q and k with applyRope before appending");
        }
        int nl = levels.size();
        for (int l = 0; l < nl; l++) {
            requireNonNull(levels.get(l), "levels[" + l + "]");
        }
        if (nl > 1) {
            // Checked before any level is planned, so a rejection leaves no plan behind.
            Checks.feature(capabilities(), id(), Feature.MERGE, "levels");
        }
        int[] reqIndptr = levels.get(nl - 1).qoIndptr();
        Checks.indptr("levels[" + (nl - 1) + "].qoIndptr", reqIndptr, -1);
        int requests = reqIndptr.length - 1;
        int totalQ = reqIndptr[requests];
        // For each level and request: the offset of that level's keys in the request's concatenation.
        int[] totalKv = new int[requests];
        int[][] offset = new int[nl][requests];
        for (int l = 0; l < nl; l++) {
            CascadeLevel level = levels.get(l);
            String name = "levels[" + l + "]";
            int[] ind = level.qoIndptr();
            Checks.indptr(name + ".qoIndptr", ind, level.pageTable().batchSize());
            if (ind[ind.length - 1] != totalQ) {
                throw InvalidArgumentException.expected(name + ".qoIndptr[" + (ind.length - 1) + "]",
                        "the last level's total rows " + totalQ, ind[ind.length - 1]);
            }
            int e = 0;
            for (int r = 0; r < requests; r++) {
                if (reqIndptr[r + 1] == reqIndptr[r]) {
                    continue; // no query rows: nothing attends, nothing to place
                }
                while (ind[e + 1] <= reqIndptr[r]) {
                    e++;
                }
                if (ind[e + 1] < reqIndptr[r + 1]) {
                    throw new InvalidArgumentException(name + ".qoIndptr", "every entry must cover whole requests of "
                            + "the last level; request " + r + " (rows " + reqIndptr[r] + ".." + reqIndptr[r + 1]
                            + ") is split by " + Arrays.toString(ind));
                }
                offset[l][r] = totalKv[r];
                totalKv[r] += level.pageTable().kvLen(e);
            }
        }
        int[] qoLens = new int[requests];
        for (int r = 0; r < requests; r++) {
            qoLens[r] = reqIndptr[r + 1] - reqIndptr[r];
        }
        Checks.causalLengths(options.causal(), qoLens, totalKv);
        List<AttentionProblem> problems = new ArrayList<>();
        List<KernelPlan> plans = new ArrayList<>();
        try {
            for (int l = 0; l < nl; l++) {
                CascadeLevel level = levels.get(l);
                CustomMask mask = levelMask(level, l, reqIndptr, offset, totalKv, options);
                AttentionOptions levelOptions = options.withCausal(false).withWindowLeft(-1);
                AttentionProblem p = problem(heads, level.qoIndptr(), level.pageTable(), levelOptions, mask, plan,
                        false);
                problems.add(p);
                plans.add(session.plan(p));
            }
        } catch (RuntimeException e) {
            plans.forEach(KernelPlan::close);
            throw e;
        }
        return new CascadePlan(this, problems, plans);
    }

    /** The mask of one cascade level, or null when the causal and window rules allow every key. */
    private static CustomMask levelMask(CascadeLevel level, int l, int[] reqIndptr, int[][] offset, int[] totalKv,
                                        AttentionOptions options) {
        if (!options.causal() && options.windowLeft() < 0) {
            return null;
        }
        int[] ind = level.qoIndptr();
        int entries = ind.length - 1;
        int requests = reqIndptr.length - 1;
        long bits = 0;
        for (int e = 0; e < entries; e++) {
            bits += (long) (ind[e + 1] - ind[e]) * level.pageTable().kvLen(e);
        }
        boolean[] mask = new boolean[Math.toIntExact(bits)];
        boolean anyMasked = false;
        long base = 0;
        int r = 0;
        for (int e = 0; e < entries; e++) {
            int len = level.pageTable().kvLen(e);
            for (int row = ind[e]; row < ind[e + 1]; row++) {
                while (reqIndptr[r + 1] <= row) {
                    r++;
                }
                int i = row - reqIndptr[r];
                long pq = i + (long) totalKv[r] - (reqIndptr[r + 1] - reqIndptr[r]);
                for (int j = 0; j < len; j++) {
                    long pos = offset[l][r] + j;
                    boolean allowed = (!options.causal() || pos <= pq)
                            && (options.windowLeft() < 0 || pos >= pq - options.windowLeft());
                    mask[(int) (base + (long) (row - ind[e]) * len + j)] = allowed;
                    anyMasked |= !allowed;
                }
            }
            base += (long) (ind[e + 1] - ind[e]) * len;
        }
        return anyMasked ? CustomMask.fromBooleans(mask) : null;
    }

    private AttentionProblem problem(HeadConfig heads, int[] qoIndptr, PageTable table, AttentionOptions options,
                                     CustomMask mask, PlanOptions plan, boolean decode) {
        requireNonNull(heads, "heads");
        requireNonNull(options, "options");
        Capabilities caps = capabilities();
        Checks.feature(caps, id(), decode ? Feature.DECODE : Feature.PREFILL, decode ? "decode" : "prefill");
        Checks.headDim(caps, id(), heads.headDim());
        Checks.options(caps, id(), options, heads.headDim());
        int batch = table.batchSize();
        Checks.indptr("qoIndptr", qoIndptr, batch);
        int[] qoLens = new int[batch];
        for (int b = 0; b < batch; b++) {
            qoLens[b] = qoIndptr[b + 1] - qoIndptr[b];
        }
        int[] kvLens = table.kvLens();
        Checks.causalLengths(options.causal(), qoLens, kvLens);
        long[] maskOffsets = null;
        if (mask != null) {
            Checks.feature(caps, id(), Feature.CUSTOM_MASK, "mask");
            maskOffsets = mask.resolveOffsets(qoLens, kvLens);
        }
        PlanOptions planOptions = plan == null ? PlanOptions.DEFAULT : plan;
        if (planOptions.deterministic()) {
            Checks.feature(caps, id(), Feature.DETERMINISTIC, "plan.deterministic");
        }
        return new AttentionProblem(heads, qoIndptr.clone(), table, options, mask, maskOffsets, decode, planOptions);
    }

    // ------------------------------------------------------------------ attention states

    /** {@code (o, s) = merge((oA, sA), (oB, sB))}: o* {@code [rows, Hq, D]}, s* {@code [rows, Hq]} F32. */
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        requireOpen();
        Checks.feature(capabilities(), id(), Feature.MERGE, "mergeState");
        Checks.tensor(session, "oA", oA);
        stateShapes(oA, sA, "oA", "sA");
        stateShapes(oA, sB, "oA", "sB");
        stateLike(oA, oB, "oB");
        stateLike(oA, o, "o");
        stateShapes(oA, s, "oA", "s");
        session.mergeState(oA, sA, oB, sB, o, s);
    }

    /** Merges {@code (oOther, sOther)} into {@code (o, s)} for rows whose mask is true (all when null). */
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        requireOpen();
        Checks.feature(capabilities(), id(), Feature.MERGE, "mergeStateInPlace");
        Checks.tensor(session, "o", o);
        stateShapes(o, s, "o", "s");
        stateLike(o, oOther, "oOther");
        stateShapes(o, sOther, "o", "sOther");
        if (rowMask != null && rowMask.length != o.dim(0)) {
            throw InvalidArgumentException.expected("rowMask.length", "rows = " + o.dim(0), rowMask.length);
        }
        session.mergeStateInPlace(o, s, oOther, sOther, rowMask == null ? null : rowMask.clone());
    }

    /** Merges n states per row: v {@code [rows, n, Hq, D]}, s {@code [rows, n, Hq]} into o {@code [rows, Hq, D]}, sOut {@code [rows, Hq]}. */
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        requireOpen();
        Checks.feature(capabilities(), id(), Feature.MERGE, "mergeStates");
        Checks.tensor(session, "v", v);
        if (v.rank() != 4) {
            throw InvalidArgumentException.expected("v.shape", "[rows, n, Hq, D]", Arrays.toString(v.shape()));
        }
        Checks.qDtype(capabilities(), id(), "v", v);
        long rows = v.dim(0);
        long n = v.dim(1);
        long hq = v.dim(2);
        long d = v.dim(3);
        Checks.tensor(session, "s", s);
        Checks.dtype("s", s, DType.F32);
        Checks.shape("s", s, rows, n, hq);
        Checks.tensor(session, "o", o);
        Checks.dtype("o", o, v.dtype());
        Checks.shape("o", o, rows, hq, d);
        Checks.tensor(session, "sOut", sOut);
        Checks.dtype("sOut", sOut, DType.F32);
        Checks.shape("sOut", sOut, rows, hq);
        session.mergeStates(v, s, o, sOut);
    }

    private void stateShapes(Tensor o, Tensor s, String oName, String sName) {
        Checks.tensor(session, sName, s);
        if (o.rank() != 3) {
            throw InvalidArgumentException.expected(oName + ".shape", "[rows, Hq, D]", Arrays.toString(o.shape()));
        }
        Checks.qDtype(capabilities(), id(), oName, o);
        Checks.dtype(sName, s, DType.F32);
        Checks.shape(sName, s, o.dim(0), o.dim(1));
    }

    private void stateLike(Tensor ref, Tensor t, String name) {
        Checks.tensor(session, name, t);
        Checks.dtype(name, t, ref.dtype());
        Checks.shape(name, t, ref.shape());
    }

    // ------------------------------------------------------------------ KV append and RoPE

    /**
     * Writes {@code k}, {@code v} {@code [n, Hkv, D]} into the cache: token t to request
     * {@code at.batchIndices()[t]} at position {@code at.positions()[t]}, located through
     * {@code table}, which already counts the new tokens. FP8 caches quantise with the cache's
     * scales (round to nearest even, saturating); same-dtype copies are bit-exact.
     */
    public void appendPagedKv(Tensor k, Tensor v, AppendPositions at, PagedKvCache cache, PageTable table) {
        requireOpen();
        Checks.feature(capabilities(), id(), Feature.APPEND, "appendPagedKv");
        requireNonNull(at, "positions");
        requireNonNull(cache, "cache");
        requireNonNull(table, "pageTable");
        Checks.tensor(session, "k", k);
        Checks.tensor(session, "v", v);
        HeadConfig heads = new HeadConfig(cache.numKvHeads(), cache.numKvHeads(), cache.headDim());
        Checks.shape("k", k, at.size(), cache.numKvHeads(), cache.headDim());
        Checks.shape("v", v, at.size(), cache.numKvHeads(), cache.headDim());
        Checks.dtype("v", v, k.dtype());
        if (k.dtype() != cache.dtype()) {
            // New tokens come from the model in a q dtype and are converted (quantised) on the way in.
            Checks.qDtype(capabilities(), id(), "k", k);
        }
        Checks.cache(session, cache, table, heads);
        int[] bi = at.batchIndices();
        int[] pos = at.positions();
        for (int t = 0; t < bi.length; t++) {
            if (bi[t] < 0 || bi[t] >= table.batchSize()) {
                throw InvalidArgumentException.outside("batchIndices[" + t + "]", bi[t], 0, table.batchSize());
            }
            int len = table.kvLen(bi[t]);
            if (pos[t] < 0 || pos[t] >= len) {
                throw InvalidArgumentException.outside("positions[" + t + "]", pos[t], 0, len);
            }
        }
        session.appendPagedKv(k, v, bi, pos, cache, table);
    }

    /** Rotates q {@code [n, Hq, D]} and k {@code [n, Hkv, D]} (k may be null) in place, row t at {@code positions[t]}. */
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        requireOpen();
        Checks.feature(capabilities(), id(), Feature.STANDALONE_ROPE, "applyRope");
        requireNonNull(positions, "positions");
        requireNonNull(rope, "rope");
        Checks.tensor(session, "q", q);
        if (q.rank() != 3) {
            throw InvalidArgumentException.expected("q.shape", "[n, Hq, D]", Arrays.toString(q.shape()));
        }
        Checks.qDtype(capabilities(), id(), "q", q);
        long n = q.dim(0);
        long d = q.dim(2);
        if (d % 2 != 0) {
            throw InvalidArgumentException.expected("q.shape[2]", "an even head dim", d);
        }
        if (positions.length != n) {
            throw InvalidArgumentException.expected("positions.length", "n = " + n, positions.length);
        }
        for (int t = 0; t < positions.length; t++) {
            if (positions[t] < 0) {
                throw InvalidArgumentException.expected("positions[" + t + "]", ">= 0", positions[t]);
            }
        }
        if (k != null) {
            Checks.tensor(session, "k", k);
            if (k.rank() != 3 || k.dim(0) != n || k.dim(2) != d) {
                throw InvalidArgumentException.expected("k.shape", "[" + n + ", Hkv, " + d + "]",
                        Arrays.toString(k.shape()));
            }
            Checks.qDtype(capabilities(), id(), "k", k);
        }
        session.applyRope(q, k, positions.clone(), rope);
    }

    private static void requireNonNull(Object o, String name) {
        Checks.notNull(o, name);
    }

    /** Rejects calls after {@link #close()}: a closed session may have freed its device context. */
    void requireOpen() {
        Checks.open("backend", closed);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            session.close();
        }
    }

    @Override
    public String toString() {
        return "AttentionBackend[" + id() + " on " + device() + "]";
    }
}
