package org.attn4j.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.options.AttentionOptions;
import org.attn4j.BatchAttentionPlan;
import org.attn4j.MlaAttentionPlan;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Checks a sample of a backend's output rows against the reference backend on the same inputs.
 * Each sampled row is recomputed as a one-row request over exactly the keys it may see (with
 * causal, the keys up to its position), so even the largest workloads check in seconds.
 */
final class ReferenceCheck {
    /** Multiply-adds the reference may spend per workload (it accumulates in double on the CPU). */
    static final long BUDGET = 6_000_000_000L;

    /** Outcome: the worst absolute error, the worst error over its tolerance, rows compared. */
    record Result(boolean pass, double maxAbsError, double worstRatio, int rows, String note) {
        String summary() {
            return (pass ? "ok" : "FAIL") + String.format(" %.2e", maxAbsError);
        }
    }

    private ReferenceCheck() {}

    static double atol(DType outDtype) {
        return switch (outDtype) {
            case F32 -> 1e-5;
            case F16 -> 2e-3;
            default -> 1.6e-2;
        };
    }

    /** Rows to recompute: global row, request, row within request; spread over the batch. */
    static List<int[]> sampleRows(Workload w, int maxRows) {
        List<int[]> rows = new ArrayList<>();
        int[] ind = new int[w.batch() + 1];
        for (int b = 0; b < w.batch(); b++) {
            ind[b + 1] = ind[b] + w.qoLens()[b];
        }
        int total = ind[w.batch()];
        int n = Math.min(maxRows, total);
        long cost = 0;
        for (int k = 0; k < n; k++) {
            int r = n == 1 ? total - 1 : (int) Math.round((double) k * (total - 1) / (n - 1));
            int b = 0;
            while (ind[b + 1] <= r) {
                b++;
            }
            int i = r - ind[b];
            int keys = visibleKeys(w, b, i);
            long rowCost = (long) keys * w.heads().numQoHeads() * (w.heads().headDimQk() + w.heads().headDimVo());
            if (!rows.isEmpty() && cost + rowCost > BUDGET) {
                continue;
            }
            if (rows.isEmpty() || rows.getLast()[0] != r) {
                rows.add(new int[] {r, b, i});
                cost += rowCost;
            }
        }
        return rows;
    }

    /** Keys row i of request b can attend to, as a prefix length of its keys. */
    static int visibleKeys(Workload w, int b, int i) {
        int kvLen = w.kvLen(b);
        if (!w.causal()) {
            return kvLen;
        }
        return Math.max(0, Math.min(kvLen, i + kvLen - w.qoLens()[b] + 1));
    }

    static Result check(BenchCase c, AttentionBackend backend, AttentionBackend reference, int maxRows) {
        Workload w = c.w;
        List<int[]> rows = sampleRows(w, maxRows);
        int hq = w.heads().numQoHeads();
        int d = w.heads().headDimQk(); // Workload keeps Dvo == Dqk
        int n = rows.size();
        int[][] pages = new int[n][];
        int[] lens = new int[n];
        try (HostTensor q = HostTensor.allocate(w.qDtype(), n, hq, d);
             HostTensor out = backend.download(c.output(0))) {
            long rowElems = (long) hq * d;
            for (int s = 0; s < n; s++) {
                int[] row = rows.get(s);
                lens[s] = visibleKeys(w, row[1], row[2]);
                pages[s] = Arrays.copyOf(c.flatPages[row[1]], (lens[s] + w.pageSize() - 1) / w.pageSize());
                java.lang.foreign.MemorySegment.copy(c.hostQ.segment(), row[0] * rowElems * w.qDtype().byteSize(),
                        q.segment(), s * rowElems * w.qDtype().byteSize(), rowElems * w.qDtype().byteSize());
            }
            PageTable table = PageTable.of(w.pageSize(), pages, lens);
            List<Tensor> scratch = new ArrayList<>();
            try {
                Tensor rq = share(reference, q, scratch);
                Tensor rk = share(reference, c.hostK, scratch);
                Tensor rv = share(reference, c.hostV, scratch);
                Tensor ro = reference.allocate(w.outputDtype(), n, hq, d);
                scratch.add(ro);
                try (BatchAttentionPlan plan = reference.planBatchDecode(table, w.heads(), AttentionOptions.DEFAULT,
                        PlanOptions.DEFAULT)) {
                    plan.run(rq, PagedKvCache.separate(rk, rv, w.layout()), ro, null);
                }
                try (HostTensor expected = reference.download(ro)) {
                    return compare(w, rows, out, expected);
                }
            } finally {
                scratch.forEach(Tensor::close);
            }
        }
    }

