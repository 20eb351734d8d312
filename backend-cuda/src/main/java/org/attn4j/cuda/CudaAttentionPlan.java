package org.attn4j.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.attn4j.AttentionOptions;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned batch attention: page table, mask, RoPE frequencies, the block schedule and the
 * split-KV workspace live on the device from planning on, so {@link #run} only queues one or two
 * kernel launches (no allocation, no host wait) and can be captured in a CUDA graph.
 */
final class CudaAttentionPlan implements KernelPlan {
    /** System property choosing the decode kernel: {@code stream} opts into decode_stream.cuh. */
    static final String DECODE_KERNEL_PROPERTY = "attn4j.cuda.decodeKernel";
    /** System property choosing the prefill kernel: {@code fa2} opts into prefill_fa2.cuh. */
    static final String PREFILL_KERNEL_PROPERTY = "attn4j.cuda.prefillKernel";
    /** Page ids of one chunk must fit beside the streaming kernel's rings. */
    private static final int STREAM_MAX_PAGE_BYTES = 32 * 1024;

    private final CudaSession session;
    private final AttentionProblem problem;
    /** The CUDA-core schedule, for every dtype pair and RoPE. */
    private final AttentionSchedule generic;
    /** The Tensor Core schedule (null with RoPE on the fly), used when K/V is q's type or FP8. */
    private final AttentionSchedule tensorCore;
    /** The streaming decode schedule (opt-in; null when not chosen or not applicable). */
    private final AttentionSchedule stream;
    private final int streamSharedBytes;
    /** The FA2 prefill schedule (opt-in; null when not chosen or not applicable). */
    private final AttentionSchedule fa2;
    private final List<DeviceMemory> buffers = new ArrayList<>();
    private final long qoIndptr;
    private final long kvIndptr;
    private final long kvIndices;
    private final long kvLastPageLen;
    private final long mask;
    private final long maskOffsets;
    private final long ropeFreq;
    private final long genericWork;
    private final long genericMerge;
    private final long tcWork;
    private final long tcMerge;
    private final long streamWork;
    private final long streamMerge;
    private final long fa2Work;
    private final long partialO;
    private final long partialLse;
    private boolean closed;

    CudaAttentionPlan(CudaSession session, AttentionProblem problem) {
        this.session = session;
        this.problem = problem;
        var info = session.deviceInfo();
        var sms = new AttentionSchedule.Device(info.multiprocessors(), info.maxSharedPerBlockOptin() + 1024);
        this.generic = AttentionSchedule.of(problem, AttentionSchedule.genericShape(problem), sms, 2);
        this.tensorCore = problem.options().rope() != null ? null
                : AttentionSchedule.of(problem, AttentionSchedule.tensorCoreShape(problem), sms, 2);
        AttentionSchedule s = streamWanted(problem) ? AttentionSchedule.of(problem, BlockShape.STREAM_DECODE, sms, 2) : null;
        int shared = s == null ? 0 : streamShared(problem, s);
        boolean fits = shared - BlockShape.STREAM_RING_BYTES <= STREAM_MAX_PAGE_BYTES;
        this.stream = fits ? s : null;
        this.streamSharedBytes = fits ? shared : 0;
        this.fa2 = fa2Wanted(problem) ? AttentionSchedule.fa2(problem) : null;
        try {
            PageTable t = problem.pageTable();
            qoIndptr = upload(ints(problem.qoIndptr()));
            kvIndptr = upload(ints(t.indptr()));
            kvIndices = upload(ints(t.indices()));
            kvLastPageLen = upload(ints(t.lastPageLen()));
            if (problem.mask() != null) {
                mask = upload(ByteBuffer.wrap(problem.mask().packed()));
                ByteBuffer off = ByteBuffer.allocate(8 * problem.maskOffsets().length).order(ByteOrder.LITTLE_ENDIAN);
                for (long o : problem.maskOffsets()) {
                    off.putLong(o);
                }
                maskOffsets = upload(off.flip());
            } else {
                mask = 0;
                maskOffsets = 0;
            }
            AttentionOptions o = problem.options();
            if (o.rope() != null) {
                double[] f = o.rope().frequencies(problem.heads().headDim());
                ByteBuffer fb = ByteBuffer.allocate(8 * f.length).order(ByteOrder.LITTLE_ENDIAN);
                for (double x : f) {
                    fb.putDouble(x);
                }
                ropeFreq = upload(fb.flip());
            } else {
                ropeFreq = 0;
            }
            genericWork = upload(ints(generic.work()));
            genericMerge = upload(ints(generic.mergeRows()));
            tcWork = tensorCore == null ? 0 : upload(ints(tensorCore.work()));
            tcMerge = tensorCore == null ? 0 : upload(ints(tensorCore.mergeRows()));
            streamWork = stream == null ? 0 : upload(ints(stream.work()));
            streamMerge = stream == null ? 0 : upload(ints(stream.mergeRows()));
            fa2Work = fa2 == null ? 0 : upload(ints(fa2.work()));
            long slots = Math.max(generic.partialSlots(), tensorCore == null ? 0 : tensorCore.partialSlots());
            slots = Math.max(slots, stream == null ? 0 : stream.partialSlots());
            partialO = slots == 0 ? 0 : allocate(slots * problem.heads().headDim() * 4);
            partialLse = slots == 0 ? 0 : allocate(slots * 4);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Whether this plan may use the streaming decode kernel: opted into by the system property
     * (read here, once per plan), decode, no RoPE on the fly, head dim 64 or 128, a group of at
     * most 8 heads, and a chunk's page ids fitting in shared memory. Dtypes are checked per run.
     */
    private static boolean streamWanted(AttentionProblem p) {
        if (!"stream".equals(System.getProperty(DECODE_KERNEL_PROPERTY))) {
            return false;
        }
        int d = p.heads().headDim();
        return p.decode() && p.options().rope() == null && (d == 64 || d == 128)
                && p.heads().groupSize() <= BlockShape.STREAM_MAX_GROUP;
    }

    /**
     * Whether this plan may use the FA2 prefill kernel: opted into by the system property (read
     * here, once per plan), not decode, no RoPE on the fly, head dim 64 or 128. Dtypes and
     * alignment are checked per run; every other case keeps the kernels above.
     */
    private static boolean fa2Wanted(AttentionProblem p) {
        if (!"fa2".equals(System.getProperty(PREFILL_KERNEL_PROPERTY))) {
            return false;
        }
        int d = p.heads().headDim();
        return !p.decode() && p.options().rope() == null && (d == 64 || d == 128);
    }

    private static int streamShared(AttentionProblem p, AttentionSchedule s) {
        int keys = s.splitChunk();
        if (keys == Integer.MAX_VALUE) {
            keys = 0;
            for (int len : p.pageTable().kvLens()) {
                keys = Math.max(keys, len);
            }
        }
        return BlockShape.streamSharedBytes(keys, p.pageTable().pageSize());
    }

    private static ByteBuffer ints(int[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putInt(v);
        }
        return b.flip();
    }

    private long allocate(long bytes) {
        DeviceMemory m = new DeviceMemory(session.context(), bytes);
        buffers.add(m);
        return m.address();
    }

    private long upload(ByteBuffer data) {
        long a = allocate(Math.max(4, data.remaining()));
        session.context().copyToDevice(a, data);
        return a;
    }

    /** Tensor Cores multiply in q's type: K/V must be that type or FP8 (which converts exactly). */
    private AttentionSchedule scheduleFor(DType q, DType kv) {
        return tensorCore != null && (kv == q || kv.isFp8()) ? tensorCore : generic;
    }

    @Override
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        if (closed) {
            throw new IllegalStateException("plan is closed");
        }
        int d = problem.heads().headDim();
        int hq = problem.heads().numQoHeads();
        int hkv = problem.heads().numKvHeads();
        AttentionOptions opt = problem.options();
        long lseAddr = lse == null ? 0 : session.address(lse);
        String qs = CudaDtypes.suffix(q.dtype());
        boolean streaming = stream != null && kv.dtype() == q.dtype()
                && session.address(q) % 16 == 0;
        // FA2 reads q with 16-byte copies and writes o as pairs of elements.
        boolean useFa2 = !streaming && fa2 != null && kv.dtype() == q.dtype()
                && (q.dtype() == DType.BF16 || q.dtype() == DType.F16)
                && session.address(q) % 16 == 0 && session.address(o) % 4 == 0;
        AttentionSchedule schedule = useFa2 ? fa2 : streaming ? stream : scheduleFor(q.dtype(), kv.dtype());
        boolean tc = schedule == tensorCore;
        long workAddr = useFa2 ? fa2Work : streaming ? streamWork : tc ? tcWork : genericWork;
        long mergeAddr = streaming ? streamMerge : tc ? tcMerge : genericMerge;
        if (schedule.workItems() > 0) {
            requireVectorAligned(kv);
            byte[] params = new StructWriter(256)
                    .ptr(session.address(q)).ptr(session.address(o)).ptr(lseAddr)
                    .ptr(session.address(kv.k())).ptr(session.address(kv.v()))
                    .i64(kv.kOffset()).i64(kv.vOffset()).i64(kv.pageStride()).i64(kv.slotStride()).i64(kv.headStride())
                    .ptr(qoIndptr).ptr(kvIndptr).ptr(kvIndices).ptr(kvLastPageLen).ptr(mask).ptr(maskOffsets)
                    .ptr(ropeFreq).ptr(workAddr).ptr(partialO).ptr(partialLse)
                    .i32(hq).i32(hkv).i32(d).i32(problem.heads().groupSize()).i32(kv.pageSize()).i32(pageShift(kv.pageSize()))
                    .f32(problem.smScale()).f32(kv.scales().k()).f32(kv.scales().v()).f32(opt.logitsSoftCap())
                    .i32(opt.causal() ? 1 : 0).i32(opt.windowLeft())
                    .i32(opt.rope() != null && opt.rope().interleaved() ? 1 : 0).i32(0)
                    .bytes();
            BlockShape shape = schedule.shape();
            String name = streaming ? BlockShape.streamKernel(qs, d, problem.heads().groupSize())
                    : shape.kernel(qs, CudaDtypes.suffix(kv.dtype()), d);
            int smem = streaming ? streamSharedBytes : shape.sharedBytes(d, kv.dtype().byteSize());
            int gridY = useFa2 ? 1 : hkv; // FA2 work items name their query head
            session.kernels().get(name, smem).launch(schedule.workItems(), gridY, shape.threads(d), smem, params);
        }
        if (schedule.mergedRows() > 0) {
            byte[] params = new StructWriter(64)
                    .ptr(partialO).ptr(partialLse).ptr(session.address(o)).ptr(lseAddr).ptr(mergeAddr)
                    .i32(hq).i32(hkv).i32(d).i32(problem.heads().groupSize())
                    .bytes();
            String merge = (streaming ? "merge_stream_" : "merge_partials_") + qs;
            session.kernels().get(merge).launch(schedule.mergedRows(), hq, 128, 0, params);
        }
    }

    /** log2 of a power-of-two page size (kernels then shift and mask instead of dividing), else -1. */
    static int pageShift(int pageSize) {
        return Integer.bitCount(pageSize) == 1 ? Integer.numberOfTrailingZeros(pageSize) : -1;
    }

    /** The kernel reads K and V rows as 16-byte vectors; strides derived from D always allow it. */
    private static void requireVectorAligned(PagedKvCache kv) {
        int perVector = 16 / kv.dtype().byteSize();
        if (kv.kOffset() % perVector != 0 || kv.vOffset() % perVector != 0 || kv.pageStride() % perVector != 0) {
            throw new org.attn4j.BackendException(CudaBackendProvider.ID, "KV view offsets " + kv.kOffset() + ", "
                    + kv.vOffset() + " and page stride " + kv.pageStride() + " must be multiples of " + perVector
                    + " elements (16 bytes) for the CUDA kernels");
        }
    }

    @Override
    public long workspaceBytes() {
        return buffers.stream().mapToLong(DeviceMemory::bytes).sum();
    }

    @Override
    public String describe() {
        if (stream != null) {
            return describe(stream) + " (when K/V is q's type)";
        }
        if (fa2 != null) {
            return "cuda FA2 prefill: " + fa2.workItems() + " work items (request, 64-row tile, query head),"
                    + " longest first (when K/V is q's type; else " + describe(scheduleFor(DType.F16, DType.F16)) + ")";
        }
        return tensorCore == null ? describe(generic) : describe(tensorCore) + " (CUDA-core fallback: "
                + describe(generic) + ")";
    }

    private String describe(AttentionSchedule s) {
        String split = s.splitChunk() == Integer.MAX_VALUE ? "no split" : "split chunk " + s.splitChunk();
        return "cuda " + s.shape() + ": " + s.workItems() + " work items x " + problem.heads().numKvHeads()
                + " KV heads, " + s.shape().itemsPerBlock + " query items per block, " + split + ", "
                + s.mergedRows() + " merged rows";
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (DeviceMemory m : buffers) {
            m.close();
        }
        buffers.clear();
    }
}
