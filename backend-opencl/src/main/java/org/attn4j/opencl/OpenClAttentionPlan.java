package org.attn4j.opencl;

import static org.jocl.CL.*;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntPredicate;
import org.attn4j.error.BackendException;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/**
 * One attention problem, planned: kernels chosen for the problem's dtypes and alignment, the
 * schedule and every index array (page table, lengths, units, mask bits, RoPE angles, the sinks and
 * ALiBi slopes per query head) packed into one region of device memory (the session's arena, or
 * the caller's workspace) with one copy that does not wait, plus the split-KV partial states. {@link #run} only sets arguments and enqueues:
 * for a device page table, first the kernel that checks it into the plan's arrays, then the
 * attention kernel and, for split requests, the merge. Where the streaming decode applies, its
 * requests (at most one query row) and the others are two parts, each with its own kernel and
 * schedule.
 */
final class OpenClAttentionPlan implements KernelPlan {
    private static final System.Logger LOG = System.getLogger(OpenClAttentionPlan.class.getName());
    private static final float LOG2E = 1.4426950408889634f;
    private static final int F_CAUSAL = 1;
    private static final int F_WINDOW = 2;
    private static final int F_SOFTCAP = 4;
    private static final int F_MASK = 8;
    private static final int F_LSE = 16;
    private static final int F_INTERLEAVED = 32;
    private static final int F_ROPE = 64;
    private static final int F_SINKS = 128;
    private static final int F_ALIBI = 256;
    private static final int F_KV_SCALES = 512;

    private final OpenClSession session;
    private final AttentionProblem problem;
    private final Layout layout;
    private final Map<String, Resolved> kernels = new HashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final OpenClArena.Region region;
    private final List<cl_mem> subBuffers = new ArrayList<>();
    private final cl_mem kvIndptr;
    private final cl_mem kvIndices;
    private final cl_mem kvLens;
    private final cl_mem kvLast;
    private final cl_mem qoIndptr;
    private final cl_mem mask;
    private final cl_mem maskOffsets;
    private final cl_mem rope;
    private final cl_mem sinks;
    private final cl_mem slopes;
    private final List<PartBuffers> partBuffers = new ArrayList<>();

    /**
     * A built kernel pair, the work-group size it runs with and whether its merge runs one
     * work-item per element (merge_splits_dims, on GPUs) or per (row, head) (merge_splits, on CPUs).
     */
    private record Resolved(cl_kernel attention, cl_kernel merge, int wg, boolean mergePerElement) {}

    /**
     * One kernel's requests: their schedule.
     *
     * @param stream whether the streaming decode runs them, else the tiled or serial kernel
     */
    private record Part(boolean stream, AttentionSchedule schedule) {}

    private record PartBuffers(cl_mem units, cl_mem unitTmpRow, cl_mem mergeRows, cl_mem tmpO, cl_mem tmpLse) {}

    /** Where each array of the plan lives in its region, and the bytes the upload carries. */
    private static final class Layout {
        final TileConfig tiles;
        /** The tensor kernel for the tiled part's units, where the device and the head dims allow it; else null. */
        final TensorTiles tensor;
        final DecodeStreamConfig stream;
        final List<Part> parts = new ArrayList<>();
        final List<long[]> entries = new ArrayList<>(); // {offset, bytes}
        final ByteBuffer upload;
        final int ropeBase;
        long total;

