package org.attn4j;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.CallScope;
import org.attn4j.internal.PlanBinding;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.LeakGuard;
import org.attn4j.spi.ResourceGuard;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned cascade: one batch attention per level over the shared pool, each level's states
 * merged into the result. Shared prefixes are read once per level entry, not once per request.
 * Equals flat attention over each request's concatenated keys (spec §6); causal and window
 * rules are carried into each level as it needs them, and sinks ride on the first level alone,
 * so the merge counts each once (spec §4).
 *
 * <p>The plan keeps its levels' scratch states between runs, so it runs one call at a time: a
 * run that overlaps another on a second thread is rejected. Plan once per thread to run cascades
 * concurrently.
 */
public final class CascadePlan implements AutoCloseable {
    private final AttentionBackend owner;
    private final List<PlanBinding> levels;
    private final ResourceGuard guard = new ResourceGuard();
    private final AtomicBoolean running = new AtomicBoolean();
    private final Scratch scratch = new Scratch();
    private final LeakGuard.Registration free;

    /** The levels' states between runs; freed with the plan. */
    private static final class Scratch implements Runnable {
        Tensor levelO;
        Tensor levelLse;
        Tensor ownLse;
        DType preparedFor;

        @Override
        public void run() {
            for (Tensor t : new Tensor[] {levelO, levelLse, ownLse}) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }

    CascadePlan(AttentionBackend owner, List<PlanBinding> levels) {
        this.owner = owner;
        this.levels = List.copyOf(levels);
        Scratch s = scratch;
        List<PlanBinding> ls = this.levels;
        this.free = LeakGuard.register(this, "a cascade plan", () -> {
            ls.forEach(PlanBinding::close);
            s.run();
        });
        AttentionProblem first = this.levels.get(0).problem();
        if (first.qDtype() != null) {
            ensureScratch(first.qDtype());
        }
    }

    /**
     * Writes the cascade's result into {@code o} and, when not null, {@code lse}.
     *
     * @param q   {@code [totalQ, Hq, D]}; a view with token and head strides is fine
     * @param kv  the pool every level's page table points into
     * @param o   q's shape and dtype (for an FP8 q, F32, F16 or BF16)
     * @param lse {@code [totalQ, Hq]} F32, contiguous, or null
     */
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        try (CallScope c = owner.call("run")) {
            c.hold(guard, "plan");
            if (!running.compareAndSet(false, true)) {
                throw new InvalidArgumentException("plan", "is running on another thread; a cascade plan runs one "
                        + "call at a time (plan once per thread)");
            }
            try {
                runLevels(c, q, kv, o, lse);
            } finally {
                running.set(false);
            }
        } catch (Error e) {
            throw owner.failure("run", e);
        }
    }

    private void runLevels(CallScope c, Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        KernelPlan[] plans = new KernelPlan[levels.size()];
        for (int l = 0; l < plans.length; l++) {
            plans[l] = levels.get(l).prepareRun(c, q, kv, o, lse, false, owner.capturing());
        }
        // The levels' partial outputs take o's dtype: q's, or F32/F16/BF16 under an FP8 q.
        if (scratch.preparedFor != o.dtype()) {
            owner.notWhileCapturing("a cascade's first run with these dtypes");
            ensureScratch(o.dtype());
        }
        Tensor acc = lse != null ? lse : scratch.ownLse;
        plans[0].run(q, kv, o, acc);
        for (int l = 1; l < plans.length; l++) {
            plans[l].run(q, kv, scratch.levelO, scratch.levelLse);
            owner.session().mergeStateInPlace(o, acc, scratch.levelO, scratch.levelLse, null);
        }
    }

    private void ensureScratch(DType dtype) {
        AttentionProblem first = levels.get(0).problem();
        long rows = first.totalQ();
        int hq = first.heads().numQoHeads();
        if (scratch.ownLse == null) {
            scratch.ownLse = owner.session().allocate(DType.F32, new long[] {rows, hq});
        }
        if (levels.size() > 1) {
            if (scratch.levelO != null) {
                scratch.levelO.close();
                scratch.levelO = null;
            }
            scratch.levelO = owner.session().allocate(dtype, new long[] {rows, hq, first.heads().headDimVo()});
            if (scratch.levelLse == null) {
                scratch.levelLse = owner.session().allocate(DType.F32, new long[] {rows, hq});
            }
        }
        scratch.preparedFor = dtype;
    }

    /**
     * The number of levels.
     *
     * @return levels, shared prefixes first
     */
    public int levels() {
        return levels.size();
    }

    /**
     * The batch attention each level runs.
     *
     * @return one problem per level, in order
     */
    public List<AttentionProblem> levelProblems() {
        return levels.stream().map(PlanBinding::problem).toList();
    }

    /** Waits for a run in flight, then frees the levels' plans and states. */
    @Override
    public void close() {
        if (guard.closeAndAwait()) {
            free.run();
        }
    }
}
