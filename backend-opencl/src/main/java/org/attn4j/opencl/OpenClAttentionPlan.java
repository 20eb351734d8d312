package org.attn4j.opencl;

import static org.jocl.CL.*;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.function.IntPredicate;
import org.attn4j.options.AttentionOptions;
import org.attn4j.error.BackendException;
import org.attn4j.options.RopeOptions;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/**
 * One attention problem, planned: the schedule and every index array (page table, lengths,
 * units, mask bits, RoPE angles) uploaded once, plus the split-KV workspace. {@link #run} only
 * sets arguments and enqueues the attention kernel and, for split requests, the merge. Where the
 * streaming decode applies, its requests (at most one query row) and the others are two parts,
 * each with its own kernel, schedule and workspace.
 */
final class OpenClAttentionPlan implements KernelPlan {
    private static final float LOG2E = 1.4426950408889634f;
    private static final int F_CAUSAL = 1;
    private static final int F_WINDOW = 2;
    private static final int F_SOFTCAP = 4;
    private static final int F_MASK = 8;
    private static final int F_LSE = 16;
    private static final int F_INTERLEAVED = 32;
    private static final int F_ROPE = 64;

    private final OpenClSession session;
    private final AttentionProblem problem;
    /** The kernels' shares of the problem: the streaming decode's requests, then the tiled (or serial) kernel's. */
    private final List<Part> parts = new ArrayList<>();
    private final Map<String, Resolved> kernels = new HashMap<>();
    private final TileConfig tiles;
    /** The streaming decode's shape when this problem runs it, else null. */
    private final DecodeStreamConfig stream;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    private final int ropeBase;
    private final cl_mem kvIndptr;
    private final cl_mem kvIndices;
    private final cl_mem kvLens;
    private final cl_mem qoIndptr;
    private final cl_mem mask;
    private final cl_mem maskOffsets;
    private final cl_mem rope;
    private final long workspaceBytes;

    /**
     * A built kernel pair, the work-group size it runs with and whether its merge runs one
     * work-item per element (streaming decode) or per (row, head).
     */
    private record Resolved(cl_kernel attention, cl_kernel merge, int wg, boolean mergePerElement) {}

    /**
     * One kernel's requests: their units, split workspace and merge rows.
     *
     * @param stream whether the streaming decode runs them, else the tiled or serial kernel
     */
    private record Part(boolean stream, AttentionSchedule schedule, cl_mem units, cl_mem unitTmpRow, cl_mem mergeRows,
                        cl_mem tmpO, cl_mem tmpLse, long workspaceBytes) {
        static Part upload(OpenClSession session, boolean stream, AttentionSchedule schedule, int hq, int d) {
            long tmpOBytes = (long) schedule.tmpRows() * hq * d * 4;
            long tmpLseBytes = (long) schedule.tmpRows() * hq * 4;
            return new Part(stream, schedule, session.ints(schedule.units(), "work-units"),
                    session.ints(schedule.unitTmpRow(), "work-unit rows"), session.ints(schedule.mergeRows(), "merge rows"),
                    session.newBuffer(Math.max(4, tmpOBytes), "split workspace o"),
                    session.newBuffer(Math.max(4, tmpLseBytes), "split workspace lse"), tmpOBytes + tmpLseBytes);
        }

        void release() {
            for (cl_mem m : new cl_mem[] {units, unitTmpRow, mergeRows, tmpO, tmpLse}) {
                OpenClSession.release(m);
            }
        }
    }

