package org.attn4j.cli.run;

import java.io.IOException;
import java.util.Set;
import org.attn4j.cli.Names;
import org.attn4j.options.RopeOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Standalone RoPE (spec §3): rotates {@code "q"} {@code [n, Hq, D]} and, when given, {@code "k"}
 * {@code [n, Hkv, D]} in place, row t at {@code "positions"}[t], with the {@code "rope"} options
 * (defaults when absent). Writes the rotated q and k.
 */
record RopeOp(TensorSource q, DType qDtype, TensorSource k, DType kDtype, int[] positions, RopeOptions rope)
        implements Operation {

    static RopeOp read(SpecReader r) throws IOException {
        r.allowOnly(Operation.keys(COMMON_KEYS, Set.of("q", "q_dtype", "k", "k_dtype", "positions", "rope")));
        DType qd = r.has("q_dtype") ? Names.dtype(r.string("q_dtype"), "\"q_dtype\"") : null;
        DType kd = r.has("k_dtype") ? Names.dtype(r.string("k_dtype"), "\"k_dtype\"") : qd;
        return new RopeOp(TensorSource.read(r, "q"), qd, TensorSource.readOptional(r, "k"), kd, r.ints("positions"),
                r.has("rope") ? CallOptions.rope(r.object("rope")) : RopeOptions.DEFAULT);
    }

    @Override
    public String op() {
        return "rope";
    }

    @Override
    public RunResult run(Inputs in) throws IOException {
        Tensor tq = in.device(q, Inputs.dtypeOf(q.file(), qDtype, "q_dtype"));
        Tensor tk = k == null ? null : in.device(k, Inputs.dtypeOf(k.file(), kDtype, "k_dtype"));
        RunResult result = new RunResult();
        long start = System.nanoTime();
        in.backend.applyRope(tq, tk, positions, rope);
        in.backend.synchronize();
        result.millis = (System.nanoTime() - start) / 1e6;
        result.put("q", in.download(tq));
        if (tk != null) {
            result.put("k", in.download(tk));
        }
        return result;
    }
}
