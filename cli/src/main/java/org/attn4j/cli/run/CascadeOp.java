package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.attn4j.kv.CascadeLevel;
import org.attn4j.CascadePlan;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Names;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Cascade attention over one paged pool: {@code "levels"}, each {@code {"qo_indptr",
 * "kv_indptr", "kv_indices", "kv_last_page_len"}}, the most shared prefix first and each
 * request's own pages last.
 */
record CascadeOp(TensorSource q, DType qDtype, KvSource kv, List<Level> levels, CallOptions.Attention attention,
                 PlanOptions plan,
                 boolean returnLse, Path oInit, Path lseInit) implements Operation {

    record Level(int[] qoIndptr, int[] kvIndptr, int[] kvIndices, int[] kvLastPageLen) {}

    static CascadeOp read(SpecReader r) throws IOException {
        r.allowOnly(Operation.keys(COMMON_KEYS, KvSource.KEYS, CallOptions.ATTENTION_KEYS, AttentionOp.OUTPUT_KEYS,
                Set.of("q", "q_dtype", "levels", "plan")));
        TensorSource q = TensorSource.read(r, "q");
        DType qDtype = r.has("q_dtype") ? Names.dtype(r.string("q_dtype"), "\"q_dtype\"") : null;
        KvSource kv = KvSource.read(r, true);
        List<Level> levels = new ArrayList<>();
        for (SpecReader l : r.objects("levels")) {
            l.allowOnly(Set.of("qo_indptr", "kv_indptr", "kv_indices", "kv_last_page_len"));
            levels.add(new Level(l.ints("qo_indptr"), l.ints("kv_indptr"), l.ints("kv_indices"),
                    l.ints("kv_last_page_len")));
        }
        boolean returnLse = r.bool("return_lse", true);
        Path lseInit = r.optionalFile("lse_init");
        if (lseInit != null && !returnLse) {
            throw new CliException(r.where() + ": \"lse_init\" needs \"return_lse\": true");
        }
        return new CascadeOp(q, qDtype, kv, levels, CallOptions.attention(r), CallOptions.plan(r), returnLse,
                r.optionalFile("o_init"), lseInit);
    }

    @Override
    public String op() {
        return "cascade";
    }

    @Override
    public RunResult run(Inputs in) throws IOException {
        DType dtype = Inputs.dtypeOf(q.file(), qDtype, "q_dtype");
        Tensor tq = q.isView() ? in.device(q, dtype) : in.upload(in.host(q.file(), dtype));
        long[] shape = tq.shape();
        if (shape.length != 3) {
            throw new NpyException(q.file() + ": q of cascade must be [rows, Hq, D], found " + Arrays.toString(shape));
        }
        PagedKvCache cache = kv.loadPaged(in, kv.dtype(dtype));
        // o has q's shape but for the head dim, which is V's (Dvo, spec §2).
        Tensor o = in.output(dtype, new long[] {shape[0], shape[1], cache.vHeadDim()}, oInit, "o_init");
        long[] lseShape = {shape[0], shape[1]};
        Tensor lse = returnLse ? in.output(DType.F32, lseShape, lseInit, "lse_init") : null;
        List<CascadeLevel> cascade = new ArrayList<>();
        for (Level l : levels) {
            cascade.add(new CascadeLevel(l.qoIndptr(), new PageTable(l.kvIndptr(), l.kvIndices(), l.kvLastPageLen(),
                    cache.pageSize())));
        }
        HeadConfig heads = new HeadConfig(Math.toIntExact(shape[1]), cache.numKvHeads(), cache.kHeadDim(),
                cache.vHeadDim());
        AttentionOptions options = attention.forHeads(heads.numQoHeads());
        RunResult result = new RunResult();
        long start = System.nanoTime();
        try (CascadePlan p = in.backend.planCascade(cascade, heads, options, plan)) {
            p.run(tq, cache, o, lse);
            in.backend.synchronize();
        }
        result.millis = (System.nanoTime() - start) / 1e6;
        result.put("o", in.download(o));
        if (lse != null) {
            result.put("lse", in.download(lse));
        }
        return result;
    }
}