    OpenClAttentionPlan(OpenClSession session, AttentionProblem problem) {
        this.session = session;
        this.problem = problem;
        OpenClDevice dev = session.deviceInfo();
        int g = problem.heads().groupSize();
        int items = problem.decode() ? g : TileConfig.MAX_TM;
        this.tiles = TileConfig.choose(problem.heads().headDim(), items, dev.localMemBytes(), dev.maxWorkGroupSize(),
                session.serialKernel());
        this.stream = session.decodeStream() && DecodeStreamConfig.accepts(problem, dev.maxWorkGroupSize())
                ? DecodeStreamConfig.choose(problem.heads().headDim(), g, dev.maxWorkGroupSize(),
                        session.streamTuning()) : null;
        int batch = problem.batchSize();
        int hq = problem.heads().numQoHeads();
        int d = problem.heads().headDim();
        int[] lens = problem.pageTable().kvLens();
        int lowest = 0;
        int maxKv = 0;
        for (int b = 0; b < batch; b++) {
            maxKv = Math.max(maxKv, lens[b]);
            if (problem.qoLen(b) > 0) {
                lowest = Math.min(lowest, lens[b] - problem.qoLen(b));
            }
        }
        this.ropeBase = lowest;
        this.kvIndptr = session.ints(problem.pageTable().indptr(), "kvIndptr");
        this.kvIndices = session.ints(problem.pageTable().indices(), "kvIndices");
        this.kvLens = session.ints(lens, "kvLens");
        this.qoIndptr = session.ints(problem.qoIndptr(), "qoIndptr");
        // Requests with at most one query row go to the streaming decode when it applies, each by
        // its own rows only, so the choice never depends on the rest of the batch.
        IntPredicate singleRow = b -> problem.qoLen(b) <= 1;
        long workspace = 0;
        if (stream != null) {
            AttentionSchedule s = AttentionSchedule.of(problem, stream.tm(), stream.keyQuantum(),
                    (long) Math.max(1, dev.computeUnits()) * DecodeStreamConfig.GROUPS_PER_COMPUTE_UNIT, singleRow);
            AttentionSchedule rest = AttentionSchedule.of(problem, tiles.tm(), tiles.tn(),
                    4L * Math.max(1, dev.computeUnits()), singleRow.negate());
            if (s.unitCount() > 0) {
                parts.add(Part.upload(session, true, s, hq, d));
            }
            if (rest.unitCount() > 0) {
                parts.add(Part.upload(session, false, rest, hq, d));
            }
        } else {
            parts.add(Part.upload(session, false, AttentionSchedule.of(problem, tiles, dev.computeUnits()), hq, d));
        }
        for (Part part : parts) {
            workspace += part.workspaceBytes();
        }
        this.workspaceBytes = workspace;
        if (problem.mask() != null) {
            this.mask = session.bytes(problem.mask().packed(), "custom mask");
            this.maskOffsets = session.longs(problem.maskOffsets(), "mask offsets");
        } else {
            this.mask = session.newBuffer(4, "no mask");
            this.maskOffsets = session.newBuffer(8, "no mask offsets");
        }
        RopeOptions ropeOptions = problem.options().rope();
        this.rope = ropeOptions == null ? session.newBuffer(8, "no rope")
                : session.floats(ropeTable(ropeOptions, d, lowest, maxKv), "rope angles");
    }

    /** (cos, sin) for positions {@code [from, to)} and each pair, from double-precision angles. */
    private static float[] ropeTable(RopeOptions rope, int d, int from, int to) {
        double[] freq = rope.frequencies(d);
        int half = d / 2;
        float[] t = new float[Math.max(0, to - from) * half * 2];
        for (int pos = from; pos < to; pos++) {
            int row = (pos - from) * half;
            for (int p = 0; p < half; p++) {
                double a = pos * freq[p];
                t[(row + p) * 2] = (float) Math.cos(a);
                t[(row + p) * 2 + 1] = (float) Math.sin(a);
            }
        }
        return t;
    }

