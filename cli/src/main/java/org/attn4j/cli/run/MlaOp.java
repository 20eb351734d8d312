package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import org.attn4j.MlaAttentionPlan;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Names;
import org.attn4j.cli.npy.Npy;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Multi-head latent attention (spec §13): {@code mla_decode} and {@code mla_prefill} over a paged
 * latent cache, {@code "ckv"} {@code [pages, pageSize, dCkv]} and {@code "kpe"}
 * {@code [pages, pageSize, dKpe]}, with the absorbed query rows {@code "q_nope"}
 * {@code [rows, H, dCkv]} and {@code "q_pe"} {@code [rows, H, dKpe]}. The heads, dims and page
 * size come from the shapes; {@code "sm_scale"} is required, as the API requires it. Writes o
 * {@code [rows, H, dCkv]} (and lse {@code [rows, H]} unless {@code "return_lse": false}).
 */
record MlaOp(String op, TensorSource qNope, TensorSource qPe, DType qDtype, Path ckv, Path kpe, DType kvDtype,
             float ckvScale, float kpeScale, int[] qoIndptr, int[] kvIndptr, int[] kvIndices, int[] kvLastPageLen,
             boolean causal, float smScale, PlanOptions plan, boolean planGiven, boolean returnLse, Path oInit,
             Path lseInit) implements Operation {

    /** The keys of the latent cache and its page table. */
    static final Set<String> CACHE_KEYS = Set.of("ckv", "kpe", "kv_dtype", "ckv_scale", "kpe_scale", "kv_indptr",
            "kv_indices", "kv_last_page_len");

    static MlaOp read(String op, SpecReader r) throws IOException {
        boolean prefill = op.equals("mla_prefill");
        r.allowOnly(Operation.keys(COMMON_KEYS, CACHE_KEYS, AttentionOp.OUTPUT_KEYS,
                Set.of("q_nope", "q_pe", "q_dtype", "sm_scale", "plan"),
                prefill ? Set.of("qo_indptr", "causal") : Set.of()));
        TensorSource qNope = TensorSource.read(r, "q_nope");
        TensorSource qPe = TensorSource.read(r, "q_pe");
        DType qDtype = r.has("q_dtype") ? Names.dtype(r.string("q_dtype"), "\"q_dtype\"") : null;
        Path ckv = r.file("ckv");
        Path kpe = r.file("kpe");
        DType kvDtype = r.has("kv_dtype") ? Names.dtype(r.string("kv_dtype"), "\"kv_dtype\"") : null;
        float ckvScale = positive(r, "ckv_scale", 1);
        float kpeScale = positive(r, "kpe_scale", 1);
        if (!r.has("sm_scale")) {
            throw new CliException(r.where() + ": missing \"sm_scale\": MLA has no default scale; give 1/sqrt of the "
                    + "model's q/k head dim before absorption (DeepSeek-V3: 1/sqrt(128 + 64) = 0.0721688, times its "
                    + "YaRN mscale^2), not 1/sqrt(dCkv + dKpe)");
        }
        float smScale = positive(r, "sm_scale", Double.NaN);
        int[] qoIndptr = prefill ? r.ints("qo_indptr") : null;
        int[] kvIndptr = r.ints("kv_indptr");
        int[] kvIndices = r.ints("kv_indices");
        int[] last = r.ints("kv_last_page_len");
        boolean returnLse = r.bool("return_lse", true);
        Path lseInit = r.optionalFile("lse_init");
        if (lseInit != null && !returnLse) {
            throw new CliException(r.where() + ": \"lse_init\" needs \"return_lse\": true");
        }
        return new MlaOp(op, qNope, qPe, qDtype, ckv, kpe, kvDtype, ckvScale, kpeScale, qoIndptr, kvIndptr, kvIndices,
                last, r.bool("causal", false), smScale, CallOptions.plan(r), r.has("plan"), returnLse,
                r.optionalFile("o_init"), lseInit);
    }

    /** A finite number {@code > 0} under {@code key}, else {@code fallback} when absent. */
    private static float positive(SpecReader r, String key, double fallback) {
        double v = r.number(key, fallback);
        if (r.has(key) && (!(v > 0) || !Float.isFinite((float) v))) {
            throw r.mismatch(key, "a finite number > 0", r.raw(key));
        }
        return (float) v;
    }

    @Override
    public RunResult run(Inputs in) throws IOException {
        var backend = in.backend;
        DType dtype = Inputs.dtypeOf(qNope.file(), qDtype, "q_dtype");
        Tensor tNope = rows(in, qNope, dtype, "[rows, H, dCkv]");
        Tensor tPe = rows(in, qPe, dtype, "[rows, H, dKpe]");
        DType cacheDtype = cacheDtype(dtype);
        Tensor tCkv = in.device(ckv, cacheDtype);
        Tensor tKpe = in.device(kpe, cacheDtype);
        if (tCkv.rank() != 3) {
            throw new NpyException(ckv + ": ckv must be [pages, pageSize, dCkv], found " + Arrays.toString(tCkv.shape()));
        }
        if (tKpe.rank() != 3 || tKpe.dim(0) != tCkv.dim(0) || tKpe.dim(1) != tCkv.dim(1)) {
            throw new NpyException(kpe + ": kpe must be [pages, pageSize, dKpe] with ckv's pages and page size "
                    + tCkv.dim(0) + ", " + tCkv.dim(1) + ", found " + Arrays.toString(tKpe.shape()));
        }
        PagedMlaCache cache = PagedMlaCache.of(tCkv, tKpe, ckvScale, kpeScale);
        long totalQ = tNope.dim(0);
        int heads = Math.toIntExact(tNope.dim(1));
        long[] oShape = {totalQ, heads, cache.headDimCkv()};
        long[] lseShape = {totalQ, heads};
        Tensor o = in.output(dtype, oShape, oInit, "o_init");
        Tensor lse = returnLse ? in.output(DType.F32, lseShape, lseInit, "lse_init") : null;
        PageTable table = new PageTable(kvIndptr, kvIndices, kvLastPageLen, cache.pageSize());
        MlaHeadConfig config = new MlaHeadConfig(heads, cache.headDimCkv(), cache.headDimKpe());
        RunResult result = new RunResult();
        long start = System.nanoTime();
        try (MlaAttentionPlan p = op.equals("mla_prefill")
                ? backend.planMlaPrefill(qoIndptr, table, config, causal, smScale, plan)
                : backend.planMlaDecode(table, config, smScale, plan)) {
            p.run(tNope, tPe, cache, o, lse);
            backend.synchronize();
            result.extra.put("schedule", p.describe());
        }
        result.millis = (System.nanoTime() - start) / 1e6;
        if (planGiven) {
            result.extra.put("plan", Map.of("deterministic", plan.deterministic(), "max_split_chunk",
                    plan.maxSplitChunk()));
        }
        result.put("o", in.download(o));
        if (lse != null) {
            result.put("lse", in.download(lse));
        }
        return result;
    }

    /** q_nope or q_pe on the device: a whole file or a view, of rank 3. */
    private static Tensor rows(Inputs in, TensorSource src, DType dtype, String expected) throws IOException {
        Tensor t = in.device(src, dtype);
        if (t.rank() != 3) {
            throw new NpyException(src.file() + ": \"" + src.key() + "\" must be " + expected + ", found "
                    + Arrays.toString(t.shape()));
        }
        return t;
    }

    /** The declared cache dtype, else what ckv's file holds, else q's (raw '<u2' bits). */
    private DType cacheDtype(DType qType) throws IOException {
        if (kvDtype != null) {
            return kvDtype;
        }
        DType inferred = Npy.infer(Npy.header(ckv).descr());
        return inferred != null ? inferred : qType;
    }
}
