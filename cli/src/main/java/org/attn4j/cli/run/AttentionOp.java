package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.RaggedAttentionPlan;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Names;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.kv.ContiguousKv;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.kv.RaggedKv;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Attention: batch decode and prefill over a paged cache, prefill over ragged K/V, and the single
 * request ops over contiguous K/V. Writes o (and lse unless {@code "return_lse": false}).
 */
record AttentionOp(String op, TensorSource q, DType qDtype, KvSource kv, int[] qoIndptr, int[] kvIndptr, int[] kvIndices,
                   int[] kvLastPageLen, CallOptions.Attention attention, CustomMask mask, PlanOptions plan,
                   boolean planGiven,
                   boolean returnLse, Path oInit, Path lseInit) implements Operation {

    static final Set<String> OUTPUT_KEYS = Set.of("return_lse", "o_init", "lse_init");

    static AttentionOp read(String op, SpecReader r) throws IOException {
        boolean paged = op.equals("decode") || op.equals("prefill");
        boolean batch = paged || op.equals("prefill_ragged");
        Set<String> keys = Operation.keys(COMMON_KEYS, KvSource.KEYS, CallOptions.ATTENTION_KEYS, OUTPUT_KEYS,
                Set.of("q", "q_dtype", "mask"),
                batch ? Set.of("plan") : Set.of(),
                op.startsWith("prefill") ? Set.of("qo_indptr") : Set.of(),
                paged ? Set.of("kv_indptr", "kv_indices", "kv_last_page_len")
                        : op.equals("prefill_ragged") ? Set.of("kv_indptr") : Set.of());
        r.allowOnly(keys);
        TensorSource q = TensorSource.read(r, "q");
        DType qDtype = r.has("q_dtype") ? Names.dtype(r.string("q_dtype"), "\"q_dtype\"") : null;
        KvSource kv = KvSource.read(r, paged);
        int[] qoIndptr = op.startsWith("prefill") ? r.ints("qo_indptr") : null;
        int[] kvIndptr = batch ? r.ints("kv_indptr") : null;
        int[] kvIndices = paged ? r.ints("kv_indices") : null;
        int[] last = paged ? r.ints("kv_last_page_len") : null;
        boolean returnLse = r.bool("return_lse", true);
        Path lseInit = r.optionalFile("lse_init");
        if (lseInit != null && !returnLse) {
            throw new CliException(r.where() + ": \"lse_init\" needs \"return_lse\": true");
        }
        return new AttentionOp(op, q, qDtype, kv, qoIndptr, kvIndptr, kvIndices, last, CallOptions.attention(r),
                CallOptions.mask(r), CallOptions.plan(r), r.has("plan"), returnLse, r.optionalFile("o_init"), lseInit);
    }

    @Override
    public RunResult run(Inputs in) throws IOException {
        var backend = in.backend;
        DType dtype = Inputs.dtypeOf(q.file(), qDtype, "q_dtype");
        Tensor qView = q.isView() ? in.device(q, dtype) : null;
        HostTensor hostQ = qView == null ? in.host(q.file(), dtype) : null;
        long[] qShape = qView != null ? qView.shape() : hostQ.shape();
        int rank = op.equals("single_decode") ? 2 : 3;
        if (qShape.length != rank) {
            throw new NpyException(q.file() + ": q of " + op + " must be " + (rank == 2 ? "[Hq, D]" : "[rows, Hq, D]")
                    + ", found " + Arrays.toString(qShape));
        }
        RunResult result = new RunResult();
        // Decode takes no mask in the core API; decode with a mask is prefill with one query row per request.
        boolean decodeAsPrefill = mask != null && (op.equals("decode") || op.equals("single_decode"));
        long[] runShape = op.equals("single_decode") && decodeAsPrefill ? new long[] {1, qShape[0], qShape[1]}
                : qShape;
        long[] lseFileShape = Arrays.copyOf(qShape, qShape.length - 1);
        long[] lseRunShape = Arrays.copyOf(runShape, runShape.length - 1);
        Tensor tq = qView == null ? in.upload(HostTensor.wrap(hostQ.segment(), dtype, runShape))
                : Arrays.equals(runShape, qShape) ? qView : in.withLeadingOne(qView);
        // o has q's shape but for the head dim, which is V's (Dvo, spec §2).
        long dvo = kv.vHeadDim();
        long[] oShape = withLastDim(qShape, dvo);
        Tensor o = in.output(dtype, withLastDim(runShape, dvo), oInit, "o_init", oShape);
        Tensor lse = returnLse ? in.output(DType.F32, lseRunShape, lseInit, "lse_init", lseFileShape) : null;
        DType kvDtype = kv.dtype(dtype);
        int hq = Math.toIntExact(qShape[qShape.length - 2]);
        AttentionOptions options = attention.forHeads(hq);
        long start;
        switch (op) {
            case "decode", "prefill" -> {
                PagedKvCache cache = kv.loadPaged(in, kvDtype);
                PageTable table = new PageTable(kvIndptr, kvIndices, kvLastPageLen, cache.pageSize());
                HeadConfig heads = new HeadConfig(hq, cache.numKvHeads(), cache.kHeadDim(), cache.vHeadDim());
                int[] rows = op.equals("prefill") ? qoIndptr : decodeAsPrefill ? oneRowEach(table.batchSize()) : null;
                start = System.nanoTime();
                try (BatchAttentionPlan p = rows == null ? backend.planBatchDecode(table, heads, options, plan)
                        : backend.planBatchPrefill(rows, table, heads, options, mask, plan)) {
                    p.run(tq, cache, o, lse);
                    backend.synchronize();
                    result.extra.put("schedule", p.describe());
                }
            }
            case "prefill_ragged" -> {
                Tensor[] pair = kv.loadPair(in, kvDtype);
                if (pair[0].rank() != 3) {
                    throw new NpyException(kv.k() + ": ragged K must be [totalKv, Hkv, D], found "
                            + Arrays.toString(pair[0].shape()));
                }
                HeadConfig heads = new HeadConfig(hq, (int) pair[0].dim(1), (int) pair[0].dim(2),
                        (int) pair[1].dim(2));
                start = System.nanoTime();
                try (RaggedAttentionPlan p = backend.planBatchPrefillRagged(qoIndptr, kvIndptr, heads, options, mask,
                        plan)) {
                    p.run(tq, new RaggedKv(pair[0], pair[1], kv.scales(in)), o, lse);
                    backend.synchronize();
                    result.extra.put("schedule", p.describe());
                }
            }
            default -> {
                Tensor[] pair = kv.loadPair(in, kvDtype);
                ContiguousKv ckv = new ContiguousKv(pair[0], pair[1], kv.layout(), kv.scales(in));
                start = System.nanoTime();
                if (op.equals("single_decode") && !decodeAsPrefill) {
                    backend.singleDecode(tq, ckv, options, o, lse);
                } else {
                    backend.singlePrefill(tq, ckv, options, mask, o, lse);
                }
                backend.synchronize();
            }
        }
        result.millis = (System.nanoTime() - start) / 1e6;
        if (decodeAsPrefill) {
            result.notes.add("decode with a mask ran as prefill with one query row per request (the core API's "
                    + "decode takes no mask)");
        }
        if (planGiven && !op.startsWith("single")) {
            result.extra.put("plan", java.util.Map.of("deterministic", plan.deterministic(), "max_split_chunk",
                    plan.maxSplitChunk()));
        }
        result.put("o", in.download(o, oShape));
        if (lse != null) {
            result.put("lse", in.download(lse, lseFileShape));
        }
        return result;
    }

    private static long[] withLastDim(long[] shape, long last) {
        long[] s = shape.clone();
        s[s.length - 1] = last;
        return s;
    }

    private static int[] oneRowEach(int batch) {
        int[] rows = new int[batch + 1];
        for (int b = 0; b <= batch; b++) {
            rows[b] = b;
        }
        return rows;
    }
}
