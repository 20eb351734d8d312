package org.attn4j.parallel;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.attn4j.AttentionBackend;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.Validation;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.Feature;
import org.attn4j.spi.LeakGuard;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Context-parallel decode or prefill (spec §12): every request's keys are cut into shards
 * ({@link ContextShards}), each shard computes a partial attention state {@code (o, lse)} over its
 * keys with an ordinary batch plan on its backend, a {@link StateGather} brings the states to
 * the owner and the owner merges them (spec §4) into the result. The result equals attention over
 * each request's whole key set within the output dtype's tolerance (spec §9).
 *
 * <p>Positions stay global: a shard holding keys {@code [a, b)} of a request sees its query rows
 * at their positions among all the request's keys, so causal and window rules (and a custom mask,
 * sliced to the shard's columns) are applied as masks over the shard's keys, as cascade levels do.
 * Sinks are merged once, on the owner, as the state {@code (0, s_h)}; the shards run without them.
 * RoPE on the fly and ALiBi are rejected: both depend on key positions that a shard's attention
 * does not see (rotate with {@link AttentionBackend#applyRope} before appending instead).
 *
 * <p>The plan keeps its gather buffers between runs, so it runs one call at a time: a run that
 * overlaps another is rejected.
 */
public final class ContextParallelPlan implements AutoCloseable {
    private final ShardPlacement placement;
    private final ContextShards shards;
    private final HeadConfig heads;
    private final AttentionOptions options;
    private final int totalQ;
    private final List<BatchAttentionPlan> plans;
    private final AtomicBoolean running = new AtomicBoolean();
    private final Buffers buffers = new Buffers();
    private final LeakGuard.Registration free;
    private volatile boolean closed;

    /** The gather buffers, partial states and the sinks' state; freed with the plan. */
    private static final class Buffers implements Runnable {
        final List<Tensor> owned = new ArrayList<>();
        List<Tensor> partialO;
        List<Tensor> partialLse;
        List<Tensor> ownerO;
        List<Tensor> ownerLse;
        Tensor mergedLse;
        Tensor sinkO;
        Tensor sinkLse;
        DType preparedFor;

        <T extends Tensor> T own(T t) {
            owned.add(t);
            return t;
        }

        @Override
        public void run() {
            for (int i = owned.size() - 1; i >= 0; i--) {
                owned.get(i).close();
            }
            owned.clear();
            preparedFor = null;
        }
    }

    private ContextParallelPlan(ShardPlacement placement, ContextShards shards, HeadConfig heads,
                                AttentionOptions options, int totalQ, List<BatchAttentionPlan> plans) {
        this.placement = placement;
        this.shards = shards;
        this.heads = heads;
        this.options = options;
        this.totalQ = totalQ;
        this.plans = Collections.unmodifiableList(new ArrayList<>(plans));
        List<BatchAttentionPlan> ps = this.plans;
        Buffers b = buffers;
        this.free = LeakGuard.register(this, "a context-parallel plan", () -> {
            ps.forEach(BatchAttentionPlan::close);
            b.run();
        });
    }

    /**
     * Plans context-parallel decode: one query row per request.
     *
     * @param placement where the shards run, and the owner
     * @param shards    the requests' keys cut into {@code placement.shardCount()} shards
     * @param heads     query and KV heads, head dims
     * @param options   causal, window, soft cap, scale, sinks (no RoPE on the fly, no ALiBi)
     * @param plan      determinism, split chunk, dtypes, alignment (no workspace); null for the defaults
     * @return the plan
     */
    public static ContextParallelPlan decode(ShardPlacement placement, ContextShards shards, HeadConfig heads,
                                             AttentionOptions options, PlanOptions plan) {
        Args.notNull(shards, "shards");
        int[] qoIndptr = new int[shards.batchSize() + 1];
        for (int b = 0; b <= shards.batchSize(); b++) {
            qoIndptr[b] = b;
        }
        return make(placement, qoIndptr, shards, heads, options, null, plan, true);
    }

    /**
     * Plans context-parallel prefill.
     *
     * @param placement where the shards run, and the owner
     * @param qoIndptr  the requests' query rows, {@code B + 1} entries from 0, never decreasing
     * @param shards    the requests' keys cut into {@code placement.shardCount()} shards
     * @param heads     query and KV heads, head dims
     * @param options   causal, window, soft cap, scale, sinks (no RoPE on the fly, no ALiBi)
     * @param mask      a custom mask over each request's whole keys ({@code qoLen x kvLen} bits in
     *                  turn, as for a batch prefill), or null
     * @param plan      determinism, split chunk, dtypes, alignment (no workspace); null for the defaults
     * @return the plan
     */
    public static ContextParallelPlan prefill(ShardPlacement placement, int[] qoIndptr, ContextShards shards,
                                              HeadConfig heads, AttentionOptions options, CustomMask mask,
                                              PlanOptions plan) {
        return make(placement, qoIndptr, shards, heads, options, mask, plan, false);
    }

    private static ContextParallelPlan make(ShardPlacement placement, int[] qoIndptr, ContextShards shards,
                                            HeadConfig heads, AttentionOptions options, CustomMask mask,
                                            PlanOptions plan, boolean decode) {
        Args.notNull(placement, "placement");
        Args.notNull(shards, "shards");
        Args.notNull(heads, "heads");
        Args.notNull(options, "options");
        int n = placement.shardCount();
        if (shards.shardCount() != n) {
            throw InvalidArgumentException.expected("shards.shardCount", "placement.shardCount() = " + n,
                    shards.shardCount());
        }
        if (options.rope() != null) {
            throw new InvalidArgumentException("options.rope", "RoPE on the fly is not supported in context-parallel"
                    + " attention: a shard's keys are rotated at their positions within the shard; rotate q and k "
                    + "with applyRope before appending");
        }
        if (options.alibiSlopes() != null) {
            throw new InvalidArgumentException("options.alibiSlopes", "ALiBi is not supported in context-parallel "
                    + "attention: its bias depends on each key's distance to the query among the request's whole "
                    + "keys, which a shard's attention does not see; run the requests as one batch");
        }
        if (plan != null && plan.workspace() != null) {
            throw new InvalidArgumentException("plan.workspace", "a context-parallel plan plans one attention per "
                    + "shard in its backend's memory; plan the shards separately to use a workspace");
        }
        AttentionBackend owner = placement.ownerBackend();
        Validation.options(owner.capabilities(), owner.id(), options, heads);
        int batch = shards.batchSize();
        Validation.indptr("qoIndptr", qoIndptr, batch);
        int[] qoLens = new int[batch];
        for (int b = 0; b < batch; b++) {
            qoLens[b] = qoIndptr[b + 1] - qoIndptr[b];
        }
        int[] kvLens = shards.kvLens();
        Validation.causalLengths(options.causal(), qoLens, kvLens);
        long[] maskOffsets = mask == null ? null : mask.resolveOffsets(qoLens, kvLens);
        int parts = n + (options.sinks() != null ? 1 : 0);
        if (parts > 1) {
            Validation.feature(owner.capabilities(), owner.id(), Feature.MERGE, "shards");
            for (int s = 0; s < n; s++) {
                AttentionBackend be = placement.backend(s);
                Validation.feature(be.capabilities(), be.id(), Feature.LSE, "shards[" + s + "]");
            }
        }
        AttentionOptions shardOptions = options.withCausal(false).withWindowLeft(-1).withSinks(null);
        List<BatchAttentionPlan> plans = new ArrayList<>(n);
        try {
            for (int s = 0; s < n; s++) {
                CustomMask shardMask = shardMask(shards, s, qoLens, kvLens, options, mask, maskOffsets);
                AttentionBackend be = placement.backend(s);
                plans.add(decode && shardMask == null
                        ? be.planBatchDecode(shards.table(s), heads, shardOptions, plan)
                        : be.planBatchPrefill(qoIndptr, shards.table(s), heads, shardOptions, shardMask, plan));
            }
            return new ContextParallelPlan(placement, shards, heads, options, qoIndptr[batch], plans);
        } catch (RuntimeException e) {
            plans.forEach(BatchAttentionPlan::close);
            throw e;
        }
    }

    /**
     * Shard {@code s}'s mask: the causal and window rules at the keys' global positions and the
     * caller's mask sliced to the shard's columns; null when they allow every key of the shard.
     */
    static CustomMask shardMask(ContextShards shards, int s, int[] qoLens, int[] kvLens, AttentionOptions options,
                                CustomMask mask, long[] maskOffsets) {
        if (!options.causal() && options.windowLeft() < 0 && mask == null) {
            return null;
        }
        int batch = qoLens.length;
        long bits = 0;
        for (int r = 0; r < batch; r++) {
            bits = Math.addExact(bits, (long) qoLens[r] * shards.table(s).kvLen(r));
        }
        if (bits > 8L * (Integer.MAX_VALUE - 8)) {
            throw new InvalidArgumentException("shards[" + s + "]", "the mask of this shard would need " + bits
                    + " bits, more than one array holds; use more shards or fewer query rows per plan");
        }
        byte[] packed = new byte[(int) ((bits + 7) / 8)];
        boolean anyMasked = false;
        long bit = 0;
        int window = options.windowLeft();
        for (int r = 0; r < batch; r++) {
            int len = shards.table(s).kvLen(r);
            int start = shards.keyStart(s, r);
            for (int i = 0; i < qoLens[r]; i++) {
                long pq = (long) i + kvLens[r] - qoLens[r];
                for (int jl = 0; jl < len; jl++, bit++) {
                    long j = (long) start + jl;
                    boolean allowed = (!options.causal() || j <= pq) && (window < 0 || j >= pq - window)
                            && (mask == null || mask.bit(maskOffsets[r] + (long) i * kvLens[r] + j));
                    if (allowed) {
                        packed[(int) (bit >>> 3)] |= (byte) (1 << (bit & 7));
                    } else {
                        anyMasked = true;
                    }
                }
            }
        }
        return anyMasked ? CustomMask.fromPacked(packed, bits) : null;
    }

    /**
     * Runs every shard on the one backend of a placement whose shards all share it (logical shards).
     *
     * @param q   {@code [totalQ, Hq, Dqk]} ({@code [B, Hq, Dqk]} for decode); a view with token and
     *            head strides is fine
     * @param kv  the cache every shard's page table points into
     * @param o   {@code [totalQ, Hq, Dvo]}, q's dtype, contiguous
     * @param lse {@code [totalQ, Hq]} F32, contiguous, or null
     */
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        for (int s = 0; s < placement.shardCount(); s++) {
            if (!placement.onOwner(s)) {
                throw new InvalidArgumentException("q", "shard " + s + " runs on " + placement.backend(s)
                        + ", not the owner's backend: give each shard its q and cache with run(List, List, ...)");
            }
        }
        int n = placement.shardCount();
        run(Collections.nCopies(n, q), Collections.nCopies(n, kv), o, lse);
    }

    /**
     * Runs shard {@code s} on its backend with {@code q.get(s)} and {@code kv.get(s)}, gathers the
     * partial states on the owner and merges them into {@code o} and {@code lse} there.
     *
     * @param q   each shard's copy of the query rows, on its backend, {@code [totalQ, Hq, Dqk]}
     * @param kv  each shard's cache, on its backend, that its page table points into
     * @param o   {@code [totalQ, Hq, Dvo]} on the owner's backend, q's dtype, contiguous
     * @param lse {@code [totalQ, Hq]} F32, contiguous, on the owner's backend, or null
     */
    public void run(List<Tensor> q, List<PagedKvCache> kv, Tensor o, Tensor lse) {
        if (closed) {
            throw new InvalidArgumentException("plan", "is closed");
        }
        Args.notNull(q, "q");
        Args.notNull(kv, "kv");
        Args.notNull(o, "o");
        int n = placement.shardCount();
        if (q.size() != n) {
            throw InvalidArgumentException.expected("q.size", "one per shard, " + n, q.size());
        }
        if (kv.size() != n) {
            throw InvalidArgumentException.expected("kv.size", "one per shard, " + n, kv.size());
        }
        for (int s = 0; s < n; s++) {
            Args.notNull(q.get(s), "q[" + s + "]");
            Args.notNull(kv.get(s), "kv[" + s + "]");
        }
        Validation.shape("o", o, totalQ, heads.numQoHeads(), heads.headDimVo());
        Validation.contiguous("o", o);
        if (q.get(placement.owner()).dtype().isFp8()) {
            throw InvalidArgumentException.expected("q[" + placement.owner() + "].dtype",
                    "F32, F16 or BF16 (FP8 q is not available in context-parallel attention)",
                    q.get(placement.owner()).dtype());
        }
        Validation.dtype("o", o, q.get(placement.owner()).dtype());
        if (lse != null) {
            Validation.shape("lse", lse, totalQ, heads.numQoHeads());
            Validation.dtype("lse", lse, DType.F32);
            Validation.contiguous("lse", lse);
        }
        if (!running.compareAndSet(false, true)) {
            throw new InvalidArgumentException("plan", "is running on another thread; a context-parallel plan runs "
                    + "one call at a time (plan once per thread)");
        }
        try {
            if (totalQ == 0) {
                return;
            }
            runShards(q, kv, o, lse);
        } finally {
            running.set(false);
        }
    }

    private void runShards(List<Tensor> q, List<PagedKvCache> kv, Tensor o, Tensor lse) {
        int n = placement.shardCount();
        boolean sinks = options.sinks() != null;
        int parts = n + (sinks ? 1 : 0);
        AttentionBackend owner = placement.ownerBackend();
        DType dtype = q.get(placement.owner()).dtype();
        if (parts == 1) {
            // One shard, no sinks: its state is the result.
            if (placement.onOwner(0)) {
                plans.getFirst().run(q.getFirst(), kv.getFirst(), o, lse);
                return;
            }
            prepare(dtype);
            plans.getFirst().run(q.getFirst(), kv.getFirst(), buffers.partialO.getFirst(),
                    buffers.partialLse.getFirst());
            placement.gather().gather(placement, buffers.partialO, buffers.partialLse, List.of(o),
                    List.of(lse != null ? lse : buffers.mergedLse));
            return;
        }
        prepare(dtype);
        for (int s = 0; s < n; s++) {
            plans.get(s).run(q.get(s), kv.get(s), buffers.partialO.get(s), buffers.partialLse.get(s));
        }
        placement.gather().gather(placement, buffers.partialO, buffers.partialLse, buffers.ownerO,
                buffers.ownerLse);
        List<Tensor> os = new ArrayList<>(buffers.ownerO);
        List<Tensor> ls = new ArrayList<>(buffers.ownerLse);
        if (sinks) {
            os.add(buffers.sinkO);
            ls.add(buffers.sinkLse);
        }
        Tensor acc = lse != null ? lse : buffers.mergedLse;
        owner.mergeState(os.get(0), ls.get(0), os.get(1), ls.get(1), o, acc);
        for (int k = 2; k < parts; k++) {
            owner.mergeStateInPlace(o, acc, os.get(k), ls.get(k), null);
        }
    }

    /** Allocates the buffers for {@code dtype} (once per dtype). */
    private void prepare(DType dtype) {
        if (buffers.preparedFor == dtype) {
            return;
        }
        buffers.run();
        int n = placement.shardCount();
        int hq = heads.numQoHeads();
        int dvo = heads.headDimVo();
        AttentionBackend owner = placement.ownerBackend();
        long stateElems = (long) totalQ * hq * dvo;
        long lseElems = (long) totalQ * hq;
        long[] oShape = {totalQ, hq, dvo};
        long[] lseShape = {totalQ, hq};
        boolean single = n == 1 && options.sinks() == null;
        Tensor gatherO = single ? null : buffers.own(owner.allocate(dtype, n, totalQ, hq, dvo));
        Tensor gatherLse = single ? null : buffers.own(owner.allocate(DType.F32, n, totalQ, hq));
        List<Tensor> po = new ArrayList<>(n);
        List<Tensor> pl = new ArrayList<>(n);
        List<Tensor> oo = new ArrayList<>(n);
        List<Tensor> ol = new ArrayList<>(n);
        for (int s = 0; s < n; s++) {
            Tensor slotO = single ? null : buffers.own(gatherO.view(s * stateElems, oShape));
            Tensor slotLse = single ? null : buffers.own(gatherLse.view(s * lseElems, lseShape));
            oo.add(slotO);
            ol.add(slotLse);
            if (placement.onOwner(s) && !single) {
                po.add(slotO);
                pl.add(slotLse);
            } else {
                AttentionBackend be = placement.backend(s);
                po.add(buffers.own(be.allocate(dtype, oShape)));
                pl.add(buffers.own(be.allocate(DType.F32, lseShape)));
            }
        }
        buffers.partialO = po;
        buffers.partialLse = pl;
        buffers.ownerO = oo;
        buffers.ownerLse = ol;
        buffers.mergedLse = buffers.own(owner.allocate(DType.F32, lseShape));
        if (options.sinks() != null) {
            buffers.sinkO = buffers.own(owner.allocate(dtype, oShape)); // zero-filled
            float[] s = new float[(int) lseElems];
            for (int r = 0; r < totalQ; r++) {
                for (int h = 0; h < hq; h++) {
                    s[r * hq + h] = options.sinks().logit(h);
                }
            }
            try (HostTensor host = HostTensor.of(DType.F32, s, lseShape)) {
                buffers.sinkLse = buffers.own(owner.upload(host));
            }
        }
        buffers.preparedFor = dtype;
    }

    /**
     * The number of shards.
     *
     * @return N
     */
    public int shardCount() {
        return placement.shardCount();
    }

    /**
     * Where the shards run.
     *
     * @return the placement
     */
    public ShardPlacement placement() {
        return placement;
    }

    /**
     * How the keys are cut.
     *
     * @return the shards
     */
    public ContextShards shards() {
        return shards;
    }

    /**
     * The batch plan each shard runs (for timing a shard alone); owned by this plan, never to be
     * closed by the caller.
     *
     * @return one plan per shard, in shard order
     */
    public List<BatchAttentionPlan> shardPlans() {
        return plans;
    }

    /** Waits for nothing (runs are synchronous with respect to this plan) and frees the shards' plans and buffers. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            free.run();
        }
    }

    @Override
    public String toString() {
        return "ContextParallelPlan[" + placement + ", " + shards + "]";
    }
}
