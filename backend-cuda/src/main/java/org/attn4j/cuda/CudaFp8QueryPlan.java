package org.attn4j.cuda;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.attn4j.cuda.driver.KernelFunction;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.RegionArena;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned attention with an FP8 q (spec §1, {@code Feature.FP8_QUERY}). Every e4m3 and e5m2
 * value is exact in F16, BF16 and F32, so a run converts q into a scratch of o's dtype with one
 * element-wise kernel and runs the plan made for a q of that dtype: the attention kernels see the
 * exact q and write o in its own dtype, and none of them needs a third q dtype. A run may give o
 * in any of the three dtypes and must neither plan nor allocate, so the plan holds one inner plan
 * per dtype, made ahead, and a scratch wide enough for an F32 q.
 *
 * <p>In a caller's workspace the scratch comes first, then the inner plans in {@link #OUTPUT_DTYPES}
 * order, each on a multiple of {@link CudaSession#ARENA_ALIGNMENT}.
 */
final class CudaFp8QueryPlan implements KernelPlan {
    /** The dtypes o may have with an FP8 q, and the inner plans' order in a workspace. */
    static final List<DType> OUTPUT_DTYPES = List.of(DType.BF16, DType.F16, DType.F32);

    /** What a run with an o of one dtype launches: the conversion into the scratch, then the plan. */
    private record Target(KernelFunction convert, Tensor converted, CudaAttentionPlan plan) {}

    private final CudaSession session;
    private final AttentionProblem problem;
    private final Map<DType, Target> targets = new EnumMap<>(DType.class);
    private final RegionArena.Region<Long> region;
    private final int tokens;
    private final long total;
    private boolean closed;

    CudaFp8QueryPlan(CudaSession session, AttentionProblem problem) {
        this.session = session;
        this.problem = problem;
        this.tokens = problem.qoIndptr()[problem.batchSize()];
        long scratchBytes = scratchBytes(problem);
        long callerBase = CudaAttentionPlan.workspaceBase(problem);
        long scratchAt;
        if (callerBase != 0) {
            region = null;
            scratchAt = callerBase;
        } else {
            region = session.arena().take(scratchBytes);
            scratchAt = region.chunk() + region.offset();
        }
        long[] shape = {tokens, problem.heads().numQoHeads(), problem.heads().headDimQk()};
        long offset = scratchBytes;
        try {
            for (DType t : OUTPUT_DTYPES) {
                KernelFunction convert = session.kernels().get("convert_query_"
                        + CudaDtypes.suffix(problem.qDtype()) + "_" + CudaDtypes.suffix(t));
                Tensor converted = BackendTensor.root(CudaMemory.borrow(session, scratchAt, scratchBytes), t, shape);
                CudaAttentionPlan plan = new CudaAttentionPlan(session, inner(problem, t),
                        callerBase == 0 ? 0 : callerBase + offset);
                offset += align(plan.workspaceBytes());
                targets.put(t, new Target(convert, converted, plan));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.total = offset;
    }

    /** Bytes of caller workspace a plan of {@code problem} (an FP8 q) takes. */
    static long workspaceBytes(CudaSession session, AttentionProblem problem) {
        long bytes = scratchBytes(problem);
        for (DType t : OUTPUT_DTYPES) {
            bytes += align(CudaAttentionPlan.workspaceBytes(session, inner(problem, t)));
        }
        return bytes;
    }

    /** The problem the plan for an o (and so a converted q) of dtype {@code t} solves. */
    static AttentionProblem inner(AttentionProblem problem, DType t) {
        return problem.withRunTypes(t, problem.kvDtype(), problem.alignment());
    }

    /** Elements of q: every query row of every head. */
    static long queryElements(AttentionProblem problem) {
        return Math.multiplyExact(Math.multiplyExact((long) problem.qoIndptr()[problem.batchSize()],
                problem.heads().numQoHeads()), (long) problem.heads().headDimQk());
    }

    /** The scratch for q converted to the widest output dtype (F32), aligned; never empty. */
    static long scratchBytes(AttentionProblem problem) {
        return align(Math.max(1, Math.multiplyExact(queryElements(problem), (long) DType.F32.byteSize())));
    }

    private static long align(long bytes) {
        long a = CudaSession.ARENA_ALIGNMENT;
        return Math.addExact(bytes, a - 1) / a * a;
    }

    /**
     * Queues the conversion of q, then the inner plan's launches. Runs of this plan are queued one
     * at a time so that no other run's conversion lands between a run's conversion and its
     * attention on the stream.
     */
    @Override
    public synchronized void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        if (closed) {
            throw new IllegalStateException("plan is closed");
        }
        Target target = targets.get(o.dtype());
        if (target == null) { // core-api's validation admits only OUTPUT_DTYPES
            throw new IllegalStateException("no plan for an FP8 q with an o of " + o.dtype());
        }
        if (tokens > 0) { // a block of 128 threads per token (attention/fp8_query.cuh)
            long[] qst = q.strides();
            target.convert().launch(tokens, 1, 128, 0, CudaSession.address(q), qst[0], qst[1],
                    CudaSession.address(target.converted()), problem.heads().numQoHeads(),
                    problem.heads().headDimQk());
        }
        target.plan().run(target.converted(), kv, o, lse);
    }

    @Override
    public long workspaceBytes() {
        return total;
    }

    @Override
    public String describe() {
        return "FP8 q converted to o's dtype, then " + targets.get(DType.BF16).plan().describe() + " (for a BF16 o; "
                + total + " bytes in all, three dtypes planned)";
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        targets.values().forEach(target -> target.plan().close());
        if (region != null) {
            session.arena().give(region);
        }
    }
}