    @Override
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        for (Part part : parts) {
            run(part, q, kv, o, lse);
        }
    }

    private void run(Part part, Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        AttentionSchedule schedule = part.schedule();
        if (schedule.unitCount() == 0) {
            return;
        }
        Resolved k = resolve(part.stream(), q.dtype(), kv.dtype(), part.stream() && vectorAligned(kv));
        AttentionOptions opt = problem.options();
        boolean softCap = opt.logitsSoftCap() > 0;
        int flags = (opt.causal() ? F_CAUSAL : 0) | (opt.windowLeft() >= 0 ? F_WINDOW : 0)
                | (softCap ? F_SOFTCAP : 0) | (problem.mask() != null ? F_MASK : 0) | (lse != null ? F_LSE : 0)
                | (opt.rope() != null ? F_ROPE : 0)
                | (opt.rope() != null && opt.rope().interleaved() ? F_INTERLEAVED : 0);
        float qScale = problem.smScale() * kv.scales().k() * (softCap ? 1f : LOG2E);
        int hq = problem.heads().numQoHeads();
        int hkv = problem.heads().numKvHeads();
        int d = problem.heads().headDim();
        cl_mem lseMem = lse != null ? OpenClSession.mem(lse) : part.tmpLse();
        synchronized (session) {
            new KernelCall(k.attention(), "attention").mem(OpenClSession.mem(q)).mem(OpenClSession.mem(o)).mem(lseMem)
                    .mem(OpenClSession.mem(kv.k())).mem(OpenClSession.mem(kv.v()))
                    .l(kv.kOffset()).l(kv.vOffset()).l(kv.pageStride()).l(kv.slotStride()).l(kv.headStride())
                    .mem(kvIndptr).mem(kvIndices).mem(kvLens).mem(qoIndptr).mem(part.units()).mem(part.unitTmpRow())
                    .mem(part.tmpO()).mem(part.tmpLse()).mem(mask).mem(maskOffsets).mem(rope).i(ropeBase)
                    .i(kv.pageSize()).i(hq).i(problem.heads().groupSize()).i(d)
                    .f(qScale).f(opt.logitsSoftCap()).f(kv.scales().v()).i(flags)
                    .i(opt.windowLeft())
                    .launch(session.queue(), new long[] {(long) schedule.unitCount() * k.wg(), hkv},
                            new long[] {k.wg(), 1});
            if (schedule.mergeRowCount() > 0 && k.mergePerElement()) {
                int count = Math.multiplyExact(schedule.mergeRowCount() * hq, d);
                new KernelCall(k.merge(), "merge_splits_dims").mem(part.tmpO()).mem(part.tmpLse())
                        .mem(part.mergeRows()).mem(OpenClSession.mem(o)).mem(lseMem).i(hq).i(d).i(lse != null ? 1 : 0)
                        .i(count).launch1d(session.queue(), count, session.group());
            } else if (schedule.mergeRowCount() > 0) {
                new KernelCall(k.merge(), "merge_splits").mem(part.tmpO()).mem(part.tmpLse()).mem(part.mergeRows())
                        .mem(OpenClSession.mem(o)).mem(lseMem).i(hq).i(d).i(lse != null ? 1 : 0)
                        .i(schedule.mergeRowCount() * hq)
                        .launch1d(session.queue(), (long) schedule.mergeRowCount() * hq, session.group());
            }
        }
    }

    /** Builds (once per dtype pair) the kernels, shrinking the work-group if the device demands it. */
    /**
     * Whether every K/V row of {@code kv} starts on a multiple of 8 elements, so the streaming
     * decode may read its 8-element vectors with aligned loads (buffers start aligned; the head
     * dim is a multiple of 8 there, so q rows do too).
     */
    private static boolean vectorAligned(PagedKvCache kv) {
        return kv.kOffset() % 8 == 0 && kv.vOffset() % 8 == 0 && kv.pageStride() % 8 == 0
                && kv.slotStride() % 8 == 0 && kv.headStride() % 8 == 0;
    }

    private synchronized Resolved resolve(boolean streaming, DType qType, DType kvType, boolean aligned) {
        String key = (streaming ? "stream/" + (aligned ? "aligned/" : "") : "") + qType + "/" + kvType;
        Resolved r = kernels.get(key);
        if (r != null) {
            return r;
        }
        if (streaming) {
            return resolveStream(key, qType, kvType, aligned);
        }
        TileConfig t = tiles;
        while (true) {
            String defines = "-DQT=" + OpenClTypes.code(qType) + " -DKVT=" + OpenClTypes.code(kvType) + " "
                    + t.defines();
            cl_kernel attention = session.kernel("attention.cl", "attention", defines);
            long allowed = kernelWorkGroupSize(attention);
            if (t.serial() || allowed >= t.wg() || t.wg() <= 16) {
                r = new Resolved(attention, session.kernel("attention.cl", "merge_splits", defines), t.wg(), false);
                kernels.put(key, r);
                return r;
            }
            t = t.withWorkGroup((int) Math.max(16, Long.highestOneBit(allowed)));
        }
    }

    private Resolved resolveStream(String key, DType qType, DType kvType, boolean aligned) {
        DecodeStreamConfig s = stream;
        while (true) {
            String defines = "-DQT=" + OpenClTypes.code(qType) + " -DKVT=" + OpenClTypes.code(kvType) + " "
                    + s.defines() + " -DALIGNED8=" + (aligned ? 1 : 0);
            cl_kernel attention = session.kernel("decode_stream.cl", "decode_stream", defines);
            long allowed = kernelWorkGroupSize(attention);
            if (allowed >= s.wg()) {
                Resolved r = new Resolved(attention, session.kernel("decode_stream.cl", "merge_splits_dims", defines),
                        s.wg(), true);
                kernels.put(key, r);
                return r;
            }
            // A build may allow fewer work-items than the device's maximum (registers): halve the
            // row groups until it fits. Chunks stay multiples of the smaller key quantum.
            if (s.wg() / 2 < s.lanes()) {
                throw new BackendException(OpenClBackendProvider.ID, "decode_stream: the device allows " + allowed
                        + " work-items per group for this build, the kernel needs at least " + s.wg()
                        + " (choose -Dattn4j.opencl.kernel=tiled)");
            }
            s = s.withWorkGroup(s.wg() / 2);
        }
    }

    private long kernelWorkGroupSize(cl_kernel kernel) {
        long[] v = new long[1];
        ClCalls.call("clGetKernelWorkGroupInfo(attention)", () -> {
            clGetKernelWorkGroupInfo(kernel, session.deviceInfo().device(), CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t,
                    Pointer.to(v), null);
        });
        return v[0];
    }

    @Override
    public long workspaceBytes() {
        return workspaceBytes;
    }

    @Override
    public String describe() {
        StringJoiner text = new StringJoiner("; ", "opencl attention: ", "");
        text.setEmptyValue("opencl attention: nothing to compute");
        for (Part part : parts) {
            text.add(part.schedule().describe() + ", " + (part.stream() ? stream.describe() : tiles.describe()));
        }
        return text.toString();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        for (cl_mem m : new cl_mem[] {kvIndptr, kvIndices, kvLens, qoIndptr, mask, maskOffsets, rope}) {
            OpenClSession.release(m);
        }
        parts.forEach(Part::release);
    }
}
