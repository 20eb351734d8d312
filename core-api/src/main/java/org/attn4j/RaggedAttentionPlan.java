package org.attn4j;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.options.HeadConfig;
import org.attn4j.internal.Checks;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.Tensor;

/**
 * A planned batch prefill over ragged K/V ({@code [totalKv, Hkv, D]}). The K/V are viewed as
 * pages that start at each request's first row, so the paged kernels serve it unchanged.
 */
public final class RaggedAttentionPlan implements AutoCloseable {
    private final AttentionBackend owner;
    private final BackendSession session;
    private final AttentionProblem problem;
    private final KernelPlan kernelPlan;
    private final int totalKv;
    private final int maxKvLen;
    private volatile boolean closed;

    RaggedAttentionPlan(AttentionBackend owner, AttentionProblem problem, KernelPlan kernelPlan, int totalKv,
                        int maxKvLen) {
        this.owner = owner;
        this.session = owner.session();
        this.problem = problem;
        this.kernelPlan = kernelPlan;
        this.totalKv = totalKv;
        this.maxKvLen = maxKvLen;
    }

    public void run(Tensor q, RaggedKv kv, Tensor o, Tensor lse) {
        Checks.open("plan", closed);
        owner.requireOpen();
        if (kv == null) {
            throw new InvalidArgumentException("kv", "is null");
        }
        HeadConfig h = problem.heads();
        Checks.tensor(session, "k", kv.k());
        Checks.tensor(session, "v", kv.v());
        Checks.shape("k", kv.k(), totalKv, h.numKvHeads(), h.headDim());
        Checks.shape("v", kv.v(), totalKv, h.numKvHeads(), h.headDim());
        Checks.dtype("v", kv.v(), kv.k().dtype());
        PagedKvCache view = new PagedKvCache(kv.k(), kv.v(), KvLayout.NHD, totalKv, Math.max(1, maxKvLen),
                h.numKvHeads(), h.headDim(), 0, 0, (long) h.numKvHeads() * h.headDim(), kv.scales());
        validateViewRun(q, view, o, lse);
        kernelPlan.run(q, view, o, lse);
    }

    private void validateViewRun(Tensor q, PagedKvCache view, Tensor o, Tensor lse) {
        // The view's pages overlap by design, so the extent check of a real cache does not apply.
        BatchAttentionPlan.validateRows(session, problem, q, o, lse);
        Checks.kvDtype(session.capabilities(), session.backendId(), "k", view.dtype());
    }

    public AttentionProblem problem() {
        return problem;
    }

    public String describe() {
        return kernelPlan.describe();
    }

    @Override
    public void close() {
        closed = true;
        kernelPlan.close();
    }
}
