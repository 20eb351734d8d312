package org.attn4j;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.CallScope;
import org.attn4j.internal.Lowering;
import org.attn4j.internal.PlanBinding;
import org.attn4j.internal.Validation;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.options.HeadConfig;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.LeakGuard;
import org.attn4j.spi.ResourceGuard;
import org.attn4j.tensor.Tensor;

/**
 * A planned batch prefill over ragged K/V ({@code [totalKv, Hkv, D]}). The K/V are viewed as
 * pages that start at each request's first row, so the paged kernels serve it unchanged.
 * Thread-safe like {@link BatchAttentionPlan}.
 */
public final class RaggedAttentionPlan implements AutoCloseable {
    private final AttentionBackend owner;
    private final PlanBinding binding;
    private final Lowering.Ragged ragged;
    private final ResourceGuard guard = new ResourceGuard();
    private final LeakGuard.Registration free;

    RaggedAttentionPlan(AttentionBackend owner, PlanBinding binding, Lowering.Ragged ragged) {
        this.owner = owner;
        this.binding = binding;
        this.ragged = ragged;
        this.free = LeakGuard.register(this, "a ragged attention plan", binding::close);
    }

    /**
     * Computes attention for every query row.
     *
     * @param q   {@code [totalQ, Hq, D]} (a view with token and head strides is fine)
     * @param kv  K and V, contiguous {@code [totalKv, Hkv, Dqk]} and {@code [totalKv, Hkv, Dvo]}
     * @param o   q's shape and dtype (for an FP8 q, F32, F16 or BF16; a view is fine)
     * @param lse {@code [totalQ, Hq]} F32, contiguous, or null
     */
    public void run(Tensor q, RaggedKv kv, Tensor o, Tensor lse) {
        try (CallScope c = owner.call("run")) {
            c.hold(guard, "plan");
            if (kv == null) {
                throw new InvalidArgumentException("kv", "is null");
            }
            HeadConfig h = binding.problem().heads();
            c.tensor("k", kv.k());
            c.tensor("v", kv.v());
            Validation.shape("k", kv.k(), ragged.totalKv(), h.numKvHeads(), h.headDimQk());
            Validation.shape("v", kv.v(), ragged.totalKv(), h.numKvHeads(), h.headDimVo());
            Validation.dtype("v", kv.v(), kv.k().dtype());
            Validation.contiguous("k", kv.k());
            Validation.contiguous("v", kv.v());
            // The paged view of ragged K/V overlaps itself by design, so the binding cannot tell.
            Validation.disjoint("o", o, "k", kv.k());
            Validation.disjoint("o", o, "v", kv.v());
            Validation.disjoint("lse", lse, "k", kv.k());
            Validation.disjoint("lse", lse, "v", kv.v());
            PagedKvCache view = ragged.view(kv, h);
            KernelPlan p = binding.prepareRun(c, q, view, o, lse, true, owner.capturing());
            p.run(q, view, o, lse);
        } catch (Error e) {
            throw owner.failure("run", e);
        }
    }

    /**
     * The problem this plan was made for.
     *
     * @return the lowered problem: ragged K/V as pages that start at each request's first row
     */
    public AttentionProblem problem() {
        return binding.problem();
    }

    /**
     * The backend's schedule in words.
     *
     * @return the description, or a note that the first run decides
     */
    public String describe() {
        return binding.describe();
    }

    @Override
    public void close() {
        if (guard.closeAndAwait()) {
            free.run();
        }
    }
}
