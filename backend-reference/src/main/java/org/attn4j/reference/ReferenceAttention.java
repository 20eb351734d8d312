package org.attn4j.reference;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * spec §3 attention, written out: per request, query row and head, logits in double over the
 * allowed keys (scale, ALiBi bias, soft cap), a max-subtracted softmax that counts the head's sink
 * when there is one, the output rounded once. Work is split over
 * (request, KV head, row block) tasks whose query heads share their keys; each output element
 * is computed by one task in a fixed order, so results are bitwise deterministic.
 */
final class ReferenceAttention implements KernelPlan {
    /** Query rows per task; decode rows are always alone. */
    private static final int ROW_BLOCK = 64;

    private final AttentionProblem problem;
    private final HeadConfig heads;
    private final AttentionOptions options;
    private final ReferenceSession session;
    private final CustomMask mask;
    private final double smScale;
    private final double softCap;
    private final ReferenceRope rope;
    /** Per query head, or null: the sink logit, and the ALiBi slope. */
    private final double[] sinks;
    private final double[] slopes;
    private final List<Task> tasks;

    ReferenceAttention(ReferenceSession session, AttentionProblem problem) {
        this.session = session;
        this.problem = problem;
        this.heads = problem.heads();
        this.options = problem.options();
        this.mask = problem.mask();
        this.smScale = problem.smScale();
        this.softCap = options.logitsSoftCap();
        this.rope = options.rope() == null ? null : new ReferenceRope(options.rope(), heads.headDimQk());
        this.sinks = options.sinks() == null ? null : toDoubles(options.sinks().logits());
        this.slopes = options.alibiSlopes() == null ? null : toDoubles(options.alibiSlopes().slopes());
        this.tasks = tasks(problem);
    }

