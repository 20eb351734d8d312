package org.attn4j;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.CallChecks;
import org.attn4j.internal.CallScope;
import org.attn4j.internal.Capture;
import org.attn4j.internal.Lowering;
import org.attn4j.internal.MlaChecks;
import org.attn4j.internal.PlanBinding;
import org.attn4j.internal.SingleRequest;
import org.attn4j.internal.Validation;
import org.attn4j.internal.Workspaces;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
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
    private final Capture capture = new Capture();

    private AttentionBackend(BackendSession session) {
        this.session = Args.notNull(session, "session");
    }

    /**
     * Wraps an SPI session; most users call {@link Backends#openBest()} or {@link Backends#open(String)}.
     *
     * @param session the backend's session, which this front door then owns and closes
     * @return the front door over {@code session}
     */
    public static AttentionBackend of(BackendSession session) {
        return new AttentionBackend(session);
    }

    /**
     * The backend's provider id.
     *
     * @return {@code cuda}, {@code opencl}, {@code reference} or another provider's id
     */
    public String id() {
        return session.backendId();
    }

    /**
     * The device this backend runs on.
     *
     * @return its name and properties, in words
     */
    public String device() {
        return session.device();
    }

    /**
     * What this backend supports; calls outside it are rejected before any device work.
     *
     * @return the backend's capabilities
     */
    public Capabilities capabilities() {
        return session.capabilities();
    }

    /**
     * Native handles to share this backend's device work.
     *
     * @return handles by key ({@code stream}, {@code context}, {@code queue}, {@code device})
     */
    public Map<String, Long> nativeHandles() {
        return session.nativeHandles();
    }

    /**
     * Device allocations made since the backend opened; after warm-up, planning and running a decode
     * step add none (plans reuse the session's memory).
     *
     * @return the number of device allocations so far
     */
    public long deviceAllocations() {
        return session.deviceAllocations();
    }

    // ------------------------------------------------------------------ calls

    /** Opens a call: rejects a closed backend, and another thread's call during a capture. */
    CallScope call(String operation) {
        return capture.open(session, guard, operation);
    }

    boolean capturing() {
        return capture.active();
    }

    /** Rejects work that cannot be recorded in a graph (host copies, allocations, planning). */
    void notWhileCapturing(String operation) {
        capture.rejectDuring(operation);
    }

    RuntimeException failure(String operation, Error e) {
        return CallScope.failure(id(), operation, e);
    }

    BackendSession session() {
        return session;
    }

    // ------------------------------------------------------------------ memory

    /**
     * A zero-filled, contiguous tensor on this backend.
     *
     * @param dtype element type
     * @param shape dimensions, each non-negative
     * @return the new tensor, owned by the caller
     */
    public Tensor allocate(DType dtype, long... shape) {
        try (CallScope c = call("allocate")) {
            notWhileCapturing("allocate");
            CallChecks.allocation(dtype, shape);
            return session.allocate(dtype, shape.clone());
        } catch (Error e) {
            throw failure("allocate(" + dtype + ", " + Arrays.toString(shape) + ")", e);
        }
    }

    /**
     * A contiguous tensor over memory the caller owns (a CUDA device pointer, an OpenCL buffer, a
     * host segment: see {@link Capabilities#externalMemory()}), never freed by attn4j. Views of it
     * ({@link Tensor#view}) serve as q, o, K/V caches and appended tokens.
     *
     * @param memory the caller's memory, of a kind this backend takes
     * @param dtype  element type; device memory must start on a whole element
     * @param shape  dimensions, at most the memory's capacity
     * @return a tensor over the memory; closing it leaves the memory to the caller
     */
    public Tensor wrap(ExternalMemory memory, DType dtype, long... shape) {
        try (CallScope c = call("wrap")) {
            CallChecks.wrap(c, memory, dtype, shape);
            return session.wrap(memory, dtype, shape.clone());
        } catch (Error e) {
            throw failure("wrap", e);
        }
    }

    /**
     * A tensor viewing {@code host} without a copy, where the backend can ({@link Feature#ZERO_COPY_HOST}).
     *
     * @param host the host tensor, kept open by the caller while the view is used
     * @return a tensor over the host tensor's memory
     */
    public Tensor wrap(HostTensor host) {
        Args.notNull(host, "host");
        Validation.feature(capabilities(), id(), Feature.ZERO_COPY_HOST, "host");
        return wrap(ExternalMemory.hostSegment(host.segment()), host.dtype(), host.shape());
    }

    /**
     * A new tensor holding a copy of {@code host}; returns once the copy is done.
     *
     * @param host the values to copy
     * @return a new contiguous tensor of the host tensor's dtype and shape
     */
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

    /**
     * Copies {@code host} into the contiguous tensor {@code dst} of the same dtype and shape; waits for the copy.
     *
     * @param host the values to copy
     * @param dst  a contiguous tensor of this backend, of {@code host}'s dtype and shape
     */
    public void upload(HostTensor host, Tensor dst) {
        try (CallScope c = call("upload")) {
            notWhileCapturing("upload");
            CallChecks.upload(c, host, dst);
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
     *
     * @param host the values to copy
     * @param dst  a contiguous tensor of this backend, of {@code host}'s dtype and shape
     */
    public void uploadAsync(HostTensor host, Tensor dst) {
        try (CallScope c = call("uploadAsync")) {
            notWhileCapturing("uploadAsync");
            CallChecks.upload(c, host, dst);
            session.copyFromHostAsync(host, dst);
        } catch (Error e) {
            throw failure("uploadAsync", e);
        }
    }

    /**
     * A host copy of the contiguous tensor {@code t}; waits for queued work and reports device faults.
     *
     * @param t a contiguous tensor of this backend
     * @return a new host tensor of {@code t}'s dtype and shape, owned by the caller
     */
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

    /**
     * Copies the contiguous tensor {@code t} into {@code dst}; waits for queued work and reports
     * device faults (spec §11).
     *
     * @param t   a contiguous tensor of this backend
     * @param dst a host tensor of {@code t}'s dtype and shape
     */
    public void download(Tensor t, HostTensor dst) {
        try (CallScope c = call("download")) {
            notWhileCapturing("download");
            CallChecks.download(c, t, dst);
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

    /**
     * A timer of device work on this backend's stream or queue: device events where the backend has
     * them, else a wall clock around a synchronisation.
     *
     * @return a new timer, closed by the caller
     */
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
     *
     * @param q       the query row, {@code [Hq, D]}
     * @param kv      contiguous K and V with their layout and scales
     * @param options causal, window, soft cap, scale, RoPE
     * @param o       the output, q's dtype (for an FP8 q, F32, F16 or BF16) and shape
     * @param lse     the log-sum-exp {@code [Hq]} F32, or null
     */
    public void singleDecode(Tensor q, ContiguousKv kv, AttentionOptions options, Tensor o, Tensor lse) {
        single("singleDecode", q, kv, options, null, o, lse, true);
    }

    /**
     * Prefill for one request: q {@code [qoLen, Hq, D]}; K, V as in {@link #singleDecode};
     * o like q; lse {@code [qoLen, Hq]} or null; mask {@code qoLen x kvLen} or null. q and o may
     * be views with token and head strides.
     *
     * @param q       the query rows, {@code [qoLen, Hq, D]}
     * @param kv      contiguous K and V with their layout and scales
     * @param options causal, window, soft cap, scale, RoPE
     * @param mask    a custom mask of {@code qoLen x kvLen} bits, or null
     * @param o       the output, q's dtype (for an FP8 q, F32, F16 or BF16) and shape
     * @param lse     the log-sum-exp {@code [qoLen, Hq]} F32, or null
     */
    public void singlePrefill(Tensor q, ContiguousKv kv, AttentionOptions options, CustomMask mask, Tensor o,
                              Tensor lse) {
        single("singlePrefill", q, kv, options, mask, o, lse, false);
    }

    private void single(String op, Tensor q, ContiguousKv kv, AttentionOptions options, CustomMask mask, Tensor o,
                        Tensor lse, boolean decode) {
        try (CallScope c = call(op)) {
            notWhileCapturing(op);
            SingleRequest.run(c, q, kv, options, mask, o, lse, decode);
        } catch (Error e) {
            throw failure(op, e);
        }
    }

    // ------------------------------------------------------------------ batch

    /**
     * Plans decode (one query row per request) over a paged cache.
     *
     * @param table   the requests' pages and lengths
     * @param heads   query and KV heads, head dim
     * @param options causal, window, soft cap, scale, RoPE
     * @param plan    determinism, split chunk, dtypes, alignment, workspace; null for the defaults
     * @return the plan, to run for every layer and step with this page table's structure
     */
    public BatchAttentionPlan planBatchDecode(PageTable table, HeadConfig heads, AttentionOptions options,
                                              PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return planBatch("planBatchDecode", Lowering.decodeIndptr(table.batchSize()), table, null, heads, options,
                null, plan, true);
    }

    /**
     * Plans decode over a page table in device memory: the plan is made once for the table's
     * {@code maxKvLen}, and every run reads the lengths and page ids the buffers hold then (for
     * CUDA graphs replayed with new positions; {@link Feature#DEVICE_METADATA}).
     *
     * @param table   the page table's device tensors and its capacity
     * @param heads   query and KV heads, head dim
     * @param options causal, window, soft cap, scale, RoPE
     * @param plan    determinism, split chunk, dtypes, alignment, workspace; null for the defaults
     * @return the plan, whose runs read the device table as it is then
     */
    public BatchAttentionPlan planBatchDecode(DevicePageTable table, HeadConfig heads, AttentionOptions options,
                                              PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return planBatch("planBatchDecode", Lowering.decodeIndptr(table.batchSize()), null, table, heads, options,
                null, plan, true);
    }

    /**
     * Plans prefill over a paged cache; query rows of request b are {@code qoIndptr[b] .. qoIndptr[b+1])}.
     *
     * @param qoIndptr the requests' query rows, {@code B + 1} entries from 0, never decreasing
     * @param table    the requests' pages and lengths
     * @param heads    query and KV heads, head dim
     * @param options  causal, window, soft cap, scale, RoPE
     * @param mask     a custom mask, each request's {@code qoLen x kvLen} bits in turn, or null
     * @param plan     determinism, split chunk, dtypes, alignment, workspace; null for the defaults
     * @return the plan, to run for every layer with this structure
     */
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
            AttentionProblem p = Lowering.batch(session, heads, qoIndptr, table, deviceTable, options, mask, plan,
                    decode);
            return new BatchAttentionPlan(this, PlanBinding.bind(c, p, workspaces));
        } catch (Error e) {
            throw failure(op, e);
        }
    }

    /**
     * Plans prefill over ragged K/V {@code [totalKv, Hkv, D]}; request b owns rows
     * {@code kvIndptr[b] .. kvIndptr[b+1])}.
     *
     * @param qoIndptr the requests' query rows, {@code B + 1} entries from 0, never decreasing
     * @param kvIndptr the requests' K/V rows, {@code B + 1} entries from 0, never decreasing
     * @param heads    query and KV heads, head dim
     * @param options  causal, window, soft cap, scale, RoPE
     * @param mask     a custom mask, each request's {@code qoLen x kvLen} bits in turn, or null
     * @param plan     determinism, split chunk, dtypes, alignment, workspace; null for the defaults
     * @return the plan, to run for every layer with this structure
     */
    public RaggedAttentionPlan planBatchPrefillRagged(int[] qoIndptr, int[] kvIndptr, HeadConfig heads,
                                                      AttentionOptions options, CustomMask mask, PlanOptions plan) {
        try (CallScope c = call("planBatchPrefillRagged")) {
            notWhileCapturing("planBatchPrefillRagged");
            Args.notNull(heads, "heads");
            Lowering.Ragged ragged = Lowering.ragged(kvIndptr);
            AttentionProblem p = Lowering.problem(session, heads, qoIndptr, ragged.table(), null, options, mask, plan,
                    false);
            return new RaggedAttentionPlan(this, PlanBinding.bind(c, p, workspaces), ragged);
        } catch (Error e) {
            throw failure("planBatchPrefillRagged", e);
        }
    }

    /**
     * Plans cascade attention. Causal and window rules apply to each request's keys concatenated
     * in level order (see {@link CascadePlan}). RoPE is not applied on the fly in a cascade (apply
     * it with {@link #applyRope} before appending K), nor is ALiBi (its bias follows the keys'
     * positions in the concatenation); sinks are, once per row (spec §4).
     *
     * @param levels  the levels over one KV pool, shared prefixes first, each request's own keys last
     * @param heads   query and KV heads, head dim
     * @param options causal, window, soft cap, scale, sinks
     * @param plan    determinism, split chunk, dtypes, alignment; null for the defaults
     * @return the plan
     */
    public CascadePlan planCascade(List<CascadeLevel> levels, HeadConfig heads, AttentionOptions options,
                                   PlanOptions plan) {
        try (CallScope c = call("planCascade")) {
            notWhileCapturing("planCascade");
            List<PlanBinding> bindings = PlanBinding.bindAll(session, Lowering.cascade(session, levels, heads,
                    options, plan));
            try {
                return new CascadePlan(this, bindings);
            } catch (RuntimeException e) {
                bindings.forEach(PlanBinding::close);
                throw e;
            }
        } catch (Error e) {
            throw failure("planCascade", e);
        }
    }

    /**
     * Workspace bytes {@link #planBatchDecode} with these arguments needs ({@link PlanOptions#workspace}).
     *
     * @param table   the requests' pages and lengths
     * @param heads   query and KV heads, head dim
     * @param options causal, window, soft cap, scale, RoPE
     * @param plan    the plan options, with their dtypes
     * @return bytes of caller workspace the plan takes
     */
    public long decodeWorkspaceBytes(PageTable table, HeadConfig heads, AttentionOptions options, PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return workspaceBytes(Lowering.decodeIndptr(table.batchSize()), table, null, heads, options, null, plan,
                true);
    }

    /**
     * Workspace bytes the device-table {@link #planBatchDecode} with these arguments needs.
     *
     * @param table   the page table's device tensors and its capacity
     * @param heads   query and KV heads, head dim
     * @param options causal, window, soft cap, scale, RoPE
     * @param plan    the plan options, with their dtypes
     * @return bytes of caller workspace the plan takes
     */
    public long decodeWorkspaceBytes(DevicePageTable table, HeadConfig heads, AttentionOptions options,
                                     PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return workspaceBytes(Lowering.decodeIndptr(table.batchSize()), null, table, heads, options, null, plan,
                true);
    }

    /**
     * Workspace bytes {@link #planBatchPrefill} with these arguments needs.
     *
     * @param qoIndptr the requests' query rows
     * @param table    the requests' pages and lengths
     * @param heads    query and KV heads, head dim
     * @param options  causal, window, soft cap, scale, RoPE
     * @param mask     a custom mask, or null
     * @param plan     the plan options, with their dtypes
     * @return bytes of caller workspace the plan takes
     */
    public long prefillWorkspaceBytes(int[] qoIndptr, PageTable table, HeadConfig heads, AttentionOptions options,
                                      CustomMask mask, PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return workspaceBytes(qoIndptr, table, null, heads, options, mask, plan, false);
    }

    private long workspaceBytes(int[] qoIndptr, PageTable table, DevicePageTable deviceTable, HeadConfig heads,
                                AttentionOptions options, CustomMask mask, PlanOptions plan, boolean decode) {
        try (CallScope c = call("workspaceBytes")) {
            return session.workspaceBytes(Lowering.workspaceProblem(session, heads, qoIndptr, table, deviceTable,
                    options, mask, plan, decode));
        }
    }

    // ------------------------------------------------------------------ multi-head latent attention

    /**
     * Plans multi-head latent attention decode (spec §13, {@link Feature#MLA}): one query row per
     * request, {@code H} heads over the shared latent cache. Each row's logits are
     * {@code smScale * (qNope·ckv_j + qPe·kpe_j)}, its output {@code Σ p_j ckv_j}.
     *
     * <p>{@code smScale} has no default: it is {@code 1/sqrt} of the model's q/k head dim before the
     * up-projections were absorbed (DeepSeek-V3: {@code 1/sqrt(128 + 64)}, with its YaRN factor
     * folded in), not of the absorbed {@code dCkv + dKpe = 576}, which the shapes alone would suggest.
     *
     * @param table   the requests' pages and lengths
     * @param heads   query heads, dCkv and dKpe
     * @param smScale the logit scale, finite and {@code > 0}
     * @param plan    determinism and dtypes; null for the defaults (no workspace)
     * @return the plan, to run for every layer and step with this page table's structure
     */
    public MlaAttentionPlan planMlaDecode(PageTable table, MlaHeadConfig heads, float smScale, PlanOptions plan) {
        Args.notNull(table, "pageTable");
        return planMla("planMlaDecode", Lowering.decodeIndptr(table.batchSize()), table, heads, false, smScale, plan,
                true);
    }

    /**
     * Plans multi-head latent attention prefill (spec §13, {@link Feature#MLA}) over the paged
     * latent cache, request {@code b} owning query rows {@code qoIndptr[b] .. qoIndptr[b+1])},
     * bottom-right aligned with its keys as in spec §3. For the chunks of a long prompt whose
     * keys are already in the cache; {@code smScale} as in {@link #planMlaDecode}.
     *
     * @param qoIndptr the requests' query rows, {@code B + 1} entries from 0, never decreasing
     * @param table    the requests' pages and lengths
     * @param heads    query heads, dCkv and dKpe
     * @param causal   whether row {@code i} sees only keys {@code j <= i + kvLen - qoLen}
     * @param smScale  the logit scale, finite and {@code > 0}
     * @param plan     determinism and dtypes; null for the defaults (no workspace)
     * @return the plan
     */
    public MlaAttentionPlan planMlaPrefill(int[] qoIndptr, PageTable table, MlaHeadConfig heads, boolean causal,
                                           float smScale, PlanOptions plan) {
        return planMla("planMlaPrefill", qoIndptr, table, heads, causal, smScale, plan, false);
    }

    private MlaAttentionPlan planMla(String op, int[] qoIndptr, PageTable table, MlaHeadConfig heads, boolean causal,
                                     float smScale, PlanOptions plan, boolean decode) {
        try (CallScope c = call(op)) {
            notWhileCapturing(op);
            return new MlaAttentionPlan(this, MlaChecks.problem(session, heads, qoIndptr, table, causal, smScale,
                    plan, decode));
        } catch (Error e) {
            throw failure(op, e);
        }
    }

    /**
     * Writes the latent rows {@code ckv [n, dCkv]} and rotary rows {@code kpe [n, dKpe]} (views
     * with a token stride allowed) of new tokens into the latent cache: token t to request
     * {@code at.batchIndices()[t]} at position {@code at.positions()[t]}, located through
     * {@code table}, which already counts the new tokens ({@link Feature#MLA}). Exactly
     * {@link #appendPagedKv} of a one-head cache whose K pages are ckv and V pages kpe (spec §5):
     * same-dtype copies bit-exact, FP8 caches quantised with {@code ckvScale} and {@code kpeScale}.
     *
     * @param ckv   the new tokens' latent rows (after the KV layernorm)
     * @param kpe   the new tokens' rotary rows (RoPE already applied), ckv's dtype
     * @param at    each token's request and position
     * @param cache the latent cache written
     * @param table the page table, counting the new tokens
     */
    public void appendPagedMlaKv(Tensor ckv, Tensor kpe, AppendPositions at, PagedMlaCache cache, PageTable table) {
        try (CallScope c = call("appendPagedMlaKv")) {
            notWhileCapturing("appendPagedMlaKv with host positions");
            Tensor[] rows = MlaChecks.append(c, ckv, kpe, at, cache, table);
            PagedKvCache pages = cache.asKvPages();
            CallChecks.append(c, rows[0], rows[1], at, pages, table);
            session.appendPagedKv(rows[0], rows[1], at.batchIndices(), at.positions(), pages, table);
        } catch (Error e) {
            throw failure("appendPagedMlaKv", e);
        }
    }

    // ------------------------------------------------------------------ attention states

    /**
     * {@code (o, s) = merge((oA, sA), (oB, sB))}: o* {@code [rows, Hq, D]}, s* {@code [rows, Hq]} F32,
     * all contiguous (spec §4).
     *
     * @param oA the first state's output
     * @param sA the first state's log-sum-exp
     * @param oB the second state's output, oA's dtype and shape
     * @param sB the second state's log-sum-exp
     * @param o  the merged output, oA's dtype and shape
     * @param s  the merged log-sum-exp
     */
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        try (CallScope c = call("mergeState")) {
            CallChecks.mergeState(c, oA, sA, oB, sB, o, s);
            session.mergeState(oA, sA, oB, sB, o, s);
        } catch (Error e) {
            throw failure("mergeState", e);
        }
    }

    /**
     * Merges {@code (oOther, sOther)} into {@code (o, s)} for rows whose mask is true (all when null).
     *
     * @param o       the state's output {@code [rows, Hq, D]}, updated
     * @param s       the state's log-sum-exp {@code [rows, Hq]} F32, updated
     * @param oOther  the other state's output, o's dtype and shape
     * @param sOther  the other state's log-sum-exp
     * @param rowMask one flag per row, or null for every row (not inside a capture)
     */
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        try (CallScope c = call("mergeStateInPlace")) {
            CallChecks.mergeStateInPlace(c, o, s, oOther, sOther, rowMask, capturing());
            session.mergeStateInPlace(o, s, oOther, sOther, rowMask == null ? null : rowMask.clone());
        } catch (Error e) {
            throw failure("mergeStateInPlace", e);
        }
    }

    /**
     * Merges n states per row: v {@code [rows, n, Hq, D]}, s {@code [rows, n, Hq]} into o
     * {@code [rows, Hq, D]}, sOut {@code [rows, Hq]}.
     *
     * @param v    the states' outputs
     * @param s    the states' log-sum-exps, F32
     * @param o    the merged output, v's dtype
     * @param sOut the merged log-sum-exp, F32
     */
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        try (CallScope c = call("mergeStates")) {
            CallChecks.mergeStates(c, v, s, o, sOut);
            session.mergeStates(v, s, o, sOut);
        } catch (Error e) {
            throw failure("mergeStates", e);
        }
    }

    // ------------------------------------------------------------------ KV append and RoPE

    /**
     * Writes {@code k}, {@code v} {@code [n, Hkv, D]} (views with token and head strides allowed)
     * into the cache: token t to request {@code at.batchIndices()[t]} at position
     * {@code at.positions()[t]}, located through {@code table}, which already counts the new
     * tokens. FP8 caches quantise with the cache's scales (round to nearest even, saturating);
     * same-dtype copies are bit-exact.
     *
     * @param k     the new tokens' keys
     * @param v     the new tokens' values, k's dtype and shape
     * @param at    each token's request and position
     * @param cache the paged cache written
     * @param table the page table, counting the new tokens
     */
    public void appendPagedKv(Tensor k, Tensor v, AppendPositions at, PagedKvCache cache, PageTable table) {
        try (CallScope c = call("appendPagedKv")) {
            notWhileCapturing("appendPagedKv with host positions");
            CallChecks.append(c, k, v, at, cache, table);
            session.appendPagedKv(k, v, at.batchIndices(), at.positions(), cache, table);
        } catch (Error e) {
            throw failure("appendPagedKv", e);
        }
    }

    /**
     * As {@link #appendPagedKv(Tensor, Tensor, AppendPositions, PagedKvCache, PageTable)} with the
     * batch indices and positions as I32 device tensors {@code [n]} and a device page table: what
     * a captured graph replays with new values ({@link Feature#DEVICE_METADATA}). Tokens whose
     * request or position is out of range are skipped and reported by the next synchronize.
     *
     * @param k            the new tokens' keys
     * @param v            the new tokens' values, k's dtype and shape
     * @param batchIndices each token's request, I32 {@code [n]}
     * @param positions    each token's position, I32 {@code [n]}
     * @param cache        the paged cache written
     * @param table        the device page table, counting the new tokens
     */
    public void appendPagedKv(Tensor k, Tensor v, Tensor batchIndices, Tensor positions, PagedKvCache cache,
                              DevicePageTable table) {
        try (CallScope c = call("appendPagedKv")) {
            CallChecks.append(c, k, v, batchIndices, positions, cache, table);
            session.appendPagedKv(k, v, batchIndices, positions, cache, table);
        } catch (Error e) {
            throw failure("appendPagedKv", e);
        }
    }

    /**
     * Rotates q {@code [n, Hq, D]} and k {@code [n, Hkv, D]} (k may be null; views with token and
     * head strides allowed) in place, row t at {@code positions[t]}.
     *
     * @param q         query rows, rotated in place
     * @param k         key rows, rotated in place, or null
     * @param positions each row's position, non-negative
     * @param rope      the rotary embedding's parameters
     */
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        try (CallScope c = call("applyRope")) {
            notWhileCapturing("applyRope with host positions");
            CallChecks.rope(c, q, k, positions, rope);
            session.applyRope(q, k, positions.clone(), rope);
        } catch (Error e) {
            throw failure("applyRope", e);
        }
    }

    /**
     * As {@link #applyRope(Tensor, Tensor, int[], RopeOptions)} with positions as an I32 device
     * tensor {@code [n]} ({@link Feature#DEVICE_METADATA}); negative positions are skipped and
     * reported by the next synchronize.
     *
     * @param q         query rows, rotated in place
     * @param k         key rows, rotated in place, or null
     * @param positions each row's position, I32 {@code [n]} on the device
     * @param rope      the rotary embedding's parameters
     */
    public void applyRope(Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        try (CallScope c = call("applyRope")) {
            CallChecks.rope(c, q, k, positions, rope);
            session.applyRope(q, k, positions, rope);
        } catch (Error e) {
            throw failure("applyRope", e);
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
     *
     * @param work the calls to record, made on this thread
     * @return the graph, to replay and then close
     */
    public CapturedGraph captureGraph(Runnable work) {
        Args.notNull(work, "work");
        try (CallScope c = call("captureGraph")) {
            CallChecks.feature(c, Feature.GRAPH_CAPTURE, "captureGraph");
            Capture.Recording r = capture.record(session, work);
            return new CapturedGraph(this, r.graph(), r.used());
        } catch (Error e) {
            throw failure("captureGraph", e);
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
