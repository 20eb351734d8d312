package org.attn4j.cli.run;

import java.io.IOException;
import java.util.Set;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Names;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * KV append (spec §5): new tokens {@code "append_k"}, {@code "append_v"} {@code [n, Hkv, D]} are
 * written into the paged cache ({@code "k"}/{@code "v"} or {@code "kv"}) at {@code "batch_indices"}
 * and {@code "positions"}, or after each request's old tokens by {@code "append_indptr"}, through
 * the page table (which already counts the new tokens). An FP8 cache quantises with its scales.
 * Writes the updated cache: k and v (or kv) in the cache's dtype; with per-token scales
 * ({@code "kv_scales"}) also the updated scale pools, k_scales and v_scales ({@code <f4}).
 */
record AppendOp(KvSource cache, TensorSource appendK, TensorSource appendV, DType appendDtype, int[] batchIndices,
                int[] positions, int[] appendIndptr, int[] kvIndptr, int[] kvIndices, int[] kvLastPageLen)
        implements Operation {

    static AppendOp read(SpecReader r) throws IOException {
        r.allowOnly(Operation.keys(COMMON_KEYS, KvSource.KEYS, Set.of("append_k", "append_v", "append_dtype",
                "batch_indices", "positions", "append_indptr", "kv_indptr", "kv_indices", "kv_last_page_len")));
        boolean explicit = r.has("batch_indices") || r.has("positions");
        if (explicit == r.has("append_indptr")) {
            throw new CliException(r.where() + ": give either \"batch_indices\" and \"positions\", or \"append_indptr\"");
        }
        return new AppendOp(KvSource.read(r, true), TensorSource.read(r, "append_k"), TensorSource.read(r, "append_v"),
                r.has("append_dtype") ? Names.dtype(r.string("append_dtype"), "\"append_dtype\"") : null,
                explicit ? r.ints("batch_indices") : null, explicit ? r.ints("positions") : null,
                explicit ? null : r.ints("append_indptr"), r.ints("kv_indptr"), r.ints("kv_indices"),
                r.ints("kv_last_page_len"));
    }

    @Override
    public String op() {
        return "append_kv";
    }

    @Override
    public RunResult run(Inputs in) throws IOException {
        DType cacheDtype = cache.dtype(null);
        DType tokenDtype = Inputs.dtypeOf(appendK.file(), appendDtype, "append_dtype");
        Tensor k = in.device(appendK, tokenDtype);
        Tensor v = in.device(appendV, tokenDtype);
        PagedKvCache kv = cache.loadPaged(in, cacheDtype);
        PageTable table = new PageTable(kvIndptr, kvIndices, kvLastPageLen, kv.pageSize());
        AppendPositions at = appendIndptr != null ? AppendPositions.fromIndptr(appendIndptr, table)
                : new AppendPositions(batchIndices, positions);
        RunResult result = new RunResult();
        long start = System.nanoTime();
        in.backend.appendPagedKv(k, v, at, kv, table);
        in.backend.synchronize();
        result.millis = (System.nanoTime() - start) / 1e6;
        if (kv.isCombined()) {
            result.put("kv", in.download(kv.k()));
        } else {
            result.put("k", in.download(kv.k())).put("v", in.download(kv.v()));
        }
        if (kv.scales().mode() == KvScaleMode.PER_TOKEN) {
            // Append wrote each new token's scales into the pools, beside its codes.
            result.put("k_scales", in.download(kv.scales().kTensor()))
                    .put("v_scales", in.download(kv.scales().vTensor()));
        }
        return result;
    }
}
