package org.attn4j.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.HeadConfig;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.Feature;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * The backend plans behind one public plan: the single plan made ahead when the dtypes were
 * given, or one plan per dtype pair and alignment, made at the first run that brings them. Also
 * validates a run's tensors against the problem. Thread-safe.
 */
public final class PlanBinding implements AutoCloseable {
    private final BackendSession session;
    private final AttentionProblem problem;
    private final KernelPlan planned;
    private final Map<Lowering.RunTypes, KernelPlan> byRunTypes = new ConcurrentHashMap<>();
    private final Workspaces.Claim workspace;

    /**
     * Plans {@code problem} now when its dtypes are known.
     *
     * @param workspace the claim on the problem's workspace, or null
     */
    public PlanBinding(BackendSession session, AttentionProblem problem, Workspaces.Claim workspace) {
        this.session = session;
        this.problem = problem;
        this.workspace = workspace;
        this.planned = problem.qDtype() != null ? plan(session, problem) : null;
    }

    /**
     * The binding of a planned problem: in the caller's workspace when {@code PlanOptions.workspace}
     * names one (which then holds this plan, retiring the one it held), else in the session's
     * memory. A workspace must belong to the session, be contiguous and large enough, and the plan
     * must be made ahead (with its dtypes).
     */
    public static PlanBinding bind(CallScope c, AttentionProblem p, Workspaces workspaces) {
        Tensor ws = p.plan().workspace();
        if (ws == null) {
            return new PlanBinding(c.session(), p, null);
        }
        if (!p.plan().hasDtypes()) {
            throw new InvalidArgumentException("plan.workspace", "a plan in a workspace is made ahead, so it needs "
                    + "its dtypes (PlanOptions.withDtypes)");
        }
        BackendTensor w = c.tensor("plan.workspace", ws);
        Validation.contiguous("plan.workspace", ws);
        long need = c.session().workspaceBytes(p);
        if (w.byteSize() < need) {
            throw InvalidArgumentException.expected("plan.workspace", "at least " + need + " bytes for this plan",
                    w.byteSize() + " bytes");
        }
        return new PlanBinding(c.session(), p, workspaces.claim(w));
    }

    /** One binding per problem (a cascade's levels), in the session's memory; none stays open when one fails. */
    public static List<PlanBinding> bindAll(BackendSession session, List<AttentionProblem> problems) {
        List<PlanBinding> bindings = new ArrayList<>();
        try {
            for (AttentionProblem p : problems) {
                bindings.add(new PlanBinding(session, p, null));
            }
            return bindings;
        } catch (RuntimeException e) {
            bindings.forEach(PlanBinding::close);
            throw e;
        }
    }

    public AttentionProblem problem() {
        return problem;
    }

    /** The plan made ahead, or null. */
    public KernelPlan planned() {
        return planned;
    }