    private static Tensor share(AttentionBackend reference, HostTensor host, List<Tensor> scratch) {
        Tensor t = reference.capabilities().has(Feature.ZERO_COPY_HOST) ? reference.wrap(host)
                : reference.upload(host);
        scratch.add(t);
        return t;
    }

    private static Result compare(Workload w, List<int[]> rows, HostTensor actual, HostTensor expected) {
        long rowElems = (long) w.heads().numQoHeads() * w.heads().headDimVo(); // rows of o
        return compare(atol(w.outputDtype()), rowElems, rows.stream().mapToInt(r -> r[0]).toArray(), actual,
                expected);
    }

    /**
     * Sampled rows of a multi-head latent attention decode (spec §13), recomputed on the reference
     * as a decode of just those requests over the same latent pages: as many of
     * {@code maxRows} requests, spread over the batch, as {@link #BUDGET} allows.
     */
    static Result checkMla(MlaDecodeBench.Case c, AttentionBackend backend, AttentionBackend reference,
                           int maxRows) {
        MlaDecodeBench.Shape w = c.shape;
        MlaHeadConfig heads = w.heads();
        int batch = w.batch();
        long rowCost = (long) w.kvLen() * heads.numHeads() * (heads.keyDim() + heads.headDimCkv());
        int n = (int) Math.max(1, Math.min(Math.min(maxRows, batch), BUDGET / Math.max(1, rowCost)));
        int[] rows = new int[n];
        for (int k = 0; k < n; k++) {
            rows[k] = n == 1 ? batch - 1 : (int) Math.round((double) k * (batch - 1) / (n - 1));
        }
        int[][] pages = new int[n][];
        int[] lens = new int[n];
        int h = heads.numHeads();
        long nopeRow = (long) h * heads.headDimCkv() * w.qDtype().byteSize();
        long peRow = (long) h * heads.headDimKpe() * w.qDtype().byteSize();
        try (HostTensor qNope = HostTensor.allocate(w.qDtype(), n, h, heads.headDimCkv());
             HostTensor qPe = HostTensor.allocate(w.qDtype(), n, h, heads.headDimKpe());
             HostTensor out = backend.download(c.output(0))) {
            for (int s = 0; s < n; s++) {
                pages[s] = c.pages[rows[s]];
                lens[s] = w.kvLen();
                java.lang.foreign.MemorySegment.copy(c.hostQNope.segment(), rows[s] * nopeRow, qNope.segment(),
                        s * nopeRow, nopeRow);
                java.lang.foreign.MemorySegment.copy(c.hostQPe.segment(), rows[s] * peRow, qPe.segment(), s * peRow,
                        peRow);
            }
            List<Tensor> scratch = new ArrayList<>();
            try {
                Tensor rn = share(reference, qNope, scratch);
                Tensor rp = share(reference, qPe, scratch);
                Tensor rc = share(reference, c.hostCkv, scratch);
                Tensor rk = share(reference, c.hostKpe, scratch);
                Tensor ro = reference.allocate(w.qDtype(), n, h, heads.headDimCkv());
                scratch.add(ro);
                try (MlaAttentionPlan plan = reference.planMlaDecode(PageTable.of(w.pageSize(), pages, lens), heads,
                        w.smScale(), PlanOptions.DEFAULT)) {
                    plan.run(rn, rp, PagedMlaCache.of(rc, rk), ro, null);
                }
                try (HostTensor expected = reference.download(ro)) {
                    return compare(atol(w.qDtype()), (long) h * heads.headDimCkv(), rows, out, expected);
                }
            } finally {
                scratch.forEach(Tensor::close);
            }
        }
    }

    /**
     * Compares rows {@code rows[s]} of {@code actual} with rows {@code s} of {@code expected},
     * {@code rowElems} elements each, within {@code tol + tol * |expected|}.
     */
    private static Result compare(double tol, long rowElems, int[] rows, HostTensor actual, HostTensor expected) {
        double maxAbs = 0;
        double worst = 0;
        String note = "";
        for (int s = 0; s < rows.length; s++) {
            long base = rows[s] * rowElems;
            for (long e = 0; e < rowElems; e++) {
                double a = actual.getFloat(base + e);
                double x = expected.getFloat(s * rowElems + e);
                double err = Math.abs(a - x);
                if (Double.isNaN(a) || Double.isNaN(err)) {
                    err = Double.POSITIVE_INFINITY;
                }
                double ratio = err / (tol + tol * Math.abs(x));
                if (ratio > worst) {
                    worst = ratio;
                    if (ratio > 1) {
                        note = "row " + rows[s] + " element " + e + ": " + a + " vs reference " + x;
                    }
                }
                maxAbs = Math.max(maxAbs, err);
            }
        }
        return new Result(worst <= 1, maxAbs, worst, rows.length, note);
    }
}
