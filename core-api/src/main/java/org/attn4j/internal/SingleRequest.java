package org.attn4j.internal;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Single decode and prefill: validated, lowered to a batch of one over a cache of one page,
 * planned for the call's own dtypes and alignment, run, and the plan freed. Stateless.
 */
public final class SingleRequest {
    private SingleRequest() {}

    /**
     * Runs one request: q {@code [Hq, Dqk]} (decode) or {@code [qoLen, Hq, Dqk]} (prefill), K/V
     * contiguous, o like q but with v's head dim {@code Dvo}, lse {@code [Hq]} or {@code [qoLen, Hq]} F32, or null.
     */
    public static void run(CallScope c, Tensor q, ContiguousKv kv, AttentionOptions options, CustomMask mask,
                           Tensor o, Tensor lse, boolean decode) {
        BackendSession session = c.session();
        BackendTensor qt = c.tensor("q", q);
        int rank = decode ? 2 : 3;
        if (q.rank() != rank) {
            throw InvalidArgumentException.expected("q.shape", decode ? "[Hq, D]" : "[qoLen, Hq, D]",
                    Arrays.toString(q.shape()));
        }
        Args.notNull(kv, "kv");
        c.tensor("k", kv.k());
        c.tensor("v", kv.v());
        BackendTensor ot = c.tensor("o", o);
        Validation.outputDtype("o", o, q.dtype());
        // o has q's shape but for the head dim, which is v's (Dvo, spec §2).
        long[] oShape = q.shape();
        if (kv.v().rank() >= 1) {
            oShape[oShape.length - 1] = kv.v().dim(-1);
        }
        Validation.shape("o", o, oShape);
        int hq = Args.toInt(q.dim(-2), "q.shape");
        int qoLen = decode ? 1 : Args.toInt(q.dim(0), "q.shape[0]");
        // Single calls address q and o as [qoLen, Hq, D]: a decode's [Hq, D] is one row.
        Tensor q3 = decode ? rowOf(qt) : q;
        Tensor o3 = decode ? rowOf(ot) : o;
        Tensor lse2 = lse;
        if (lse != null && decode) {
            c.tensor("lse", lse);
            Validation.dtype("lse", lse, DType.F32);
            Validation.shape("lse", lse, hq);
            lse2 = lse.view(0, 1, hq);
        }
        int alignment = Math.min(qt.alignment(), ot.alignment());
        Lowering.Single s = Lowering.single(session, q3, kv, options, mask, hq, qoLen, decode, 1);
        AttentionProblem p = s.problem().withRunTypes(q.dtype(), kv.k().dtype(),
                Math.min(alignment, Lowering.runAlignment(qt, ot, s.cache())));
        try (PlanBinding plan = new PlanBinding(session, p, null)) {
            KernelPlan kp = plan.prepareRun(c, q3, s.cache(), o3, lse2, false, false);
            kp.run(q3, s.cache(), o3, lse2);
        }
    }

    /** {@code [Hq, D]} with strides {@code (h, 1)} as {@code [1, Hq, D]}. */
    private static Tensor rowOf(BackendTensor t) {
        long hq = t.dim(0);
        long hs = t.stride(0);
        return t.view(0, new long[] {1, hq, t.dim(1)}, new long[] {hq * hs, hs, t.stride(1)});
    }
}
