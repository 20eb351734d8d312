package org.attn4j;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.attn4j.internal.CallScope;
import org.attn4j.internal.MlaChecks;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.spi.LeakGuard;
import org.attn4j.spi.MlaKernelPlan;
import org.attn4j.spi.MlaProblem;
import org.attn4j.spi.ResourceGuard;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned multi-head latent attention (spec §13), decode or prefill over a paged latent cache:
 * the schedule is fixed by the page table's structure; {@link #run} may be called for every layer
 * and step that shares it, and only launches. Planned with the dtypes
 * ({@code PlanOptions.withDtypes}) it is made at once; otherwise at the first run of each dtype pair.
 *
 * <p>Thread-safe: runs from several threads queue in some order; {@link #close} waits for runs in
 * flight. A plan left unclosed is freed after garbage collection, with a warning.
 */
public final class MlaAttentionPlan implements AutoCloseable {
    private final AttentionBackend owner;
    private final MlaProblem problem;
    private final MlaKernelPlan planned;
    /** The backend plans by dtype pair; closed by {@link #close} or, for a leaked plan, by the cleaner. */
    private final Map<String, MlaKernelPlan> byDtypes = new ConcurrentHashMap<>();
    private final ResourceGuard guard = new ResourceGuard();
    private final LeakGuard.Registration free;

    MlaAttentionPlan(AttentionBackend owner, MlaProblem problem) {
        this.owner = owner;
        this.problem = problem;
        this.planned = problem.qDtype() != null ? owner.session().planMla(problem) : null;
        MlaKernelPlan made = planned;
        Map<String, MlaKernelPlan> later = byDtypes;
        this.free = LeakGuard.register(this, "an MLA plan", () -> release(made, later));
    }

    /**
     * Computes latent attention for every query row into {@code o} (and {@code lse} when not null).
     *
     * @param qNope the absorbed query rows {@code [totalQ, H, dCkv]} ({@code [B, H, dCkv]} for
     *              decode); a view with token and head strides is fine
     * @param qPe   the rotary query rows {@code [totalQ, H, dKpe]}, qNope's dtype; a view likewise
     * @param cache the latent cache the plan's page table points into
     * @param o     {@code [totalQ, H, dCkv]}, qNope's dtype; a view likewise
     * @param lse   {@code [totalQ, H]} F32, contiguous, natural log, or null
     */
    public void run(Tensor qNope, Tensor qPe, PagedMlaCache cache, Tensor o, Tensor lse) {
        try (CallScope c = owner.call("run")) {
            c.hold(guard, "plan");
            MlaChecks.run(c, problem, qNope, qPe, cache, o, lse);
            plan(qNope.dtype(), cache.dtype()).run(qNope, qPe, cache, o, lse);
        } catch (Error e) {
            throw owner.failure("run", e);
        }
    }

    private MlaKernelPlan plan(DType q, DType kv) {
        if (planned != null) {
            return planned;
        }
        MlaKernelPlan p = byDtypes.get(q + "/" + kv);
        if (p == null) {
            owner.notWhileCapturing("planning an MLA plan at its first run");
            p = byDtypes.computeIfAbsent(q + "/" + kv, k -> owner.session().planMla(problem.withRunTypes(q, kv)));
        }
        return p;
    }

    /**
     * The problem this plan was made for.
     *
     * @return the validated problem, dtypes included when given
     */
    public MlaProblem problem() {
        return problem;
    }

    /**
     * The backend's schedule in words.
     *
     * @return the description, or a note that the first run decides
     */
    public String describe() {
        MlaKernelPlan p = planned != null ? planned : byDtypes.values().stream().findFirst().orElse(null);
        return p == null ? "not planned yet: the first run decides (no dtypes in PlanOptions)" : p.describe();
    }

    /** Static, so the cleaner's action does not keep the plan reachable. */
    private static void release(MlaKernelPlan planned, Map<String, MlaKernelPlan> byDtypes) {
        if (planned != null) {
            planned.close();
        }
        byDtypes.values().forEach(MlaKernelPlan::close);
        byDtypes.clear();
    }

    /** Waits for runs in flight, then frees the plan's device memory. */
    @Override
    public void close() {
        if (guard.closeAndAwait()) {
            free.run();
        }
    }
}
