package org.attn4j;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.HeadConfig;
import org.attn4j.internal.Checks;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned batch decode or paged prefill: the schedule is fixed by the page table's structure;
 * {@link #run} may be called for every layer and step that shares it.
 */
public final class BatchAttentionPlan implements AutoCloseable {
    private final AttentionBackend owner;
    private final BackendSession session;
    private final AttentionProblem problem;
    private final KernelPlan kernelPlan;
    private volatile boolean closed;

    BatchAttentionPlan(AttentionBackend owner, AttentionProblem problem, KernelPlan kernelPlan) {
        this.owner = owner;
        this.session = owner.session();
        this.problem = problem;
        this.kernelPlan = kernelPlan;
    }

    /**
     * Computes attention for every query row into {@code o} (and {@code lse} when not null).
     *
     * @param q   {@code [totalQ, Hq, D]} ({@code [B, Hq, D]} for decode)
     * @param kv  the cache the plan's page table points into
     * @param o   q's shape and dtype
     * @param lse {@code [totalQ, Hq]} F32, or null
     */
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        Checks.open("plan", closed);
        owner.requireOpen();
        validateRun(session, problem, q, kv, o, lse);
        kernelPlan.run(q, kv, o, lse);
    }

    static void validateRun(BackendSession session, AttentionProblem problem, Tensor q, PagedKvCache kv, Tensor o,
                            Tensor lse) {
        validateRows(session, problem, q, o, lse);
        if (kv == null) {
            throw new InvalidArgumentException("kv", "is null");
        }
        Checks.cache(session, kv, problem.pageTable(), problem.heads());
    }

    /** q, o and lse against the problem's rows and heads; shared by paged, ragged and cascade runs. */
    static void validateRows(BackendSession session, AttentionProblem problem, Tensor q, Tensor o, Tensor lse) {
        HeadConfig h = problem.heads();
        String backend = session.backendId();
        Checks.tensor(session, "q", q);
        Checks.qDtype(session.capabilities(), backend, "q", q);
        Checks.shape("q", q, problem.totalQ(), h.numQoHeads(), h.headDim());
        Checks.tensor(session, "o", o);
        Checks.dtype("o", o, q.dtype());
        Checks.shape("o", o, problem.totalQ(), h.numQoHeads(), h.headDim());
        if (lse != null) {
            Checks.feature(session.capabilities(), backend, org.attn4j.spi.Feature.LSE, "lse");
            Checks.tensor(session, "lse", lse);
            Checks.dtype("lse", lse, DType.F32);
            Checks.shape("lse", lse, problem.totalQ(), h.numQoHeads());
        }
    }

    public AttentionProblem problem() {
        return problem;
    }

    /** The backend's schedule in words. */
    public String describe() {
        return kernelPlan.describe();
    }

    public long workspaceBytes() {
        return kernelPlan.workspaceBytes();
    }

    @Override
    public void close() {
        // A backend's plan may free device memory on close; running it afterwards must be rejected, not crash.
        closed = true;
        kernelPlan.close();
    }
}
