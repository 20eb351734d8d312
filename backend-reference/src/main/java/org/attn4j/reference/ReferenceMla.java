package org.attn4j.reference;

import java.util.ArrayList;
import java.util.List;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.spi.MlaKernelPlan;
import org.attn4j.spi.MlaProblem;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * spec §13 multi-head latent attention, written out: per request the keys {@code [ckv ; kpe]}
 * and values {@code ckv} are read once (dequantised with the cache's two scales), then per query
 * row and head logits in double, a max-subtracted softmax over the allowed keys and the output
 * rounded once. Tasks are (request, block of rows); each output element has one owner and a fixed
 * order of operations, so results are bitwise deterministic.
 */
final class ReferenceMla implements MlaKernelPlan {
    private static final int ROW_BLOCK = 16;

    private final MlaProblem problem;
    private final List<int[]> tasks = new ArrayList<>();

    ReferenceMla(MlaProblem problem) {
        this.problem = problem;
        for (int b = 0; b < problem.batchSize(); b++) {
            for (int start = 0; start < problem.qoLen(b); start += ROW_BLOCK) {
                tasks.add(new int[] {b, start, Math.min(problem.qoLen(b), start + ROW_BLOCK)});
            }
        }
    }

    @Override
    public void run(Tensor qNope, Tensor qPe, PagedMlaCache cache, Tensor o, Tensor lse) {
        ReferenceAttention.Rows qn = new ReferenceAttention.Rows(ReferenceMemory.flat(qNope), qNope.strides());
        ReferenceAttention.Rows qp = new ReferenceAttention.Rows(ReferenceMemory.flat(qPe), qPe.strides());
        ReferenceAttention.Rows oh = new ReferenceAttention.Rows(ReferenceMemory.flat(o), o.strides());
        HostTensor lseh = lse == null ? null : ReferenceMemory.contiguous(lse);
        HostTensor ckv = ReferenceMemory.contiguous(cache.ckv());
        HostTensor kpe = ReferenceMemory.contiguous(cache.kpe());
        tasks.parallelStream().forEach(t -> attend(t[0], t[1], t[2], qn, qp, cache, ckv, kpe, oh, lseh));
    }

    private void attend(int b, int rowStart, int rowEnd, ReferenceAttention.Rows qn, ReferenceAttention.Rows qp,
                        PagedMlaCache cache, HostTensor ckvT, HostTensor kpeT, ReferenceAttention.Rows o,
                        HostTensor lse) {
        PageTable table = problem.pageTable();
        int heads = problem.heads().numHeads();
        int dc = problem.heads().headDimCkv();
        int dp = problem.heads().headDimKpe();
        int kvLen = table.kvLen(b);
        int qoLen = problem.qoLen(b);
        double[] ckv = new double[kvLen * dc];
        double[] kpe = new double[kvLen * dp];
        double cs = cache.ckvScale();
        double ps = cache.kpeScale();
        for (int j = 0; j < kvLen; j++) {
            int page = table.pageOf(b, j);
            int slot = j % table.pageSize();
            long c = cache.ckvIndex(page, slot);
            long p = cache.kpeIndex(page, slot);
            for (int x = 0; x < dc; x++) {
                ckv[j * dc + x] = ckvT.getFloat(c + x) * cs;
            }
            for (int x = 0; x < dp; x++) {
                kpe[j * dp + x] = kpeT.getFloat(p + x) * ps;
            }
        }
        double smScale = problem.smScale();
        double[] logits = new double[kvLen];
        double[] qc = new double[dc];
        double[] qr = new double[dp];
        double[] acc = new double[dc];
        for (int i = rowStart; i < rowEnd; i++) {
            long pq = (long) i + kvLen - qoLen;
            int allowed = problem.causal() ? (int) Math.max(0, Math.min(kvLen, pq + 1)) : kvLen;
            long row = (long) problem.qoStart(b) + i;
            for (int h = 0; h < heads; h++) {
                long base = o.at(row, h);
                long state = row * heads + h;
                long qcBase = qn.at(row, h);
                long qrBase = qp.at(row, h);
                for (int x = 0; x < dc; x++) {
                    qc[x] = qn.data().getFloat(qcBase + x);
                }
                for (int x = 0; x < dp; x++) {
                    qr[x] = qp.data().getFloat(qrBase + x);
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < allowed; j++) {
                    double dot = 0;
                    for (int x = 0; x < dc; x++) {
                        dot += qc[x] * ckv[j * dc + x];
                    }
                    for (int x = 0; x < dp; x++) {
                        dot += qr[x] * kpe[j * dp + x];
                    }
                    logits[j] = smScale * dot;
                    max = Math.max(max, logits[j]);
                }
                if (max == Double.NEGATIVE_INFINITY) {
                    for (int x = 0; x < dc; x++) {
                        o.data().setFloat(base + x, 0f);
                    }
                    if (lse != null) {
                        lse.setFloat(state, Float.NEGATIVE_INFINITY);
                    }
                    continue;
                }
                java.util.Arrays.fill(acc, 0);
                double sum = 0;
                for (int j = 0; j < allowed; j++) {
                    double w = Math.exp(logits[j] - max);
                    sum += w;
                    for (int x = 0; x < dc; x++) {
                        acc[x] += w * ckv[j * dc + x];
                    }
                }
                for (int x = 0; x < dc; x++) {
                    ReferenceRounding.store(o.data(), base + x, acc[x] / sum);
                }
                if (lse != null) {
                    lse.setFloat(state, (float) (max + Math.log(sum)));
                }
            }
        }
    }

    @Override
    public String describe() {
        return "reference MLA: " + tasks.size() + " parallel tasks (request x " + ROW_BLOCK
                + "-row block), keys read once per task, double accumulation";
    }
}