    @Override
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        Rows qh = new Rows(ReferenceMemory.flat(q), q.strides());
        Rows oh = new Rows(ReferenceMemory.flat(o), o.strides());
        HostTensor lseh = lse == null ? null : ReferenceMemory.contiguous(lse);
        HostTensor kh = ReferenceMemory.contiguous(kv.k());
        HostTensor vh = ReferenceMemory.contiguous(kv.v());
        PageTable table = problem.pageTable() != null ? problem.pageTable()
                : session.readDeviceTable(problem.deviceTable(), kv.numPages());
        tasks.parallelStream().forEach(t -> attendGroup(t, table, qh, kv, kh, vh, oh, lseh));
    }

    /** A {@code [rows, heads, D]} tensor (possibly a view): the flat memory and its row and head strides. */
    record Rows(HostTensor data, long[] strides) {
        long at(long row, long head) {
            return row * strides[0] + head * strides[1];
        }
    }

    /** Query rows {@code [rowStart, rowEnd)} of request {@code request} for the heads reading {@code kvHead}. */
    private record Task(int request, int kvHead, int rowStart, int rowEnd) {}

    /**
     * One task per (request, KV head, block of query rows): blocks keep long prefills parallel
     * even with one request and few KV heads, and each output element still has one owner.
     */
    private static List<Task> tasks(AttentionProblem problem) {
        List<Task> tasks = new ArrayList<>();
        for (int b = 0; b < problem.batchSize(); b++) {
            int qoLen = problem.qoLen(b);
            for (int h = 0; h < problem.heads().numKvHeads(); h++) {
                for (int start = 0; start < qoLen; start += ROW_BLOCK) {
                    tasks.add(new Task(b, h, start, Math.min(qoLen, start + ROW_BLOCK)));
                }
            }
        }
        return List.copyOf(tasks);
    }

    /** The task's query rows, for every query head reading its KV head. */
    private void attendGroup(Task task, PageTable table, Rows q, PagedKvCache kv, HostTensor kTensor,
                             HostTensor vTensor, Rows o, HostTensor lse) {
        int b = task.request();
        int kvHead = task.kvHead();
        int qoLen = problem.qoLen(b);
        int kvLen = table.kvLen(b);
        int dqk = heads.headDimQk();
        int dvo = heads.headDimVo();
        int g = heads.groupSize();
        double[] keys = loadKeys(table, b, kvHead, kvLen, kv, kTensor, true);
        double[] values = loadKeys(table, b, kvHead, kvLen, kv, vTensor, false);
        boolean[] allowed = new boolean[kvLen];
        double[] logits = new double[kvLen];
        double[] qv = new double[dqk];
        double[] acc = new double[dvo];
        for (int i = task.rowStart(); i < task.rowEnd(); i++) {
            long pq = (long) i + kvLen - qoLen;
            boolean any = allowedKeys(b, i, pq, kvLen, allowed);
            long row = (long) problem.qoStart(b) + i;
            for (int hh = 0; hh < g; hh++) {
                int h = kvHead * g + hh;
                long state = row * heads.numQoHeads() + h;
                long base = o.at(row, h);
                double sink = sinks == null ? Double.NEGATIVE_INFINITY : sinks[h];
                if (!any) {
                    writeEmpty(o.data(), lse, state, base, dvo, sink);
                    continue;
                }
                long qBase = q.at(row, h);
                for (int x = 0; x < dqk; x++) {
                    qv[x] = q.data().getFloat(qBase + x);
                }
                if (rope != null) {
                    rope.rotate(qv, 0, pq);
                }
                double slope = slopes == null ? 0 : slopes[h];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < kvLen; j++) {
                    if (allowed[j]) {
                        logits[j] = logit(qv, keys, j * dqk, dqk, slope * (j - pq));
                        max = Math.max(max, logits[j]);
                    }
                }
                if (max == Double.NEGATIVE_INFINITY) {
                    // Every allowed logit is -inf (infinite inputs): no weight anywhere, an empty row.
                    writeEmpty(o.data(), lse, state, base, dvo, sink);
                    continue;
                }
                // The sink is one more logit with a zero value: in the max and the denominator only.
                max = Math.max(max, sink);
                Arrays.fill(acc, 0);
                double sum = sinks == null ? 0 : Math.exp(sink - max);
                for (int j = 0; j < kvLen; j++) {
                    if (!allowed[j]) {
                        continue;
                    }
                    double w = Math.exp(logits[j] - max);
                    sum += w;
                    int vBase = j * dvo;
                    for (int x = 0; x < dvo; x++) {
                        acc[x] += w * values[vBase + x];
                    }
                }
                for (int x = 0; x < dvo; x++) {
                    ReferenceRounding.store(o.data(), base + x, acc[x] / sum);
                }
                if (lse != null) {
                    lse.setFloat(state, (float) (max + Math.log(sum)));
                }
            }
        }
    }

    /** {@code cap(smScale * q.k + bias)}, the bias being ALiBi's {@code slope * (j - pq)} (0 without). */
    private double logit(double[] qv, double[] keys, int kBase, int d, double bias) {
        double dot = 0;
        for (int x = 0; x < d; x++) {
            dot += qv[x] * keys[kBase + x];
        }
        double logit = smScale * dot + bias;
        return softCap > 0 ? softCap * Math.tanh(logit / softCap) : logit;
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    /** Fills {@code allowed[0 .. kvLen)} for row {@code i}; returns whether any key is allowed. */
    private boolean allowedKeys(int b, int i, long pq, int kvLen, boolean[] allowed) {
        boolean any = false;
        long maskRow = mask == null ? 0 : problem.maskOffset(b) + (long) i * kvLen;
        for (int j = 0; j < kvLen; j++) {
            boolean ok = (!options.causal() || j <= pq)
                    && (options.windowLeft() < 0 || j >= pq - options.windowLeft())
                    && (mask == null || mask.bit(maskRow + j));
            allowed[j] = ok;
            any |= ok;
        }
        return any;
    }

    /**
     * K (rotated to each key's position when RoPE is on) or V of one request and KV head,
     * dequantised with the cache's scales (scalar, per head or per token), as {@code [kvLen, Dqk]}
     * or {@code [kvLen, Dvo]} doubles. Only slots below {@code kvLen} are read.
     */
    private double[] loadKeys(PageTable table, int b, int kvHead, int kvLen, PagedKvCache kv, HostTensor t,
                              boolean isKey) {
        int d = isKey ? heads.headDimQk() : heads.headDimVo();
        double[] out = new double[Math.multiplyExact(kvLen, d)];
        KvScales scales = kv.scales();
        HostTensor scaleTensor = scales.isScalar() ? null
                : ReferenceMemory.contiguous(isKey ? scales.kTensor() : scales.vTensor());
        double scalar = !scales.isScalar() ? 1 : isKey ? scales.k() : scales.v();
        int pageSize = table.pageSize();
        for (int j = 0; j < kvLen; j++) {
            int page = table.pageOf(b, j);
            int slot = j % pageSize;
            long src = isKey ? kv.kIndex(page, slot, kvHead) : kv.vIndex(page, slot, kvHead);
            // spec §1: the stored value times its head's or its token's scale, or the scalar
            double scale = scaleTensor == null ? scalar : scaleTensor.getFloat(kv.scaleIndex(page, slot, kvHead));
            int dst = j * d;
            for (int x = 0; x < d; x++) {
                out[dst + x] = t.getFloat(src + x) * scale;
            }
            if (isKey && rope != null) {
                rope.rotate(out, dst, j);
            }
        }
        return out;
    }

    /** A row no key weighs into: o = 0 and lse = the sink (-inf without sinks). */
    private static void writeEmpty(HostTensor o, HostTensor lse, long state, long base, int d, double sink) {
        for (int x = 0; x < d; x++) {
            o.setFloat(base + x, 0f);
        }
        if (lse != null) {
            lse.setFloat(state, (float) sink);
        }
    }

    @Override
    public String describe() {
        return "reference: " + tasks.size() + " parallel tasks (request x KV head x " + ROW_BLOCK
                + "-row block), double accumulation";
    }
}