        Layout(OpenClSession session, AttentionProblem problem) {
            OpenClDevice dev = session.deviceInfo();
            int g = problem.heads().groupSize();
            // Query items of the largest request: a tile need not hold more.
            int items = 0;
            for (int b = 0; b < problem.batchSize() && items < TileConfig.MAX_TM; b++) {
                items = (int) Math.min(TileConfig.MAX_TM, Math.max(items, (long) problem.qoLen(b) * g));
            }
            // Tiles hold q and K rows (Dqk) and V rows (Dvo) padded to one bucket, the larger.
            int headDim = Math.max(problem.heads().headDimQk(), problem.heads().headDimVo());
            TileConfig.Shape shape = session.tileShape();
            TileTuner tuner = session.tuner();
            boolean tensorPossible = tensorPossible(session, problem);
            if (tensorPossible) {
                // The tensor kernel runs the units of its own shapes; a run it cannot take falls
                // back to the tiled kernel on the same units.
                shape = TensorTiles.shapeFor(items);
            } else if (shape == null && tuner != null && items >= TileConfig.MAX_TM) {
                // A plan that leaves its dtypes to the run is tuned for bf16, the common case.
                DType qType = problem.qDtype() != null ? problem.qDtype() : DType.BF16;
                DType kvType = problem.kvDtype() != null ? problem.kvDtype() : qType;
                shape = tuner.shape(Math.max(32, TileConfig.ceilPow2(headDim)), qType, kvType);
            }
            this.tiles = TileConfig.choose(headDim, items, dev.localMemBytes(), dev.maxWorkGroupSize(),
                    session.serialKernel(), shape);
            TensorTiles tensorTiles = tensorPossible ? TensorTiles.of(tiles, headDim) : null;
            this.tensor = tensorTiles != null && shape.equals(tiles.shape()) && tensorTiles.wg() <= dev.maxWorkGroupSize()
                    && tensorTiles.localBytes() <= dev.localMemBytes() ? tensorTiles : null;
            this.stream = session.decodeStream() && DecodeStreamConfig.accepts(problem, dev.maxWorkGroupSize())
                    ? DecodeStreamConfig.choose(problem.heads().headDimQk(), g, dev.maxWorkGroupSize(),
                            dev.localMemBytes(), dev.nvidiaTensorCores(), session.streamTuning()) : null;
            int batch = problem.batchSize();
            int hq = problem.heads().numQoHeads();
            int dqk = problem.heads().headDimQk();
            int dvo = problem.heads().headDimVo();
            int[] lens = problem.kvLens();
            int lowest = 0;
            int maxKv = 0;
            for (int b = 0; b < batch; b++) {
                maxKv = Math.max(maxKv, lens[b]);
                if (problem.qoLen(b) > 0) {
                    // A device table's actual length may be anything from 0 up to the bound.
                    int shortest = problem.deviceResident() ? 0 : lens[b];
                    lowest = Math.min(lowest, shortest - problem.qoLen(b));
                }
            }
            this.ropeBase = lowest;
            // Requests with at most one query row go to the streaming decode when it applies, each by
            // its own rows only, so the choice never depends on the rest of the batch.
            IntPredicate singleRow = b -> problem.qoLen(b) <= 1;
            if (stream != null) {
                AttentionSchedule s = AttentionSchedule.of(problem, stream.tm(), stream.keyQuantum(),
                        (long) Math.max(1, dev.computeUnits()) * DecodeStreamConfig.GROUPS_PER_COMPUTE_UNIT,
                        AttentionSchedule.Fill.AT_LEAST, singleRow);
                AttentionSchedule rest = AttentionSchedule.of(problem, tiles, dev.computeUnits(), singleRow.negate());
                if (s.unitCount() > 0) {
                    parts.add(new Part(true, s));
                }
                if (rest.unitCount() > 0) {
                    parts.add(new Part(false, rest));
                }
            } else {
                parts.add(new Part(false, AttentionSchedule.of(problem, tiles, dev.computeUnits())));
            }
            long align = session.arena().alignment();
            List<ByteBuffer> data = new ArrayList<>();
            // Inputs first (uploaded), scratch last (never uploaded).
            boolean device = problem.deviceResident();
            DevicePageTable dt = problem.deviceTable();
            add(align, data, device ? null : ints(problem.pageTable().indptr()), 4L * (batch + 1));
            add(align, data, device ? null : ints(problem.pageTable().indices()),
                    4L * (device ? dt.capacity() : problem.pageTable().totalPages()));
            add(align, data, device ? null : ints(lens), 4L * batch);
            add(align, data, null, 4L * batch); // last page lengths: a device table's, checked
            add(align, data, ints(problem.qoIndptr()), 4L * (batch + 1));
            byte[] maskBits = problem.mask() == null ? new byte[0] : problem.mask().packed();
            add(align, data, ByteBuffer.wrap(maskBits), maskBits.length);
            long[] offsets = problem.maskOffsets() == null ? new long[0] : problem.maskOffsets();
            ByteBuffer off = ByteBuffer.allocate(8 * offsets.length).order(ByteOrder.nativeOrder());
            off.asLongBuffer().put(offsets);
            add(align, data, off, off.capacity());
            RopeOptions ropeOptions = problem.options().rope();
            float[] angles = ropeOptions == null ? new float[0] : ropeTable(ropeOptions, dqk, lowest, maxKv);
            ByteBuffer ab = ByteBuffer.allocate(4 * angles.length).order(ByteOrder.nativeOrder());
            ab.asFloatBuffer().put(angles);
            add(align, data, ab, ab.capacity());
            // One float per query head each, read by the kernels only under F_SINKS / F_ALIBI.
            add(align, data, floats(problem.options().sinks() == null ? new float[0]
                    : problem.options().sinks().logits()), 4L * (problem.options().sinks() == null ? 0 : hq));
            add(align, data, floats(problem.options().alibiSlopes() == null ? new float[0]
                    : problem.options().alibiSlopes().slopes()),
                    4L * (problem.options().alibiSlopes() == null ? 0 : hq));
            for (Part part : parts) {
                AttentionSchedule s = part.schedule();
                add(align, data, ints(s.units()), 4L * s.units().length);
                add(align, data, ints(s.unitTmpRow()), 4L * s.unitTmpRow().length);
                add(align, data, ints(s.mergeRows()), 4L * s.mergeRows().length);
            }
            long uploadEnd = total;
            for (Part part : parts) {
                add(align, data, null, (long) part.schedule().tmpRows() * hq * dvo * 4); // partial o rows
                add(align, data, null, (long) part.schedule().tmpRows() * hq * 4);
            }
            this.upload = ByteBuffer.allocateDirect((int) Math.max(4, uploadEnd)).order(ByteOrder.nativeOrder());
            for (int i = 0; i < data.size(); i++) {
                ByteBuffer x = data.get(i);
                if (x != null && entries.get(i)[0] < uploadEnd) {
                    upload.put((int) entries.get(i)[0], x.rewind(), 0, x.remaining());
                }
            }
            upload.limit((int) uploadEnd);
        }

