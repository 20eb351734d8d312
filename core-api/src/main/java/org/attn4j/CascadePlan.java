package org.attn4j;

import java.util.List;
import org.attn4j.internal.Checks;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned cascade: one batch attention per level over the shared pool, each level's states
 * merged into the result. Shared prefixes are read once per level entry, not once per request.
 * Equals flat attention over each request's concatenated keys (spec §6); causal and window
 * rules are carried into each level as it needs them (see {@link AttentionBackend#planCascade}).
 * The plan keeps its levels' scratch states between runs, so it runs one call at a time.
 */
public final class CascadePlan implements AutoCloseable {
    private final AttentionBackend owner;
    private final BackendSession session;
    private final List<AttentionProblem> problems;
    private final List<KernelPlan> plans;
    private Tensor levelO;
    private Tensor levelLse;
    private Tensor ownLse;
    private volatile boolean closed;

    CascadePlan(AttentionBackend owner, List<AttentionProblem> problems, List<KernelPlan> plans) {
        this.owner = owner;
        this.session = owner.session();
        this.problems = List.copyOf(problems);
        this.plans = List.copyOf(plans);
    }

    /** Writes the cascade's result into {@code o} and, when not null, {@code lse}. */
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        Checks.open("plan", closed);
        owner.requireOpen();
        for (AttentionProblem p : problems) {
            BatchAttentionPlan.validateRun(session, p, q, kv, o, lse);
        }
        AttentionProblem first = problems.get(0);
        long rows = first.totalQ();
        int hq = first.heads().numQoHeads();
        Tensor acc = lse;
        if (acc == null) {
            if (ownLse == null) {
                ownLse = session.allocate(DType.F32, new long[] {rows, hq});
            }
            acc = ownLse;
        }
        plans.get(0).run(q, kv, o, acc);
        if (plans.size() > 1) {
            ensureLevelBuffers(q.dtype(), rows, hq, first.heads().headDim());
            for (int l = 1; l < plans.size(); l++) {
                plans.get(l).run(q, kv, levelO, levelLse);
                session.mergeStateInPlace(o, acc, levelO, levelLse, null);
            }
        }
    }

    private void ensureLevelBuffers(DType dtype, long rows, int hq, int d) {
        if (levelO != null && levelO.dtype() != dtype) {
            levelO.close();
            levelO = null;
        }
        if (levelO == null) {
            levelO = session.allocate(dtype, new long[] {rows, hq, d});
        }
        if (levelLse == null) {
            levelLse = session.allocate(DType.F32, new long[] {rows, hq});
        }
    }

    public int levels() {
        return plans.size();
    }

    /** The batch attention each level runs. */
    public List<AttentionProblem> levelProblems() {
        return problems;
    }

    @Override
    public void close() {
        closed = true;
        plans.forEach(KernelPlan::close);
        for (Tensor t : new Tensor[] {levelO, levelLse, ownLse}) {
            if (t != null) {
                t.close();
            }
        }
    }
}
