package org.attn4j.cuda;

import java.nio.ByteBuffer;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.RegionArena;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned batch attention. The plan decides the kernel from the problem (dtypes, head dim,
 * group, RoPE, alignment, the device) within the backend's {@link CudaKernelSettings}, builds its schedule on the host and writes it, with the
 * page table, mask and split-KV scratch, into one region of device memory (the session's arena,
 * or the caller's workspace) by a copy that does not wait. {@link #run} only queues launches: for
 * a device page table, the check that copies it into the plan's arrays; then the attention
 * kernel; then, for split requests, the merge. Nothing is allocated and nothing waits, so runs can
 * be captured in a CUDA graph.
 */
final class CudaAttentionPlan implements KernelPlan {
    /** Page ids of one chunk must fit beside the streaming kernel's rings. */
    private static final int STREAM_MAX_PAGE_BYTES = 32 * 1024;
    /** Every CUDA kernel reads K/V rows at least as 8-byte vectors. */
    static final int MIN_ALIGNMENT = 8;

    /** The kernel families a plan can choose. */
    enum Kernel { GENERIC, TENSOR_CORE, STREAM, MMA_DECODE, QUERY_TILED }

    private final CudaSession session;
    private final AttentionProblem problem;
    private final Choice choice;
    private final RegionArena.Region<Long> region;
    private final long base;
    private final long total;
    private boolean closed;

    /** The kernel, its schedule and (for wgmma) the Tensor Core fallback, with their layout. */
    private record Choice(Kernel kernel, AttentionSchedule schedule, AttentionSchedule fallback, int sharedBytes,
                          CudaPlanLayout layout, int qoIndptr, int kvIndptr, int kvIndices, int kvLast, int mask,
                          int maskOffsets, int work, int merge, int fallbackWork, int fallbackMerge, int partialO,
                          int partialLse, int sinks, int alibiSlopes) {}

    /** Bytes of caller workspace a plan of {@code problem} takes. */
    static long workspaceBytes(CudaSession session, AttentionProblem problem) {
        return choose(session, problem).layout().total();
    }

    CudaAttentionPlan(CudaSession session, AttentionProblem problem) {
        this(session, problem, workspaceBase(problem));
    }

    /**
     * A plan of {@code problem} whose arrays and scratch start at {@code callerBase} in a caller's
     * workspace, or in the session's arena when {@code callerBase} is 0.
     */
    CudaAttentionPlan(CudaSession session, AttentionProblem problem, long callerBase) {
        this.session = session;
        this.problem = problem;
        this.choice = choose(session, problem);
        CudaPlanLayout layout = choice.layout();
        this.total = layout.total();
        if (callerBase != 0) {
            this.region = null;
            this.base = callerBase;
        } else {
            this.region = session.arena().take(total);
            this.base = region.chunk() + region.offset();
        }
        session.context().copyToDeviceAsync(base, layout.upload());
    }

    /** Where {@code problem}'s caller workspace starts (checked aligned), or 0 without one. */
    static long workspaceBase(AttentionProblem problem) {
        Tensor ws = problem.plan().workspace();
        if (ws == null) {
            return 0;
        }
        long base = CudaSession.address(ws);
        if (base % CudaSession.ARENA_ALIGNMENT != 0) {
            throw new InvalidArgumentException("plan.workspace", "starts at 0x" + Long.toHexString(base)
                    + "; a CUDA workspace starts on a multiple of " + CudaSession.ARENA_ALIGNMENT + " bytes");
        }
        return base;
    }

    private static Choice choose(CudaSession session, AttentionProblem problem) {
        var info = session.deviceInfo();
        var sms = new AttentionSchedule.Device(info.multiprocessors(), info.maxSharedPerBlockOptin() + 1024);
        CudaKernelSettings settings = session.kernelSettings();
        Kernel kernel = kernelFor(problem, settings, info.computeCapability());
        AttentionSchedule schedule;
        AttentionSchedule fallback = null;
        int shared;
        // The streaming and query-tiled kernels take one head dim (kernelFor sends Dqk != Dvo to
        // the others); the Tensor Core and generic kernels size their tiles for both.
        int d = problem.heads().headDimQk();
        int dv = problem.heads().headDimVo();
        int kvBytes = problem.kvDtype().byteSize();
        switch (kernel) {
            case STREAM, MMA_DECODE -> {
                boolean mma = kernel == Kernel.MMA_DECODE;
                int ring = mma ? BlockShape.mmaDecodeRingBytes(d, kvBytes) : BlockShape.streamRingBytes(d);
                // Blocks one multiprocessor holds, by the ring each needs (page ids take little more).
                int resident = Math.clamp(sms.sharedPerSm() / (ring + 2048), 1, 3);
                schedule = AttentionSchedule.stream(problem, sms, resident, settings.streamWaves());
                int pages = streamPageBytes(problem, schedule);
                if (pages > STREAM_MAX_PAGE_BYTES || ring + pages > info.maxSharedPerBlockOptin()) {
                    kernel = Kernel.TENSOR_CORE;
                    schedule = AttentionSchedule.of(problem, AttentionSchedule.tensorCoreShape(problem), sms, 2);
                    shared = schedule.shape().sharedBytes(d, dv, kvBytes);
                } else {
                    shared = pages + ring;
                    fallback = tensorCoreFallback(problem, sms);
                }
            }
            case QUERY_TILED -> {
                BlockShape shape = prefillShape(settings, info.computeCapability(), d, kvBytes);
                schedule = AttentionSchedule.queryTiles(problem, shape, sms, shape == BlockShape.FA2_PREFILL ? 2 : 1);
                shared = shape.sharedBytes(d, kvBytes);
                fallback = tensorCoreFallback(problem, sms);
            }
            case TENSOR_CORE -> {
                schedule = AttentionSchedule.of(problem, AttentionSchedule.tensorCoreShape(problem), sms, 2);
                shared = schedule.shape().sharedBytes(d, dv, kvBytes);
            }
            default -> {
                schedule = AttentionSchedule.of(problem, AttentionSchedule.genericShape(problem), sms, 2);
                shared = schedule.shape().sharedBytes(d, dv, kvBytes);
            }
        }
        CudaPlanLayout l = new CudaPlanLayout(CudaSession.ARENA_ALIGNMENT);
        int batch = problem.batchSize();
        DevicePageTable dt = problem.deviceTable();
        int qoIndptr = l.add(CudaPlanLayout.ints(problem.qoIndptr()));
        int kvIndptr = l.add(dt == null ? CudaPlanLayout.ints(problem.pageTable().indptr())
                : ByteBuffer.allocate(4 * (batch + 1)));
        int kvIndices = l.add(dt == null ? CudaPlanLayout.ints(problem.pageTable().indices())
                : ByteBuffer.allocate(4 * dt.capacity()));
        int kvLast = l.add(dt == null ? CudaPlanLayout.ints(problem.pageTable().lastPageLen())
                : ByteBuffer.allocate(4 * batch));
        int mask = l.add(ByteBuffer.wrap(problem.mask() == null ? new byte[0] : problem.mask().packed()));
        int maskOffsets = l.add(CudaPlanLayout.longs(problem.maskOffsets() == null ? new long[0]
                : problem.maskOffsets()));
        int work = l.add(CudaPlanLayout.ints(schedule.work()));
        int merge = l.add(CudaPlanLayout.ints(schedule.mergeRows()));
        int fallbackWork = -1;
        int fallbackMerge = -1;
        long slots = schedule.partialSlots();
        if (fallback != null) {
            fallbackWork = l.add(CudaPlanLayout.ints(fallback.work()));
            fallbackMerge = l.add(CudaPlanLayout.ints(fallback.mergeRows()));
            slots = Math.max(slots, fallback.partialSlots());
        }
        // One float per query head each; the kernels read them only when their pointer is set.
        AttentionOptions opt = problem.options();
        int sinks = opt.sinks() == null ? -1 : l.add(CudaPlanLayout.floats(opt.sinks().logits()));
        int alibiSlopes = opt.alibiSlopes() == null ? -1 : l.add(CudaPlanLayout.floats(opt.alibiSlopes().slopes()));
        int partialO = l.scratch(slots * dv * 4);
        int partialLse = l.scratch(slots * 4);
        return new Choice(kernel, schedule, fallback, shared, l, qoIndptr, kvIndptr, kvIndices, kvLast, mask,
                maskOffsets, work, merge, fallbackWork, fallbackMerge, partialO, partialLse, sinks, alibiSlopes);
    }

    /**
     * The Tensor Core schedule the streaming and query-tiled kernels give way to at run time (see
     * {@link #needsFallback}).
     */
    private static AttentionSchedule tensorCoreFallback(AttentionProblem problem, AttentionSchedule.Device sms) {
        return AttentionSchedule.of(problem, AttentionSchedule.tensorCoreShape(problem), sms, 2);
    }

    /**
     * Whether the chosen kernel cannot run this cache and the plan's fallback must: per-token KV
     * scales (known only when a cache is run; the query-tiled kernels apply scalar and per-head
     * ones alone, the Tensor Core decode all three, and the streaming decode never meets them, as
     * it takes no FP8 cache), V pages that stride differently from K's, and, for wgmma, pools past
     * its 32-bit row offsets.
     */
    private boolean needsFallback(PagedKvCache kv) {
        if (choice.fallback() == null) {
            return false;
        }
        boolean wgmma = choice.kernel() == Kernel.QUERY_TILED && choice.schedule().shape().wgmma();
        boolean perToken = kv.scales().mode() == KvScaleMode.PER_TOKEN && choice.kernel() != Kernel.MMA_DECODE;
        return perToken || kv.kPageStride() != kv.vPageStride()
                || (wgmma && !rowOffsetsFit(kv));
    }

    /** The kernel family for the problem's dtypes, head dim, group, RoPE and alignment, within the settings. */
    static Kernel kernelFor(AttentionProblem p, CudaKernelSettings settings, int computeCapability) {
        DType q = p.qDtype();
        DType kv = p.kvDtype();
        int d = p.heads().headDimQk();
        int dv = p.heads().headDimVo();
        boolean rope = p.options().rope() != null;
        boolean sixteen = q == DType.F16 || q == DType.BF16;
        boolean vectors16 = p.alignment() >= 16;
        // The streaming decode and query-tiled prefill kernels read K and V rows of one head dim.
        boolean oneHeadDim = d == dv;
        if (p.decode() && !rope && sixteen && vectors16 && oneHeadDim) {
            CudaKernelSettings.DecodeKernel k = settings.decode();
            int group = p.heads().groupSize();
            boolean streamFits = BlockShape.streamHeadDim(d) && group <= BlockShape.streamMaxGroup(d) && kv == q;
            boolean mmaFits = BlockShape.mmaDecodeHeadDim(d) && group <= BlockShape.TC_DECODE.itemsPerBlock
                    && (kv == q || kv.isFp8());
            switch (k) {
                case STREAM -> {
                    if (streamFits) {
                        return Kernel.STREAM;
                    }
                }
                case MMA -> {
                    if (mmaFits) {
                        return Kernel.MMA_DECODE;
                    }
                }
                case AUTO -> {
                    // On an H200 the Tensor Core kernel reads decode-llama8b (4 heads a group) at 2.9
                    // TB/s against 2.4-2.8 for the CUDA-core one, which wins without grouping (4.0
                    // against 3.7) at the head dims where it was measured faster (streamAutoHeadDim).
                    if (streamFits && group == 1 && BlockShape.streamAutoHeadDim(d)) {
                        return Kernel.STREAM;
                    }
                    if (mmaFits) {
                        return Kernel.MMA_DECODE;
                    }
                }
                case TC -> { }
            }
        } else if (!p.decode() && oneHeadDim) {
            CudaKernelSettings.PrefillKernel k = settings.prefill();
            boolean wgmma = k == CudaKernelSettings.PrefillKernel.WGMMA && computeCapability == 90;
            boolean typesOk = kv == q || (wgmma && kv.isFp8());
            boolean headDimOk = wgmma ? BlockShape.wgmmaHeadDim(d, kv.isFp8()) : d == 64 || d == 128;
            if (k != CudaKernelSettings.PrefillKernel.TC && !rope && headDimOk && typesOk && sixteen && vectors16) {
                return Kernel.QUERY_TILED;
            }
        }
        if (!rope && d % 16 == 0 && dv % 16 == 0 && sixteen && (kv == q || kv.isFp8()) && vectors16) {
            return Kernel.TENSOR_CORE;
        }
        return Kernel.GENERIC;
    }

    private static BlockShape prefillShape(CudaKernelSettings settings, int computeCapability, int headDim,
                                           int kvBytes) {
        return settings.prefill() == CudaKernelSettings.PrefillKernel.WGMMA && computeCapability == 90
                ? BlockShape.wgmma(headDim, kvBytes) : BlockShape.FA2_PREFILL;
    }

    /** Shared memory for the page ids of the longest chunk the streaming schedule gives a block. */
    private static int streamPageBytes(AttentionProblem p, AttentionSchedule s) {
        int keys = s.splitChunk();
        if (keys == Integer.MAX_VALUE) {
            keys = 0;
            for (int len : p.kvLens()) {
                keys = Math.max(keys, len);
            }
        }
        return 4 * BlockShape.streamPageSlots(keys, p.pageSize());
    }

    private long at(int index) {
        return base + choice.layout().offset(index);
    }

    @Override
    public void run(Tensor q, PagedKvCache kv, Tensor o, Tensor lse) {
        if (closed) {
            throw new IllegalStateException("plan is closed");
        }
        if (problem.deviceResident()) {
            checkDeviceTable(kv.numPages());
        }
        KvScales scales = kv.scales();
        boolean fallback = needsFallback(kv);
        AttentionSchedule schedule = fallback ? choice.fallback() : choice.schedule();
        Kernel kernel = fallback ? Kernel.TENSOR_CORE : choice.kernel();
        long workAddr = at(fallback ? choice.fallbackWork() : choice.work());
        long mergeAddr = at(fallback ? choice.fallbackMerge() : choice.merge());
        int d = problem.heads().headDimQk();
        int dv = problem.heads().headDimVo();
        int hq = problem.heads().numQoHeads();
        int hkv = problem.heads().numKvHeads();
        AttentionOptions opt = problem.options();
        long lseAddr = lse == null ? 0 : CudaSession.address(lse);
        String qs = CudaDtypes.suffix(q.dtype());
        boolean tiled = kernel == Kernel.QUERY_TILED;
        boolean streaming = kernel == Kernel.STREAM || kernel == Kernel.MMA_DECODE;
        // Query-tiled prefill splits carry their chunk in the parameters (0: no split).
        int kvChunk = tiled && schedule.splitChunk() != Integer.MAX_VALUE ? schedule.splitChunk() : 0;
        long[] qst = q.strides();
        long[] ost = o.strides();
        long ropeFreq = opt.rope() == null ? 0 : session.ropeFrequencies(opt.rope(), d);
        long sinksAddr = choice.sinks() < 0 ? 0 : at(choice.sinks());
        if (schedule.workItems() > 0) {
            byte[] params = new StructWriter(320)
                    .ptr(CudaSession.address(q)).ptr(CudaSession.address(o)).ptr(lseAddr)
                    .ptr(CudaSession.address(kv.k())).ptr(CudaSession.address(kv.v()))
                    .i64(kv.kOffset()).i64(kv.vOffset()).i64(kv.kPageStride()).i64(kv.kSlotStride())
                    .i64(kv.kHeadStride()).i64(kv.vPageStride()).i64(kv.vSlotStride()).i64(kv.vHeadStride())
                    .i64(qst[0]).i64(qst[1]).i64(ost[0]).i64(ost[1])
                    .ptr(at(choice.qoIndptr())).ptr(at(choice.kvIndptr())).ptr(at(choice.kvIndices()))
                    .ptr(at(choice.kvLast())).ptr(problem.mask() == null ? 0 : at(choice.mask()))
                    .ptr(problem.mask() == null ? 0 : at(choice.maskOffsets()))
                    .ptr(ropeFreq).ptr(workAddr).ptr(at(choice.partialO())).ptr(at(choice.partialLse()))
                    .ptr(sinksAddr).ptr(choice.alibiSlopes() < 0 ? 0 : at(choice.alibiSlopes()))
                    .ptr(scales.isScalar() ? 0 : CudaSession.address(scales.kTensor()))
                    .ptr(scales.isScalar() ? 0 : CudaSession.address(scales.vTensor()))
                    .i64(kv.scalePageStride()).i64(kv.scaleSlotStride()).i64(kv.scaleHeadStride())
                    .i32(hq).i32(hkv).i32(d).i32(problem.heads().groupSize()).i32(kv.pageSize())
                    .i32(pageShift(kv.pageSize()))
                    .f32(problem.smScale()).f32(scales.isScalar() ? scales.k() : 1f)
                    .f32(scales.isScalar() ? scales.v() : 1f).f32(opt.logitsSoftCap())
                    .i32(opt.causal() ? 1 : 0).i32(opt.windowLeft())
                    .i32(opt.rope() != null && opt.rope().interleaved() ? 1 : 0)
                    .i32(opt.rope() != null ? opt.rope().rotatedDims(d) : d).i32(dv).i32(kvChunk)
                    .bytes();
            BlockShape shape = schedule.shape();
            String name = switch (kernel) {
                case MMA_DECODE -> BlockShape.mmaDecodeKernel(qs, CudaDtypes.suffix(kv.dtype()), d);
                case STREAM -> BlockShape.streamKernel(qs, d, problem.heads().groupSize());
                default -> shape.kernel(qs, CudaDtypes.suffix(kv.dtype()), Math.max(d, dv));
            };
            int smem = fallback ? shape.sharedBytes(d, dv, kv.dtype().byteSize()) : choice.sharedBytes();
            int gridY = tiled ? 1 : hkv; // query-tiled work items name their query head
            session.kernels().get(name, smem).launch(schedule.workItems(), gridY, shape.threads(Math.max(d, dv)), smem,
                    params);
        }
        if (schedule.mergedRows() > 0) {
            byte[] params = new StructWriter(80)
                    .ptr(at(choice.partialO())).ptr(at(choice.partialLse())).ptr(CudaSession.address(o)).ptr(lseAddr)
                    .ptr(mergeAddr).ptr(sinksAddr).i64(ost[0]).i64(ost[1])
                    .i32(hq).i32(hkv).i32(dv).i32(problem.heads().groupSize())
                    .bytes();
            String merge = (streaming || tiled ? "merge_stream_" : "merge_partials_") + qs;
            session.kernels().get(merge).launch(schedule.mergedRows(), hq, 128, 0, params);
        }
    }

    /** Threads of check_page_table's one block (TABLE_THREADS in kv/kvops.cuh). */
    static final int TABLE_THREADS = 1024;

    /** Copies the device page table into the plan's arrays, checking every value (check_page_table). */
    private void checkDeviceTable(int numPages) {
        DevicePageTable t = problem.deviceTable();
        session.kernels().get("check_page_table").launch(1, 1, TABLE_THREADS, 0, CudaSession.address(t.indptr()),
                CudaSession.address(t.indices()), CudaSession.address(t.lastPageLen()), at(choice.kvIndptr()),
                at(choice.kvIndices()), at(choice.kvLast()), session.fault(), t.batchSize(), t.capacity(),
                t.pageSize(), t.maxKvLen(), numPages);
    }

    /** log2 of a power-of-two page size (kernels then shift and mask instead of dividing), else -1. */
    static int pageShift(int pageSize) {
        return Integer.bitCount(pageSize) == 1 ? Integer.numberOfTrailingZeros(pageSize) : -1;
    }

    /**
     * The wgmma kernel addresses key rows by 32-bit offsets in 16-byte units from the head's base,
     * which reach a pool of 64 GB (per K or V view); larger pools run the Tensor Core kernel.
     */
    static boolean rowOffsetsFit(PagedKvCache kv) {
        long elements = (long) kv.numPages() * Math.max(kv.kPageStride(), kv.vPageStride());
        return elements / (16 / kv.dtype().byteSize()) < 0xFFFF_FFFFL;
    }

    @Override
    public long workspaceBytes() {
        return total;
    }

    @Override
    public String describe() {
        AttentionSchedule s = choice.schedule();
        String split = s.splitChunk() == Integer.MAX_VALUE ? "no split" : "split chunk " + s.splitChunk();
        String kernel = switch (choice.kernel()) {
            case MMA_DECODE -> "Tensor Core streaming decode";
            case STREAM -> "CUDA-core streaming decode";
            case QUERY_TILED -> s.shape().wgmma() ? "wgmma prefill" : "FA2 prefill";
            case TENSOR_CORE -> "Tensor Core attention";
            case GENERIC -> "CUDA-core attention";
        };
        return "cuda " + kernel + " (" + s.shape() + "): " + s.workItems() + " work items, "
                + s.shape().itemsPerBlock + " items per block, " + split + ", " + s.mergedRows() + " merged rows, "
                + total + " bytes of " + (region == null ? "caller workspace" : "arena");
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (region != null) {
            session.arena().give(region);
        }
    }
}