        /**
         * Whether the tensor kernel may run this problem's tiled part: the session uses it, the head
         * dims fit, the dtypes the plan knows fit (a run may still bring others; none known passes)
         * and its options are ones it takes (no RoPE on the fly).
         */
        private static boolean tensorPossible(OpenClSession session, AttentionProblem problem) {
            DType q = problem.qDtype();
            DType kv = problem.kvDtype();
            return session.tensorCores() && !session.serialKernel()
                    && TensorTiles.acceptsHeadDims(problem.heads().headDimQk(), problem.heads().headDimVo())
                    && TensorTiles.acceptsTypes(q != null ? q : kv, kv != null ? kv : q)
                    && problem.options().rope() == null;
        }

        private void add(long align, List<ByteBuffer> data, ByteBuffer bytes, long length) {
            entries.add(new long[] {total, Math.max(4, length)});
            data.add(bytes);
            total += (Math.max(4, length) + align - 1) / align * align;
        }

        private static ByteBuffer floats(float[] values) {
            ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.nativeOrder());
            b.asFloatBuffer().put(values);
            return b;
        }

        private static ByteBuffer ints(int[] values) {
            ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.nativeOrder());
            b.asIntBuffer().put(values);
            return b;
        }
    }

    /** Bytes of caller workspace a plan of {@code problem} takes. */
    static long workspaceBytes(OpenClSession session, AttentionProblem problem) {
        return new Layout(session, problem).total;
    }

    OpenClAttentionPlan(OpenClSession session, AttentionProblem problem) {
        this.session = session;
        this.problem = problem;
        this.layout = new Layout(session, problem);
        Tensor ws = problem.plan().workspace();
        cl_mem base;
        long baseOffset;
        if (ws != null) {
            this.region = null;
            base = OpenClMemory.mem(ws);
            baseOffset = OpenClMemory.byteOffset(ws);
            if (baseOffset % session.arena().alignment() != 0) {
                throw new InvalidArgumentException("plan.workspace", "starts " + baseOffset + " bytes into its "
                        + "buffer; OpenCL needs a workspace to start on a multiple of " + session.arena().alignment()
                        + " bytes");
            }
        } else {
            this.region = session.arena().take(layout.total);
            base = region.chunk();
            baseOffset = region.offset();
        }
        try {
            List<cl_mem> b = new ArrayList<>();
            synchronized (session) {
                session.uploads().write(base, baseOffset, layout.upload);
                for (long[] e : layout.entries) {
                    cl_mem sub = OpenClArena.subBuffer(base, baseOffset + e[0], e[1]);
                    subBuffers.add(sub);
                    b.add(sub);
                }
            }
            kvIndptr = b.get(0);
            kvIndices = b.get(1);
            kvLens = b.get(2);
            kvLast = b.get(3);
            qoIndptr = b.get(4);
            mask = b.get(5);
            maskOffsets = b.get(6);
            rope = b.get(7);
            sinks = b.get(8);
            slopes = b.get(9);
            int at = 10;
            for (int i = 0; i < layout.parts.size(); i++) {
                partBuffers.add(new PartBuffers(b.get(at + 3 * i), b.get(at + 3 * i + 1), b.get(at + 3 * i + 2),
                        null, null));
            }
            at += 3 * layout.parts.size();
            for (int i = 0; i < layout.parts.size(); i++) {
                PartBuffers p = partBuffers.get(i);
                partBuffers.set(i, new PartBuffers(p.units(), p.unitTmpRow(), p.mergeRows(), b.get(at + 2 * i),
                        b.get(at + 2 * i + 1)));
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * (cos, sin) for positions {@code [from, to)} and each pair of the rotary dim, from
     * double-precision angles.
     */
    private static float[] ropeTable(RopeOptions rope, int d, int from, int to) {
        double[] freq = rope.frequencies(d);
        int half = freq.length;
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
        if (problem.deviceResident()) {
            checkDeviceTable(kv.numPages());
        }
        for (int i = 0; i < layout.parts.size(); i++) {
            run(layout.parts.get(i), partBuffers.get(i), q, kv, o, lse);
        }
    }

    /** Copies the device page table into the plan's arrays, checking every value (device_table.cl). */
    private void checkDeviceTable(int numPages) {
        DevicePageTable t = problem.deviceTable();
        int wg = (int) Math.min(256, Long.highestOneBit(Math.max(1, session.deviceInfo().maxWorkGroupSize())));
        cl_kernel k = session.kernel("device_table.cl", "sanitize_table", "-DWG=" + wg);
        cl_mem indptr = session.view(t.indptr());
        cl_mem indices = session.view(t.indices());
        cl_mem last = session.view(t.lastPageLen());
        try {
            synchronized (session) {
                new KernelCall(k, "sanitize_table").mem(indptr).mem(indices).mem(last).mem(kvIndptr).mem(kvIndices)
                        .mem(kvLast).mem(kvLens).mem(session.fault()).i(t.batchSize()).i(t.capacity())
                        .i(t.pageSize()).i(t.maxKvLen()).i(numPages)
                        .launch(session.queue(), new long[] {wg}, new long[] {wg});
            }
        } finally {
            session.release(indptr);
            session.release(indices);
            session.release(last);
        }
    }

    private void run(Part part, PartBuffers buf, Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        AttentionSchedule schedule = part.schedule();
        if (schedule.unitCount() == 0) {
            return;
        }
        boolean tensor = !part.stream() && tensorRuns(q, kv);
        Resolved k = tensor ? resolveTensor(q.dtype()) : null;
        if (k == null) {
            k = resolve(part.stream(), q.dtype(), kv.dtype(),
                    part.stream() ? vectorAligned(kv) : !layout.tiles.serial() && rowsStartOn(4, q, kv));
        }
        AttentionOptions opt = problem.options();
        boolean softCap = opt.logitsSoftCap() > 0;
        int flags = (opt.causal() ? F_CAUSAL : 0) | (opt.windowLeft() >= 0 ? F_WINDOW : 0)
                | (softCap ? F_SOFTCAP : 0) | (problem.mask() != null ? F_MASK : 0) | (lse != null ? F_LSE : 0)
                | (opt.rope() != null ? F_ROPE : 0)
                | (opt.rope() != null && opt.rope().interleaved() ? F_INTERLEAVED : 0)
                | (opt.sinks() != null ? F_SINKS : 0) | (opt.alibiSlopes() != null ? F_ALIBI : 0);
        KvScales scales = kv.scales();
        // Scalar scales fold into the query and output factors; per-head and per-token ones the
        // kernels apply to each K and V row they load (F_KV_SCALES).
        boolean scalar = scales.isScalar();
        flags |= scalar ? 0 : F_KV_SCALES;
        float qScale = problem.smScale() * (scalar ? scales.k() : 1f) * (softCap ? 1f : LOG2E);
        float vScale = scalar ? scales.v() : 1f;
        cl_mem kScaleMem = scalar ? sinks : OpenClMemory.mem(scales.kTensor());
        cl_mem vScaleMem = scalar ? sinks : OpenClMemory.mem(scales.vTensor());
        long kScaleOff = scalar ? 0 : OpenClMemory.offset(scales.kTensor());
        long vScaleOff = scalar ? 0 : OpenClMemory.offset(scales.vTensor());
        int hq = problem.heads().numQoHeads();
        int hkv = problem.heads().numKvHeads();
        int dqk = problem.heads().headDimQk();
        int dvo = problem.heads().headDimVo();
        long[] qs = q.strides();
        long[] os = o.strides();
        cl_mem lseMem = lse != null ? OpenClMemory.mem(lse) : buf.tmpLse();
        long lseOff = lse != null ? OpenClMemory.offset(lse) : 0;
        // The serial (CPU) kernel runs a unit's KV heads in consecutive work-groups: their rows
        // share each page (see attention.cl).
        boolean serialGrid = layout.tiles.serial() && !part.stream();
        synchronized (session) {
            new KernelCall(k.attention(), "attention").mem(OpenClMemory.mem(q)).l(OpenClMemory.offset(q)).l(qs[0])
                    .l(qs[1]).mem(OpenClMemory.mem(o)).l(OpenClMemory.offset(o)).l(os[0]).l(os[1]).mem(lseMem).l(lseOff)
                    .mem(OpenClMemory.mem(kv.k())).mem(OpenClMemory.mem(kv.v()))
                    .l(kv.kOffset() + OpenClMemory.offset(kv.k())).l(kv.vOffset() + OpenClMemory.offset(kv.v()))
                    .l(kv.kPageStride()).l(kv.kSlotStride()).l(kv.kHeadStride())
                    .l(kv.vPageStride()).l(kv.vSlotStride()).l(kv.vHeadStride())
                    .mem(kvIndptr).mem(kvIndices).mem(kvLens).mem(qoIndptr).mem(buf.units()).mem(buf.unitTmpRow())
                    .mem(buf.tmpO()).mem(buf.tmpLse()).mem(mask).mem(maskOffsets).mem(rope).i(layout.ropeBase)
                    .i(opt.rope() == null ? dqk : opt.rope().rotatedDims(dqk))
                    .mem(sinks).mem(slopes).mem(kScaleMem).mem(vScaleMem).l(kScaleOff).l(vScaleOff)
                    .l(kv.scalePageStride()).l(kv.scaleSlotStride()).l(kv.scaleHeadStride())
                    .i(kv.pageSize()).i(hq).i(problem.heads().groupSize()).i(dqk).i(dvo)
                    .f(qScale).f(opt.logitsSoftCap()).f(vScale).i(flags)
                    .i(opt.windowLeft())
                    .launch(session.queue(), serialGrid ? new long[] {hkv, schedule.unitCount()}
                                    : new long[] {(long) schedule.unitCount() * k.wg(), hkv},
                            serialGrid ? new long[] {1, 1} : new long[] {k.wg(), 1});
            if (schedule.mergeRowCount() > 0 && k.mergePerElement()) {
                int count = Math.multiplyExact(schedule.mergeRowCount() * hq, dvo);
                new KernelCall(k.merge(), "merge_splits_dims").mem(buf.tmpO()).mem(buf.tmpLse())
                        .mem(buf.mergeRows()).mem(sinks).mem(OpenClMemory.mem(o)).l(OpenClMemory.offset(o)).l(os[0]).l(os[1])
                        .mem(lseMem).l(lseOff).i(hq).i(dvo).i(flags)
                        .i(count).launch1d(session.queue(), count, session.group());
            } else if (schedule.mergeRowCount() > 0) {
                new KernelCall(k.merge(), "merge_splits").mem(buf.tmpO()).mem(buf.tmpLse()).mem(buf.mergeRows())
                        .mem(sinks).mem(OpenClMemory.mem(o)).l(OpenClMemory.offset(o)).l(os[0]).l(os[1]).mem(lseMem).l(lseOff)
                        .i(hq).i(dvo).i(flags).i(schedule.mergeRowCount() * hq)
                        .launch1d(session.queue(), (long) schedule.mergeRowCount() * hq, session.group());
            }
        }
    }

    /**
     * Whether the streaming decode may read 8-element vectors with aligned loads: the problem's
     * alignment covers 8 elements of both q's and the cache's dtype (the planned alignment is
     * kept by every run, validation sees to that).
     */
    private boolean vectorAligned(PagedKvCache kv) {
        int need = 8 * Math.max(problem.qDtype().byteSize(), problem.kvDtype().byteSize());
        return problem.alignment() >= need && kv.kSlotStride() % 8 == 0 && kv.kHeadStride() % 8 == 0;
    }

    /**
     * Whether every q row and every K and V row of this run starts on a multiple of {@code n}
     * elements (the tiled kernel loads 4-element vectors aligned at 4, the tensor kernel 16-byte
     * chunks at 8): offsets and strides checked on the run's own views, so a plan's later runs
     * may differ.
     */
    private static boolean rowsStartOn(int n, Tensor q, PagedKvCache kv) {
        long[] qs = q.strides();
        return OpenClMemory.offset(q) % n == 0 && qs[0] % n == 0 && qs[1] % n == 0
                && (kv.kOffset() + OpenClMemory.offset(kv.k())) % n == 0
                && (kv.vOffset() + OpenClMemory.offset(kv.v())) % n == 0
                && kv.kPageStride() % n == 0 && kv.kSlotStride() % n == 0 && kv.kHeadStride() % n == 0
                && kv.vPageStride() % n == 0 && kv.vSlotStride() % n == 0 && kv.vHeadStride() % n == 0;
    }

    /**
     * Whether this run's tiled part goes to the tensor kernel: the plan has one, q, K and V share
     * a 16-bit type, scales are scalars (folded into the logit and output factors) and every row
     * starts on 8 elements.
     */
    private boolean tensorRuns(Tensor q, PagedKvCache kv) {
        return layout.tensor != null && TensorTiles.acceptsTypes(q.dtype(), kv.dtype()) && kv.scales().isScalar()
                && rowsStartOn(8, q, kv);
    }

    /** The tensor kernel for q, K and V of {@code type}, or null where its build allows too few work-items. */
    private synchronized Resolved resolveTensor(DType type) {
        String key = "tensor/" + type;
        if (kernels.containsKey(key)) {
            return kernels.get(key);
        }
        TensorTiles t = layout.tensor;
        String defines = t.defines(type, session.tensorEmulated());
        Resolved r = null;
        try {
            cl_kernel attention = session.kernel("attention_mma.cl", "attention", defines);
            if (kernelWorkGroupSize(attention) >= t.wg()) {
                r = new Resolved(attention, session.kernel("attention_mma.cl", "merge_splits_dims", defines), t.wg(),
                        true);
            }
        } catch (BackendException e) {
            // A driver whose compiler rejects the inline PTX (an older PTX version, say) keeps the
            // tiled kernel, which computes the same units.
            LOG.log(System.Logger.Level.WARNING, "the tensor kernel does not build on {0}; the tiled kernel runs "
                    + "instead: {1}", session.deviceInfo().name(), e.getMessage());
        }
        kernels.put(key, r);
        return r;
    }

    /** Builds (once per dtype pair) the kernels, shrinking the work-group if the device demands it. */
    private synchronized Resolved resolve(boolean streaming, DType qType, DType kvType, boolean aligned) {
        String key = (streaming ? "stream/" : "") + (aligned ? "aligned/" : "") + qType + "/" + kvType;
        Resolved r = kernels.get(key);
        if (r != null) {
            return r;
        }
        if (streaming) {
            return resolveStream(key, qType, kvType, aligned);
        }
        TileConfig t = layout.tiles;
        while (true) {
            String defines = "-DQT=" + OpenClTypes.code(qType) + " -DKVT=" + OpenClTypes.code(kvType) + " "
                    + t.defines() + " -DALIGNED4=" + (aligned ? 1 : 0);
            cl_kernel attention = session.kernel("attention.cl", "attention", defines);
            long allowed = kernelWorkGroupSize(attention);
            if (t.serial() || allowed >= t.wg()) {
                // A GPU merges one output element per work-item, a CPU one row per work-item.
                r = new Resolved(attention, session.kernel("attention.cl", t.serial() ? "merge_splits"
                        : "merge_splits_dims", defines), t.wg(), !t.serial());
                kernels.put(key, r);
                return r;
            }
            // A build may allow fewer work-items than the device's maximum (registers): fewer
            // keys per step until it fits; the schedule's units keep their items.
            TileConfig next = t.smaller();
            if (next == null) {
                throw new BackendException(OpenClBackendProvider.ID, "attention: the device allows " + allowed
                        + " work-items per group for this build, the smallest tiles need " + t.wg());
            }
            t = next;
        }
    }

    private Resolved resolveStream(String key, DType qType, DType kvType, boolean aligned) {
        DecodeStreamConfig s = layout.stream;
        while (true) {
            boolean ring = s.ringRuns(kvType, aligned);
            String defines = "-DQT=" + OpenClTypes.code(qType) + " -DKVT=" + OpenClTypes.code(kvType) + " "
                    + s.defines(ring) + " -DALIGNED8=" + (aligned ? 1 : 0);
            cl_kernel attention;
            try {
                attention = session.kernel("decode_stream.cl", "decode_stream", defines);
            } catch (BackendException e) {
                if (!ring) {
                    throw e;
                }
                // A driver whose compiler rejects the ring's inline PTX keeps the loads in registers.
                LOG.log(System.Logger.Level.WARNING, "the streaming decode's ring does not build on {0}; its loads "
                        + "go a step ahead in registers instead: {1}", session.deviceInfo().name(), e.getMessage());
                s = s.withoutRing();
                continue;
            }
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
        return layout.total;
    }

    @Override
    public String describe() {
        StringJoiner text = new StringJoiner("; ", "opencl attention: ", "");
        text.setEmptyValue("opencl attention: nothing to compute");
        for (Part part : layout.parts) {
            text.add(part.schedule().describe() + ", " + (part.stream() ? layout.stream.describe()
                    : layout.tiles.describe() + (layout.tensor != null ? ", on Tensor Cores where a run allows" : "")));
        }
        return text.toString();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        synchronized (session) {
            subBuffers.forEach(session::release);
            subBuffers.clear();
            if (region != null) {
                session.arena().give(region);
            }
        }
    }
}
