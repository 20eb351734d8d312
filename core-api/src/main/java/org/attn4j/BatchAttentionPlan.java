package org.attn4j;

import org.attn4j.internal.CallScope;
import org.attn4j.internal.PlanBinding;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.LeakGuard;
import org.attn4j.spi.ResourceGuard;
import org.attn4j.tensor.Tensor;

/**
 * A planned batch decode or paged prefill: the schedule is fixed by the page table's structure;
 * {@link #run} may be called for every layer and step that shares it, and only launches.
 *
 * <p>Thread-safe: runs from several threads queue in some order; {@link #close} waits for runs in
 * flight. A plan left unclosed is freed after garbage collection, with a warning.
 */
public final class BatchAttentionPlan implements AutoCloseable {
    private final AttentionBackend owner;
    private final PlanBinding binding;
    private final ResourceGuard guard = new ResourceGuard();
    private final LeakGuard.Registration free;

    BatchAttentionPlan(AttentionBackend owner, PlanBinding binding) {
        this.owner = owner;
        this.binding = binding;
        this.free = LeakGuard.register(this, "a batch attention plan", binding::close);
    }

    /**
     * Computes attention for every query row into {@code o} (and {@code lse} when not null).
     *
     * @param q   {@code [totalQ, Hq, D]} ({@code [B, Hq, D]} for decode); a view with token and
     *            head strides is fine
     * @param kv  the cache the plan's page table points into
     * @param o   q's shape and dtype (for an FP8 q, F32, F16 or BF16; spec §1); a view with token
     *            and head strides is fine
     * @param lse {@code [totalQ, Hq]} F32, contiguous, or null
     */
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        try (CallScope c = owner.call("run")) {
            c.hold(guard, "plan");
            KernelPlan p = binding.prepareRun(c, q, kv, o, lse, false, owner.capturing());
            p.run(q, kv, o, lse);
        } catch (Error e) {
            throw owner.failure("run", e);
        }
    }

    /**
     * The problem this plan was made for.
     *
     * @return the lowered problem, dtypes included when given
     */
    public AttentionProblem problem() {
        return binding.problem();
    }

    /**
     * The backend's schedule in words: the kernel chosen, work items, split, workspace.
     *
     * @return the description, or a note that the first run decides
     */
    public String describe() {
        return binding.describe();
    }

    /**
     * Device memory the plan's schedule and split-KV states take.
     *
     * @return bytes, 0 before a plan without dtypes has run
     */
    public long workspaceBytes() {
        return binding.workspaceBytes();
    }

    /** Waits for runs in flight, then frees the plan's device memory. */
    @Override
    public void close() {
        if (guard.closeAndAwait()) {
            free.run();
        }
    }
}
