package org.attn4j.cuda;

import org.attn4j.error.BackendException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.attn4j.options.AttentionOptions;
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
    /**
     * System property choosing the decode kernel: {@code auto} (the default: {@code mma} for GQA
     * groups of 2 to 8 heads, {@code stream} without grouping), {@code tc} (the Tensor Core
     * attention of mma.cuh, every dtype pair), {@code stream} (decode_stream.cuh) or {@code mma}
     * (decode_mma.cuh). The last two take K/V of q's type at head dims 64 and 128; other
     * problems run {@code tc}.
     */
    static final String DECODE_KERNEL_PROPERTY = "attn4j.cuda.decodeKernel";
    /**
     * System property choosing the prefill kernel: {@code wgmma} (the default:
     * prefill_wgmma.cuh on compute capability 9.0, fa2 elsewhere), {@code fa2}
     * (prefill_fa2.cuh) or {@code tc} (mma.cuh, every dtype pair). wgmma takes K/V of q's type at
     * head dims 64, 128 and 256, fa2 at 64 and 128; other problems run {@code tc}.
     */
    static final String PREFILL_KERNEL_PROPERTY = "attn4j.cuda.prefillKernel";
    /** Page ids of one chunk must fit beside the streaming kernel's rings. */
    private static final int STREAM_MAX_PAGE_BYTES = 32 * 1024;

    private final CudaSession session;
    private final AttentionProblem problem;
    /** The CUDA-core schedule, for every dtype pair and RoPE. */
    private final AttentionSchedule generic;
    /** The Tensor Core schedule (null with RoPE on the fly), used when K/V is q's type or FP8. */
    private final AttentionSchedule tensorCore;
    /** The streaming decode schedule (null when not chosen or not applicable). */
    private final AttentionSchedule stream;
    /** The kernel that runs the streaming schedule: {@code STREAM} or {@code MMA}. */
    private final DecodeKernel streamKernel;
    private final int streamSharedBytes;
    /** The query-tiled prefill schedule, FA2 or wgmma (null when not chosen or not applicable). */
    private final AttentionSchedule tiled;
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
    private final long tiledWork;
    private final long tiledMerge;
    private final long partialO;
    private final long partialLse;
    private boolean closed;

    CudaAttentionPlan(CudaSession session, AttentionProblem problem) {
        this.session = session;
        this.problem = problem;
        var info = session.deviceInfo();
        var sms = new AttentionSchedule.Device(info.multiprocessors(), info.maxSharedPerBlockOptin() + 1024);
        this.generic = AttentionSchedule.of(problem, AttentionSchedule.genericShape(problem), sms, 2);
        this.tensorCore = problem.options().rope() != null || problem.heads().headDim() % 16 != 0 ? null
                : AttentionSchedule.of(problem, AttentionSchedule.tensorCoreShape(problem), sms, 2);
        DecodeKernel wanted = streamKernelFor(problem);
        AttentionSchedule s = wanted == null ? null
                : AttentionSchedule.stream(problem, sms, wanted == DecodeKernel.MMA ? 2 : 3, streamWaves());
        int pageBytes = s == null ? 0 : streamPageBytes(problem, s);
        boolean fits = s != null && pageBytes <= STREAM_MAX_PAGE_BYTES;
        this.stream = fits ? s : null;
        this.streamKernel = fits ? wanted : null;
        this.streamSharedBytes = !fits ? 0 : pageBytes + (wanted == DecodeKernel.MMA
                ? BlockShape.mmaDecodeRingBytes(problem.heads().headDim()) : BlockShape.STREAM_RING_BYTES);
        BlockShape prefill = prefillShapeFor(problem, info.computeCapability());
        this.tiled = prefill == null ? null
                : AttentionSchedule.queryTiles(problem, prefill, sms, prefill == BlockShape.FA2_PREFILL ? 2 : 1);
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
            tiledWork = tiled == null ? 0 : upload(ints(tiled.work()));
            tiledMerge = tiled == null ? 0 : upload(ints(tiled.mergeRows()));
            long slots = Math.max(generic.partialSlots(), tensorCore == null ? 0 : tensorCore.partialSlots());
            slots = Math.max(slots, stream == null ? 0 : stream.partialSlots());
            slots = Math.max(slots, tiled == null ? 0 : tiled.partialSlots());
            partialO = slots == 0 ? 0 : allocate(slots * problem.heads().headDim() * 4);
            partialLse = slots == 0 ? 0 : allocate(slots * 4);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * System property: rounds of resident blocks the streaming decode grid aims at (default
     * {@value #DEFAULT_STREAM_WAVES}); more, shorter blocks shorten the tail, fewer pay less
     * start-up per byte. On an H200, 2 was best or within noise of it for both kernels on
     * decode-llama8b and decode-long (1, 2, 4 and 8 measured).
     */
    static final String STREAM_WAVES_PROPERTY = "attn4j.cuda.streamWaves";
    static final int DEFAULT_STREAM_WAVES = 2;

    private static int streamWaves() {
        String v = System.getProperty(STREAM_WAVES_PROPERTY);
        if (v == null || v.isBlank()) {
            return DEFAULT_STREAM_WAVES;
        }
        try {
            int w = Integer.parseInt(v.trim());
            if (w >= 1) {
                return w;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("system property " + STREAM_WAVES_PROPERTY + ": expected a positive"
                + " integer, actual '" + v + "'");
    }

    /** The decode kernels {@link #DECODE_KERNEL_PROPERTY} names. */
    enum DecodeKernel {
        AUTO("auto"), TC("tc"), STREAM("stream"), MMA("mma");

        final String id;

        DecodeKernel(String id) {
            this.id = id;
        }

        /** The kernel the system property names (read once per plan), or {@link #AUTO}. */
        static DecodeKernel fromProperty() {
            String v = System.getProperty(DECODE_KERNEL_PROPERTY);
            if (v == null || v.isBlank()) {
                return AUTO;
            }
            for (DecodeKernel k : values()) {
                if (k.id.equals(v.trim())) {
                    return k;
                }
            }
            throw new IllegalArgumentException("system property " + DECODE_KERNEL_PROPERTY + ": expected auto, tc,"
                    + " stream or mma, actual '" + v + "'");
        }
    }

    /**
     * The kernel that runs this plan's decode on the streaming schedule, or null: chosen by the
     * system property, for decode with no RoPE on the fly, head dim 64 or 128 and a group of at
     * most 8 heads. Dtypes are checked per run; a chunk's page ids must also fit in shared memory.
     */
    private static DecodeKernel streamKernelFor(AttentionProblem p) {
        DecodeKernel k = DecodeKernel.fromProperty();
        if (k == DecodeKernel.TC) {
            return null;
        }
        int d = p.heads().headDim();
        boolean fits = p.decode() && p.options().rope() == null && (d == 64 || d == 128)
                && p.heads().groupSize() <= BlockShape.STREAM_MAX_GROUP;
        if (!fits) {
            return null;
        }
        // On an H200 the Tensor Core kernel reads decode-llama8b (4 heads a group) at 2.9 TB/s
        // against 2.4-2.8 for the CUDA-core one, which wins without grouping (4.0 against 3.7).
        return k == DecodeKernel.AUTO ? (p.heads().groupSize() >= 2 ? DecodeKernel.MMA : DecodeKernel.STREAM) : k;
    }

    /**
     * The query-tiled prefill kernel (FA2 or wgmma) this plan may use, or null: chosen by the
     * system property (read here, once per plan), for prefill with no RoPE on the fly and head
     * dim 64 or 128. Dtypes and alignment are checked per run; every other case keeps the
     * kernels above.
     */
    private static BlockShape prefillShapeFor(AttentionProblem p, int computeCapability) {
        String v = System.getProperty(PREFILL_KERNEL_PROPERTY, "wgmma").trim();
        BlockShape shape = switch (v) {
            case "tc" -> null;
            case "fa2" -> BlockShape.FA2_PREFILL;
            case "wgmma", "" -> computeCapability == 90 ? BlockShape.WGMMA_PREFILL : BlockShape.FA2_PREFILL;
            default -> throw new IllegalArgumentException("system property " + PREFILL_KERNEL_PROPERTY
                    + ": expected tc, fa2 or wgmma, actual '" + v + "'");
        };
        int d = p.heads().headDim();
        boolean headDimOk = d == 64 || d == 128 || (d == 256 && shape == BlockShape.WGMMA_PREFILL);
        return shape != null && !p.decode() && p.options().rope() == null && headDimOk ? shape : null;
    }

    /** Shared memory for the page ids of the longest chunk the streaming schedule gives a block. */
    private static int streamPageBytes(AttentionProblem p, AttentionSchedule s) {
        int keys = s.splitChunk();
        if (keys == Integer.MAX_VALUE) {
            keys = 0;
            for (int len : p.pageTable().kvLens()) {
                keys = Math.max(keys, len);
            }
        }
        return 4 * BlockShape.streamPageSlots(keys, p.pageTable().pageSize());
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
        return tensorCore != null && sixteenBit(q) && (kv == q || kv.isFp8()) ? tensorCore : generic;
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
        boolean streaming = stream != null && kv.dtype() == q.dtype() && sixteenBit(q.dtype())
                && session.address(q) % 16 == 0;
        // FA2 reads q with 16-byte copies and writes o as pairs of elements.
        boolean useTiled = !streaming && tiled != null && kv.dtype() == q.dtype()
                && sixteenBit(q.dtype())
                && session.address(q) % 16 == 0 && session.address(o) % 4 == 0
                && (tiled.shape() == BlockShape.FA2_PREFILL || rowOffsetsFit(kv));
        AttentionSchedule schedule = useTiled ? tiled : streaming ? stream : scheduleFor(q.dtype(), kv.dtype());
        boolean tc = schedule == tensorCore;
        long workAddr = useTiled ? tiledWork : streaming ? streamWork : tc ? tcWork : genericWork;
        long mergeAddr = useTiled ? tiledMerge : streaming ? streamMerge : tc ? tcMerge : genericMerge;
        // Query-tiled prefill splits carry their chunk in the parameters (0: no split).
        int kvChunk = useTiled && tiled.splitChunk() != Integer.MAX_VALUE ? tiled.splitChunk() : 0;
        if (schedule.workItems() > 0) {
            requireVectorAligned(kv, schedule == generic ? 8 : 16);
            byte[] params = new StructWriter(256)
                    .ptr(session.address(q)).ptr(session.address(o)).ptr(lseAddr)
                    .ptr(session.address(kv.k())).ptr(session.address(kv.v()))
                    .i64(kv.kOffset()).i64(kv.vOffset()).i64(kv.pageStride()).i64(kv.slotStride()).i64(kv.headStride())
                    .ptr(qoIndptr).ptr(kvIndptr).ptr(kvIndices).ptr(kvLastPageLen).ptr(mask).ptr(maskOffsets)
                    .ptr(ropeFreq).ptr(workAddr).ptr(partialO).ptr(partialLse)
                    .i32(hq).i32(hkv).i32(d).i32(problem.heads().groupSize()).i32(kv.pageSize()).i32(pageShift(kv.pageSize()))
                    .f32(problem.smScale()).f32(kv.scales().k()).f32(kv.scales().v()).f32(opt.logitsSoftCap())
                    .i32(opt.causal() ? 1 : 0).i32(opt.windowLeft())
                    .i32(opt.rope() != null && opt.rope().interleaved() ? 1 : 0).i32(kvChunk)
                    .bytes();
            BlockShape shape = schedule.shape();
            String name = !streaming ? shape.kernel(qs, CudaDtypes.suffix(kv.dtype()), d)
                    : streamKernel == DecodeKernel.MMA ? BlockShape.mmaDecodeKernel(qs, d)
                    : BlockShape.streamKernel(qs, d, problem.heads().groupSize());
            int smem = streaming ? streamSharedBytes : shape.sharedBytes(d, kv.dtype().byteSize());
            int gridY = useTiled ? 1 : hkv; // query-tiled work items name their query head
            session.kernels().get(name, smem).launch(schedule.workItems(), gridY, shape.threads(d), smem, params);
        }
        if (schedule.mergedRows() > 0) {
            byte[] params = new StructWriter(64)
                    .ptr(partialO).ptr(partialLse).ptr(session.address(o)).ptr(lseAddr).ptr(mergeAddr)
                    .i32(hq).i32(hkv).i32(d).i32(problem.heads().groupSize())
                    .bytes();
            String merge = (streaming || useTiled ? "merge_stream_" : "merge_partials_") + qs;
            session.kernels().get(merge).launch(schedule.mergedRows(), hq, 128, 0, params);
        }
    }

    /** log2 of a power-of-two page size (kernels then shift and mask instead of dividing), else -1. */
    static int pageShift(int pageSize) {
        return Integer.bitCount(pageSize) == 1 ? Integer.numberOfTrailingZeros(pageSize) : -1;
    }

    /**
     * The wgmma kernel addresses key rows by 32-bit offsets in 16-byte units from the head's base,
     * which reach a pool of 64 GB (per K or V view); larger pools run the other kernels.
     */
    static boolean rowOffsetsFit(PagedKvCache kv) {
        long elements = (long) kv.numPages() * kv.pageStride();
        return elements / (16 / kv.dtype().byteSize()) < 0xFFFF_FFFFL;
    }

    /** The Tensor Core kernels' dtypes (F32 q runs the CUDA-core kernel). */
    private static boolean sixteenBit(DType t) {
        return t == DType.F16 || t == DType.BF16;
    }

    /**
     * The kernels read K and V rows as vectors of vectorBytes (16, the CUDA-core kernel 8); the
     * strides that head dims of the chosen kernel derive always allow it.
     */
    private static void requireVectorAligned(PagedKvCache kv, int vectorBytes) {
        int perVector = Math.max(1, vectorBytes / kv.dtype().byteSize());
        if (kv.kOffset() % perVector != 0 || kv.vOffset() % perVector != 0 || kv.pageStride() % perVector != 0) {
            throw new org.attn4j.error.BackendException(CudaBackendProvider.ID, "KV view offsets " + kv.kOffset() + ", "
                    + kv.vOffset() + " and page stride " + kv.pageStride() + " must be multiples of " + perVector
                    + " elements (" + vectorBytes + " bytes) for the CUDA kernels");
        }
    }

    @Override
    public long workspaceBytes() {
        return buffers.stream().mapToLong(DeviceMemory::bytes).sum();
    }

    @Override
    public String describe() {
        if (stream != null) {
            return describe(stream) + ", " + (streamKernel == DecodeKernel.MMA ? "Tensor Core" : "CUDA-core")
                    + " streaming kernel (when K/V is q's type; else " + describe(scheduleFor(DType.F16, DType.F16)) + ")";
        }
        if (tiled != null) {
            String split = tiled.splitChunk() == Integer.MAX_VALUE ? "no split" : "split chunk " + tiled.splitChunk();
            return "cuda " + tiled.shape() + ": " + tiled.workItems() + " work items (request, "
                    + tiled.shape().itemsPerBlock + "-row tile, query head, key split), " + split + ", "
                    + tiled.mergedRows() + " merged rows,"
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