    /**
     * Validates one run's q, o, lse and cache against the problem and returns the backend plan
     * for it, holding every tensor open in {@code scope}.
     *
     * @param raggedView whether {@code kv} is the overlapping view of ragged K/V (its tensors
     *                   are validated by the caller, and its extent follows from the indptr)
     * @param capturing  whether a graph is being captured (a plan may not be made then)
     */
    public KernelPlan prepareRun(CallScope scope, Tensor q, PagedKvCache kv, Tensor o, Tensor lse,
                                 boolean raggedView, boolean capturing) {
        HeadConfig h = problem.heads();
        String backend = session.backendId();
        BackendTensor qt = scope.tensor("q", q);
        Validation.queryDtype(session.capabilities(), backend, "q", q.dtype());
        Validation.rows("q", q, problem.totalQ(), h.numQoHeads(), h.headDimQk(), false);
        BackendTensor ot = scope.tensor("o", o);
        Validation.outputDtype("o", o, q.dtype());
        Validation.rows("o", o, problem.totalQ(), h.numQoHeads(), h.headDimVo(), true);
        if (lse != null) {
            Validation.feature(session.capabilities(), backend, Feature.LSE, "lse");
            scope.tensor("lse", lse);
            Validation.dtype("lse", lse, DType.F32);
            Validation.shape("lse", lse, problem.totalQ(), h.numQoHeads());
            Validation.contiguous("lse", lse);
        }
        if (kv == null) {
            throw new InvalidArgumentException("kv", "is null");
        }
        if (raggedView) {
            Validation.kvDtype(session.capabilities(), backend, "k", kv.dtype());
            Validation.scales(session, kv);
        } else {
            Validation.cache(session, kv, problem.pageSize(), h);
            if (problem.pageTable() != null) {
                Validation.pageIds(problem.pageTable(), kv.numPages());
            }
        }
        scope.tensor("kv.k", kv.k());
        if (kv.v() != kv.k()) {
            scope.tensor("kv.v", kv.v());
        }
        for (Tensor out : lse == null ? new Tensor[] {o} : new Tensor[] {o, lse}) {
            String name = out == o ? "o" : "lse";
            Validation.disjoint(name, out, "q", q);
            Validation.disjoint(name, out, "kv.k", kv.k());
            Validation.disjoint(name, out, "kv.v", kv.v());
        }
        Validation.disjoint("lse", lse, "o", o);
        holdScales(scope, kv);
        if (workspace != null) {
            workspace.enterCurrent(scope);
        }
        int alignment = Lowering.runAlignment(qt, ot, kv);
        if (planned != null) {
            if (q.dtype() != problem.qDtype()) {
                throw InvalidArgumentException.expected("q.dtype", problem.qDtype() + " (the plan's "
                        + "PlanOptions.qDtype)", q.dtype());
            }
            if (kv.dtype() != problem.kvDtype()) {
                throw InvalidArgumentException.expected("kv.dtype", problem.kvDtype() + " (the plan's "
                        + "PlanOptions.kvDtype)", kv.dtype());
            }
            Validation.aligned("q", q, problem.alignment());
            Validation.aligned("o", o, problem.alignment());
            if (alignment < problem.alignment()) {
                throw new InvalidArgumentException("kv", "the plan assumes " + problem.alignment() + "-byte aligned "
                        + "K/V rows (PlanOptions.alignment), but the cache's offsets and strides keep " + alignment
                        + "; plan with withAlignment(" + alignment + ")");
            }
            return planned;
        }
        Lowering.RunTypes key = new Lowering.RunTypes(q.dtype(), kv.dtype(), Math.min(alignment,
                org.attn4j.options.PlanOptions.DEFAULT_ALIGNMENT));
        KernelPlan p = byRunTypes.get(key);
        if (p == null) {
            if (capturing) {
                throw new InvalidArgumentException("plan", "has no plan yet for q " + key.q() + " and K/V " + key.kv()
                        + " and cannot make one during a graph capture; give the dtypes in PlanOptions.withDtypes or "
                        + "run once before capturing");
            }
            Validation.queryDtype(session.capabilities(), backend, "q", q.dtype());
            p = byRunTypes.computeIfAbsent(key, k -> plan(session, problem.withRunTypes(k.q(), k.kv(), k.alignment())));
        }
        return p;
    }

    /** Holds the cache's per-head or per-token scale tensors open for the call (none for scalar scales). */
    static void holdScales(CallScope scope, PagedKvCache kv) {
        scope.optional("kv.scales.k", kv.scales().kTensor());
        if (kv.scales().vTensor() != kv.scales().kTensor()) {
            scope.optional("kv.scales.v", kv.scales().vTensor());
        }
    }

    /** The backend's plan of a problem whose dtypes and alignment are final. */
    private static KernelPlan plan(BackendSession session, AttentionProblem problem) {
        Validation.alignment(session.capabilities(), session.backendId(), problem.alignment());
        return session.plan(problem);
    }

    /** The plan {@link #describe} and {@link #workspaceBytes} report on: the one made ahead, else any made. */
    private KernelPlan any() {
        return planned != null ? planned : byRunTypes.values().stream().findFirst().orElse(null);
    }

    public String describe() {
        KernelPlan p = any();
        return p == null ? "not planned yet: the first run decides (no dtypes in PlanOptions)" : p.describe();
    }

    public long workspaceBytes() {
        KernelPlan p = any();
        return p == null ? 0 : p.workspaceBytes();
    }

    @Override
    public void close() {
        if (planned != null) {
            planned.close();
        }
        byRunTypes.values().forEach(KernelPlan::close);
        byRunTypes.clear();
    }
}
