package org.attn4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.CallScope;
import org.attn4j.internal.Lowering;
import org.attn4j.internal.PlanBinding;
import org.attn4j.internal.Validation;
import org.attn4j.internal.Workspaces;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
import org.attn4j.spi.GraphRecorder;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.ResourceGuard;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * An open attn4j backend on one device: memory, attention, states, KV append, RoPE and graphs.
 * Every method validates its arguments completely before any device work (spec §7); a rejected
 * call throws {@link InvalidArgumentException} and leaves every output untouched, and no
 * {@link Error} escapes (device and memory failures are {@link org.attn4j.error.BackendException}s).
 *
 * <p>Ordering (spec §6): work is queued in order on the session's stream or queue (its own, or the
 * caller's: {@code BackendOptions.withHandle("stream", ...)}); calls return once their work is
 * queued. Only {@link #upload}, {@link #download}, {@link #synchronize} and timers wait on the
 * host.
 *
 * <p>Thread-safe: calls from several threads are queued in some order; {@link #close} waits for
 * calls in flight. During {@link #captureGraph} other threads' calls are rejected.
 *
 * <pre>{@code
 * try (AttentionBackend attn = Backends.openBest()) { ... }
 * }</pre>
 */
public final class AttentionBackend implements AutoCloseable {
    private final BackendSession session;
    private final ResourceGuard guard = new ResourceGuard();
    private final Workspaces workspaces = new Workspaces();
    private volatile Thread capturingThread;
    private List<Object> captured;

    private AttentionBackend(BackendSession session) {
        this.session = Args.notNull(session, "session");
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

    /** Native handles to share this backend's device work ({@code stream}, {@code context}, {@code queue}). */
    public Map<String, Long> nativeHandles() {
        return session.nativeHandles();
    }

    /** Device allocations made since the backend opened (plans reuse the session's memory). */
    public long deviceAllocations() {
        return session.deviceAllocations();
    }

    // ------------------------------------------------------------------ calls

    /** Opens a call: rejects a closed backend, and another thread's call during a capture. */
    CallScope call(String operation) {
        Thread t = capturingThread;
        if (t != null && t != Thread.currentThread()) {
            throw new InvalidArgumentException(operation, "the backend is capturing a graph on thread '" + t.getName()
                    + "'; calls from other threads wait until the capture ends");
        }
        Consumer<Object> recorder = t == null ? null : captured::add;
        return new CallScope(session, guard, recorder);
    }

    boolean capturing() {
        return capturingThread == Thread.currentThread();
    }

    /** Rejects work that cannot be recorded in a graph (host copies, allocations, planning). */
    void notWhileCapturing(String operation) {
        if (capturing()) {
            throw new InvalidArgumentException(operation, "cannot be captured in a graph: it allocates, copies from "
                    + "the host or waits; do it before captureGraph");
        }
    }

    RuntimeException failure(String operation, Error e) {
        return CallScope.failure(id(), operation, e);
    }

    BackendSession session() {
        return session;
    }

    // ------------------------------------------------------------------ memory

    /** A zero-filled, contiguous tensor on this backend. */
    public Tensor allocate(DType dtype, long... shape) {
        try (CallScope c = call("allocate")) {
            notWhileCapturing("allocate");
            Args.notNull(dtype, "dtype");
            Args.multiply(Args.elementCount(shape, "shape"), dtype.byteSize(), "shape");
            return session.allocate(dtype, shape.clone());
        } catch (Error e) {
            throw failure("allocate(" + dtype + ", " + Arrays.toString(shape) + ")", e);
        }
    }

    /**
     * A contiguous tensor over memory the caller owns (a CUDA device pointer, an OpenCL buffer, a
     * host segment: see {@link Capabilities#externalMemory()}), never freed by attn4j. Views of it
     * ({@link Tensor#view}) serve as q, o, K/V caches and appended tokens.
     */
    public Tensor wrap(ExternalMemory memory, DType dtype, long... shape) {
        try (CallScope c = call("wrap")) {
            Args.notNull(memory, "memory");
            Args.notNull(dtype, "dtype");
            if (!capabilities().externalMemory().contains(memory.kind())) {
                throw InvalidArgumentException.expected("memory", "one of " + capabilities().externalMemory()
                        + " on backend '" + id() + "'", memory.kind());
            }
            long bytes = Args.multiply(Args.elementCount(shape, "shape"), dtype.byteSize(), "shape");
            if (bytes > memory.capacityBytes()) {
                throw InvalidArgumentException.expected("shape", "at most the memory's " + memory.capacityBytes()
                        + " bytes", bytes + " bytes for " + dtype + " " + Arrays.toString(shape));
            }
            return session.wrap(memory, dtype, shape.clone());
        } catch (Error e) {
            throw failure("wrap", e);
        }
    }

    /** A tensor viewing {@code host} without a copy, where the backend can ({@link Feature#ZERO_COPY_HOST}). */
    public Tensor wrap(HostTensor host) {
        Args.notNull(host, "host");
        Validation.feature(capabilities(), id(), Feature.ZERO_COPY_HOST, "host");
        return wrap(ExternalMemory.hostSegment(host.segment()), host.dtype(), host.shape());
    }

    /** A new tensor holding a copy of {@code host}; returns once the copy is done. */
    public Tensor upload(HostTensor host) {
        Args.notNull(host, "host");
        Tensor t = allocate(host.dtype(), host.shape());
        try {
            upload(host, t);
        } catch (RuntimeException e) {
            t.close(); // the caller never sees t, so nobody else could free it
            throw e;
        }
        return t;
    }

    /** Copies {@code host} into the contiguous tensor {@code dst} of the same dtype and shape; waits for the copy. */
    public void upload(HostTensor host, Tensor dst) {
        try (CallScope c = call("upload")) {
            notWhileCapturing("upload");
            Args.notNull(host, "host");
            c.tensor("dst", dst);
            Validation.dtype("dst", dst, host.dtype());
            Validation.shape("dst", dst, host.shape());
            Validation.contiguous("dst", dst);
            session.copyFromHost(host, dst);
        } catch (Error e) {
            throw failure("upload", e);
        }
    }

    /**
     * Queues a copy of {@code host} into the contiguous tensor {@code dst} without waiting for
     * it: the bytes are taken before this returns, so {@code host} may be changed or freed at
     * once, and the copy runs after the work queued before it. This is how an engine writes new
     * positions and page ids between replays of a captured graph. Not allowed inside a capture.
     */
    public void uploadAsync(HostTensor host, Tensor dst) {
        try (CallScope c = call("uploadAsync")) {
            notWhileCapturing("uploadAsync");
            Args.notNull(host, "host");
            c.tensor("dst", dst);
            Validation.dtype("dst", dst, host.dtype());
            Validation.shape("dst", dst, host.shape());
            Validation.contiguous("dst", dst);
            session.copyFromHostAsync(host, dst);
        } catch (Error e) {
            throw failure("uploadAsync", e);
        }
    }

    /** A host copy of the contiguous tensor {@code t}; waits for queued work and reports device faults. */
    public HostTensor download(Tensor t) {
        Validation.tensor(session, "src", t);
        HostTensor host;
        try {
            host = HostTensor.allocate(t.dtype(), t.shape());
        } catch (Error e) {
            throw failure("download", e);
        }
        try {
            download(t, host);
        } catch (RuntimeException e) {
            host.close();
            throw e;
        }
        return host;
    }

    public void download(Tensor t, HostTensor dst) {
        try (CallScope c = call("download")) {
            notWhileCapturing("download");
            c.tensor("src", t);
            Validation.contiguous("src", t);
            Args.notNull(dst, "dst");
            if (dst.dtype() != t.dtype() || !Arrays.equals(dst.shape(), t.shape())) {
                throw InvalidArgumentException.expected("dst", t.dtype() + " " + Arrays.toString(t.shape()),
                        dst.dtype() + " " + Arrays.toString(dst.shape()));
            }
            session.copyToHost(t, dst);
        } catch (Error e) {
            throw failure("download", e);
        }
    }

    /** Waits for all queued work; reports a fault a kernel found in device-resident values. */
    public void synchronize() {
        try (CallScope c = call("synchronize")) {
            notWhileCapturing("synchronize");
            session.synchronize();
        }
    }

    public DeviceTimer newTimer() {
        try (CallScope c = call("newTimer")) {
            return session.newTimer();
        }
    }

    // ------------------------------------------------------------------ single request

    /**
     * Decode for one request: q {@code [Hq, D]}; K, V {@code [kvLen, Hkv, D]} (NHD) or
     * {@code [Hkv, kvLen, D]} (HND); o like q; lse {@code [Hq]} or null. q and o may be views
     * with a head stride.
     */
    public void singleDecode(Tensor q, ContiguousKv kv, AttentionOptions options, Tensor o, Tensor lse) {
        single("singleDecode", q, kv, options, null, o, lse, true);
    }

    /**
     * Prefill for one request: q {@code [qoLen, Hq, D]}; K, V as in {@link #singleDecode};
     * o like q; lse {@code [qoLen, Hq]} or null; mask {@code qoLen x kvLen} or null. q and o may
     * be views with token and head strides.
     */
    public void singlePrefill(Tensor q, ContiguousKv kv, AttentionOptions options, CustomMask mask, Tensor o,
                              Tensor lse) {
        single("singlePrefill", q, kv, options, mask, o, lse, false);
    }

    private void single(String op, Tensor q, ContiguousKv kv, AttentionOptions options, CustomMask mask, Tensor o,
                        Tensor lse, boolean decode) {
        try (CallScope c = call(op)) {
            notWhileCapturing(op);
            BackendTensor qt = c.tensor("q", q);
            int rank = decode ? 2 : 3;
            if (q.rank() != rank) {
                throw InvalidArgumentException.expected("q.shape", decode ? "[Hq, D]" : "[qoLen, Hq, D]",
                        Arrays.toString(q.shape()));
            }
            Args.notNull(kv, "kv");
            c.tensor("k", kv.k());
            c.tensor("v", kv.v());
            BackendTensor ot = c.tensor("o", o);
            Validation.dtype("o", o, q.dtype());
            Validation.shape("o", o, q.shape());
            int hq = Args.toInt(q.dim(-2), "q.shape");
            int qoLen = decode ? 1 : Args.toInt(q.dim(0), "q.shape[0]");
            // Single calls address q and o as [qoLen, Hq, D]: a decode's [Hq, D] is one row.
            Tensor q3 = decode ? rowOf(qt) : q;
            Tensor o3 = decode ? rowOf(ot) : o;
            Tensor lse2 = lse;
            if (lse != null && decode) {
                c.tensor("lse", lse);
                Validation.dtype("lse", lse, DType.F32);
                Validation.shape("lse", lse, hq);
                lse2 = lse.view(0, 1, hq);
            }
            int alignment = Math.min(qt.alignment(), ot.alignment());
            Lowering.Single s = Lowering.single(session, q3, kv, options, mask, hq, qoLen, decode, 1);
            AttentionProblem p = s.problem().withRunTypes(q.dtype(), kv.k().dtype(),
                    Math.min(alignment, Lowering.runAlignment(qt, ot, s.cache())));
            try (PlanBinding plan = new PlanBinding(session, p, null)) {
                KernelPlan kp = plan.prepareRun(c, q3, s.cache(), o3, lse2, false, false);
                kp.run(q3, s.cache(), o3, lse2);
            }
        } catch (Error e) {
            throw failure(op, e);
        }
    }

    /** {@code [Hq, D]} with strides {@code (h, 1)} as {@code [1, Hq, D]}. */
    private static Tensor rowOf(BackendTensor t) {
        long hq = t.dim(0);
        long hs = t.stride(0);
        return t.view(0, new long[] {1, hq, t.dim(1)}, new long[] {hq * hs, hs, t.stride(1)});
    }

    // ------------------------------------------------------------------ batch

    /** Plans decode (one query row per request) over a paged cache. */
    public BatchAttentionPlan planBatchDecode(PageTable table, HeadConfig heads, AttentionOptions options,
                                              PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return planBatch("planBatchDecode", decodeIndptr(table.batchSize()), table, null, heads, options, null, plan,
                true);
    }

    /**
     * Plans decode over a page table in device memory: the plan is made once for the table's
     * {@code maxKvLen}, and every run reads the lengths and page ids the buffers hold then (for
     * CUDA graphs replayed with new positions; {@link Feature#DEVICE_METADATA}).
     */
    public BatchAttentionPlan planBatchDecode(DevicePageTable table, HeadConfig heads, AttentionOptions options,
                                              PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return planBatch("planBatchDecode", decodeIndptr(table.batchSize()), null, table, heads, options, null, plan,
                true);
    }

    private static int[] decodeIndptr(int batch) {
        int[] qoIndptr = new int[batch + 1];
        for (int b = 0; b <= batch; b++) {
            qoIndptr[b] = b;
        }
        return qoIndptr;
    }

    /** Plans prefill over a paged cache; query rows of request b are {@code qoIndptr[b] .. qoIndptr[b+1])}. */
    public BatchAttentionPlan planBatchPrefill(int[] qoIndptr, PageTable table, HeadConfig heads,
                                               AttentionOptions options, CustomMask mask, PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return planBatch("planBatchPrefill", qoIndptr, table, null, heads, options, mask, plan, false);
    }

    private BatchAttentionPlan planBatch(String op, int[] qoIndptr, PageTable table, DevicePageTable deviceTable,
                                         HeadConfig heads, AttentionOptions options, CustomMask mask, PlanOptions plan,
                                         boolean decode) {
        try (CallScope c = call(op)) {
            notWhileCapturing(op);
            if (deviceTable != null) {
                Validation.deviceTable(session, deviceTable);
            }
            AttentionProblem p = Lowering.problem(session, heads, qoIndptr, table, deviceTable, options, mask, plan,
                    decode);
            return new BatchAttentionPlan(this, binding(c, p));
        } catch (Error e) {
            throw failure(op, e);
        }
    }

    /** Plans prefill over ragged K/V {@code [totalKv, Hkv, D]}; request b owns rows {@code kvIndptr[b] .. kvIndptr[b+1])}. */
    public RaggedAttentionPlan planBatchPrefillRagged(int[] qoIndptr, int[] kvIndptr, HeadConfig heads,
                                                      AttentionOptions options, CustomMask mask, PlanOptions plan) {
        try (CallScope c = call("planBatchPrefillRagged")) {
            notWhileCapturing("planBatchPrefillRagged");
            Args.notNull(heads, "heads");
            Lowering.Ragged ragged = Lowering.ragged(kvIndptr);
            AttentionProblem p = Lowering.problem(session, heads, qoIndptr, ragged.table(), null, options, mask, plan,
                    false);
            return new RaggedAttentionPlan(this, binding(c, p), ragged);
        } catch (Error e) {
            throw failure("planBatchPrefillRagged", e);
        }
    }

    /**
     * Plans cascade attention. Causal and window rules apply to each request's keys concatenated
     * in level order (see {@link CascadePlan}). RoPE is not applied on the fly in a cascade (apply
     * it with {@link #applyRope} before appending K).
     */
    public CascadePlan planCascade(List<CascadeLevel> levels, HeadConfig heads, AttentionOptions options,
                                   PlanOptions plan) {
        try (CallScope c = call("planCascade")) {
            notWhileCapturing("planCascade");
            List<AttentionProblem> problems = Lowering.cascade(session, levels, heads, options, plan);
            List<PlanBinding> bindings = new ArrayList<>();
            try {
                for (AttentionProblem p : problems) {
                    bindings.add(new PlanBinding(session, p, null));
                }
                return new CascadePlan(this, bindings);
            } catch (RuntimeException e) {
                bindings.forEach(PlanBinding::close);
                throw e;
            }
        } catch (Error e) {
            throw failure("planCascade", e);
        }
    }

    /** The plan's backend plans, in its workspace when {@link PlanOptions#workspace} names one. */
    private PlanBinding binding(CallScope c, AttentionProblem p) {
        Tensor ws = p.plan().workspace();
        if (ws == null) {
            return new PlanBinding(session, p, null);
        }
        if (!p.plan().hasDtypes()) {
            throw new InvalidArgumentException("plan.workspace", "a plan in a workspace is made ahead, so it needs "
                    + "its dtypes (PlanOptions.withDtypes)");
        }
        BackendTensor w = c.tensor("plan.workspace", ws);
        Validation.contiguous("plan.workspace", ws);
        long need = session.workspaceBytes(p);
        if (w.byteSize() < need) {
            throw InvalidArgumentException.expected("plan.workspace", "at least " + need + " bytes for this plan",
                    w.byteSize() + " bytes");
        }
        return new PlanBinding(session, p, workspaces.claim(w));
    }

    /** Workspace bytes {@link #planBatchDecode} with these arguments needs ({@link PlanOptions#workspace}). */
    public long decodeWorkspaceBytes(PageTable table, HeadConfig heads, AttentionOptions options, PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return workspaceBytes(decodeIndptr(table.batchSize()), table, null, heads, options, null, plan, true);
    }

    /** Workspace bytes the device-table {@link #planBatchDecode} with these arguments needs. */
    public long decodeWorkspaceBytes(DevicePageTable table, HeadConfig heads, AttentionOptions options,
                                     PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return workspaceBytes(decodeIndptr(table.batchSize()), null, table, heads, options, null, plan, true);
    }

    /** Workspace bytes {@link #planBatchPrefill} with these arguments needs. */
    public long prefillWorkspaceBytes(int[] qoIndptr, PageTable table, HeadConfig heads, AttentionOptions options,
                                      CustomMask mask, PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return workspaceBytes(qoIndptr, table, null, heads, options, mask, plan, false);
    }

    private long workspaceBytes(int[] qoIndptr, PageTable table, DevicePageTable deviceTable, HeadConfig heads,
                                AttentionOptions options, CustomMask mask, PlanOptions plan, boolean decode) {
        try (CallScope c = call("workspaceBytes")) {
            PlanOptions p = plan == null ? PlanOptions.DEFAULT : plan;
            if (!p.hasDtypes()) {
                throw new InvalidArgumentException("plan", "the workspace depends on the dtypes: give them with "
                        + "PlanOptions.withDtypes");
            }
            return session.workspaceBytes(Lowering.problem(session, heads, qoIndptr, table, deviceTable, options, mask,
                    p.withWorkspace(null), decode));
        }
    }

    // ------------------------------------------------------------------ attention states

    /** {@code (o, s) = merge((oA, sA), (oB, sB))}: o* {@code [rows, Hq, D]}, s* {@code [rows, Hq]} F32, contiguous. */
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        try (CallScope c = call("mergeState")) {
            Validation.feature(capabilities(), id(), Feature.MERGE, "mergeState");
            state(c, oA, sA, "oA", "sA", null);
            state(c, oB, sB, "oB", "sB", oA);
            state(c, o, s, "o", "s", oA);
            session.mergeState(oA, sA, oB, sB, o, s);
        } catch (Error e) {
            throw failure("mergeState", e);
        }
    }

    /** Merges {@code (oOther, sOther)} into {@code (o, s)} for rows whose mask is true (all when null). */
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        try (CallScope c = call("mergeStateInPlace")) {
            Validation.feature(capabilities(), id(), Feature.MERGE, "mergeStateInPlace");
            state(c, o, s, "o", "s", null);
            state(c, oOther, sOther, "oOther", "sOther", o);
            if (rowMask != null) {
                notWhileCapturing("mergeStateInPlace with a row mask");
                if (rowMask.length != o.dim(0)) {
                    throw InvalidArgumentException.expected("rowMask.length", "rows = " + o.dim(0), rowMask.length);
                }
            }
            session.mergeStateInPlace(o, s, oOther, sOther, rowMask == null ? null : rowMask.clone());
        } catch (Error e) {
            throw failure("mergeStateInPlace", e);
        }
    }

    /** Merges n states per row: v {@code [rows, n, Hq, D]}, s {@code [rows, n, Hq]} into o {@code [rows, Hq, D]}, sOut {@code [rows, Hq]}. */
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        try (CallScope c = call("mergeStates")) {
            Validation.feature(capabilities(), id(), Feature.MERGE, "mergeStates");
            c.tensor("v", v);
            if (v.rank() != 4) {
                throw InvalidArgumentException.expected("v.shape", "[rows, n, Hq, D]", Arrays.toString(v.shape()));
            }
            Validation.qDtype(capabilities(), id(), "v", v.dtype());
            long rows = v.dim(0);
            long n = v.dim(1);
            long hq = v.dim(2);
            long d = v.dim(3);
            for (Object[] x : new Object[][] {{"s", s, DType.F32, new long[] {rows, n, hq}},
                    {"o", o, v.dtype(), new long[] {rows, hq, d}}, {"sOut", sOut, DType.F32, new long[] {rows, hq}}}) {
                String name = (String) x[0];
                Tensor t = (Tensor) x[1];
                c.tensor(name, t);
                Validation.dtype(name, t, (DType) x[2]);
                Validation.shape(name, t, (long[]) x[3]);
                Validation.contiguous(name, t);
            }
            Validation.contiguous("v", v);
            session.mergeStates(v, s, o, sOut);
        } catch (Error e) {
            throw failure("mergeStates", e);
        }
    }

    /** One state (o, s) checked: o {@code [rows, Hq, D]} of a q dtype (like {@code like}), s F32, both contiguous. */
    private void state(CallScope c, Tensor o, Tensor s, String oName, String sName, Tensor like) {
        c.tensor(oName, o);
        if (like != null) {
            Validation.dtype(oName, o, like.dtype());
            Validation.shape(oName, o, like.shape());
        } else {
            if (o.rank() != 3) {
                throw InvalidArgumentException.expected(oName + ".shape", "[rows, Hq, D]", Arrays.toString(o.shape()));
            }
            Validation.qDtype(capabilities(), id(), oName, o.dtype());
        }
        Validation.contiguous(oName, o);
        c.tensor(sName, s);
        Validation.dtype(sName, s, DType.F32);
        Validation.shape(sName, s, o.dim(0), o.dim(1));
        Validation.contiguous(sName, s);
    }

    // ------------------------------------------------------------------ KV append and RoPE

    /**
     * Writes {@code k}, {@code v} {@code [n, Hkv, D]} (views with token and head strides allowed)
     * into the cache: token t to request {@code at.batchIndices()[t]} at position
     * {@code at.positions()[t]}, located through {@code table}, which already counts the new
     * tokens. FP8 caches quantise with the cache's scales (round to nearest even, saturating);
     * same-dtype copies are bit-exact.
     */
    public void appendPagedKv(Tensor k, Tensor v, AppendPositions at, PagedKvCache cache, PageTable table) {
        try (CallScope c = call("appendPagedKv")) {
            notWhileCapturing("appendPagedKv with host positions");
            Args.notNull(at, "positions");
            Args.notNull(table, "pageTable");
            newTokens(c, k, v, at.size(), cache);
            Validation.cache(session, cache, table.pageSize(), new HeadConfig(cache.numKvHeads(), cache.numKvHeads(),
                    cache.headDim()));
            Validation.pageIds(table, cache.numPages());
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
        } catch (Error e) {
            throw failure("appendPagedKv", e);
        }
    }

    /**
     * As {@link #appendPagedKv(Tensor, Tensor, AppendPositions, PagedKvCache, PageTable)} with the
     * batch indices and positions as I32 device tensors {@code [n]} and a device page table: what
     * a captured graph replays with new values ({@link Feature#DEVICE_METADATA}). Tokens whose
     * request or position is out of range are skipped and reported by the next synchronize.
     */
    public void appendPagedKv(Tensor k, Tensor v, Tensor batchIndices, Tensor positions, PagedKvCache cache,
                              DevicePageTable table) {
        try (CallScope c = call("appendPagedKv")) {
            Validation.deviceTable(session, table);
            long n = k == null ? 0 : k.dim(0);
            newTokens(c, k, v, n, cache);
            c.tensor("batchIndices", batchIndices);
            c.tensor("positions", positions);
            Validation.deviceInts(session, "batchIndices", batchIndices, n);
            Validation.deviceInts(session, "positions", positions, n);
            c.tensor("pageTable.indptr", table.indptr());
            c.tensor("pageTable.indices", table.indices());
            c.tensor("pageTable.lastPageLen", table.lastPageLen());
            Validation.cache(session, cache, table.pageSize(), new HeadConfig(cache.numKvHeads(), cache.numKvHeads(),
                    cache.headDim()));
            session.appendPagedKv(k, v, batchIndices, positions, cache, table);
        } catch (Error e) {
            throw failure("appendPagedKv", e);
        }
    }

    private void newTokens(CallScope c, Tensor k, Tensor v, long n, PagedKvCache cache) {
        Validation.feature(capabilities(), id(), Feature.APPEND, "appendPagedKv");
        Args.notNull(cache, "cache");
        c.tensor("k", k);
        c.tensor("v", v);
        Validation.rows("k", k, n, cache.numKvHeads(), cache.headDim(), false);
        Validation.rows("v", v, n, cache.numKvHeads(), cache.headDim(), false);
        Validation.dtype("v", v, k.dtype());
        if (k.dtype() != cache.dtype()) {
            // New tokens come from the model in a q dtype and are converted (quantised) on the way in.
            Validation.qDtype(capabilities(), id(), "k", k.dtype());
        }
        c.tensor("cache.k", cache.k());
        c.tensor("cache.v", cache.v());
    }

    /**
     * Rotates q {@code [n, Hq, D]} and k {@code [n, Hkv, D]} (k may be null; views with token and
     * head strides allowed) in place, row t at {@code positions[t]}.
     */
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        try (CallScope c = call("applyRope")) {
            notWhileCapturing("applyRope with host positions");
            Args.notNull(positions, "positions");
            ropeInputs(c, q, k, rope);
            if (positions.length != q.dim(0)) {
                throw InvalidArgumentException.expected("positions.length", "n = " + q.dim(0), positions.length);
            }
            for (int t = 0; t < positions.length; t++) {
                if (positions[t] < 0) {
                    throw InvalidArgumentException.expected("positions[" + t + "]", ">= 0", positions[t]);
                }
            }
            session.applyRope(q, k, positions.clone(), rope);
        } catch (Error e) {
            throw failure("applyRope", e);
        }
    }

    /**
     * As {@link #applyRope(Tensor, Tensor, int[], RopeOptions)} with positions as an I32 device
     * tensor {@code [n]} ({@link Feature#DEVICE_METADATA}); negative positions are skipped and
     * reported by the next synchronize.
     */
    public void applyRope(Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        try (CallScope c = call("applyRope")) {
            Validation.feature(capabilities(), id(), Feature.DEVICE_METADATA, "positions");
            ropeInputs(c, q, k, rope);
            c.tensor("positions", positions);
            Validation.deviceInts(session, "positions", positions, q.dim(0));
            session.applyRope(q, k, positions, rope);
        } catch (Error e) {
            throw failure("applyRope", e);
        }
    }

    private void ropeInputs(CallScope c, Tensor q, Tensor k, RopeOptions rope) {
        Validation.feature(capabilities(), id(), Feature.STANDALONE_ROPE, "applyRope");
        Args.notNull(rope, "rope");
        c.tensor("q", q);
        if (q.rank() != 3) {
            throw InvalidArgumentException.expected("q.shape", "[n, Hq, D]", Arrays.toString(q.shape()));
        }
        Validation.qDtype(capabilities(), id(), "q", q.dtype());
        Validation.rows("q", q, q.dim(0), q.dim(1), q.dim(2), true);
        if (q.dim(2) % 2 != 0) {
            throw InvalidArgumentException.expected("q.shape[2]", "an even head dim", q.dim(2));
        }
        if (k != null) {
            c.tensor("k", k);
            if (k.rank() != 3 || k.dim(0) != q.dim(0) || k.dim(2) != q.dim(2)) {
                throw InvalidArgumentException.expected("k.shape", "[" + q.dim(0) + ", Hkv, " + q.dim(2) + "]",
                        Arrays.toString(k.shape()));
            }
            Validation.qDtype(capabilities(), id(), "k", k.dtype());
            Validation.rows("k", k, k.dim(0), k.dim(1), k.dim(2), true);
        }
    }

    // ------------------------------------------------------------------ graphs

    /**
     * Records the device work {@code work} queues into a graph, without running it, and returns it
     * to be replayed ({@link Feature#GRAPH_CAPTURE}). Inside {@code work}, only calls that queue
     * device work over memory that already exists may be made: runs of plans made ahead (with
     * their dtypes), merges, and RoPE and append with device-resident positions and page tables.
     * Calls that allocate, plan, copy from the host or wait are rejected. Replays read whatever
     * the captured tensors hold then: write new positions and page ids into the same device
     * tensors between replays. Calls from other threads are rejected during the capture.
     */
    public CapturedGraph captureGraph(Runnable work) {
        Args.notNull(work, "work");
        try (CallScope c = call("captureGraph")) {
            Validation.feature(capabilities(), id(), Feature.GRAPH_CAPTURE, "captureGraph");
            synchronized (this) {
                if (capturingThread != null) {
                    throw new InvalidArgumentException("captureGraph", "a capture is already in progress");
                }
                captured = new ArrayList<>();
                capturingThread = Thread.currentThread();
            }
            GraphRecorder recorder;
            try {
                recorder = session.beginCapture();
            } catch (RuntimeException e) {
                endCapture();
                throw e;
            }
            try {
                work.run();
            } catch (RuntimeException | Error e) {
                endCapture();
                recorder.abort();
                throw e;
            }
            List<Object> held = endCapture();
            return new CapturedGraph(this, recorder.end(), held);
        } catch (Error e) {
            throw failure("captureGraph", e);
        }
    }

    private synchronized List<Object> endCapture() {
        List<Object> held = captured;
        captured = null;
        capturingThread = null;
        return held;
    }

    /** Rejects calls after {@link #close()}: a closed session may have freed its device context. */
    void requireOpen() {
        if (guard.isClosed()) {
            throw new InvalidArgumentException("backend", "is closed");
        }
    }

    /** Waits for calls in flight, then closes the session (its memory, its stream). */
    @Override
    public void close() {
        if (guard.closeAndAwait()) {
            session.close();
        }
    }

    @Override
    public String toString() {
        return "AttentionBackend[" + id() + " on " + device() + "]";
    }
}
