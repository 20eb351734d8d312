package org.attn4j.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.attn4j.cuda.driver.DeviceContext;
import org.attn4j.cuda.driver.DeviceInfo;
import org.attn4j.error.BackendException;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.GraphRecorder;
import org.attn4j.spi.KernelGraph;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.MlaKernelPlan;
import org.attn4j.spi.MlaProblem;
import org.attn4j.spi.RegionArena;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Shapes;
import org.attn4j.tensor.Tensor;

/**
 * The CUDA backend on one device: its context, stream (its own or the caller's), kernels,
 * tensors, and an arena of device memory that plans and calls take their schedules from, filled
 * by copies that do not wait (through page-locked memory). After warm-up, planning and running
 * allocate nothing and wait for nothing.
 */
final class CudaSession implements BackendSession {
    /** Host copies move in pieces below the 2 GiB a ByteBuffer can view. */
    private static final long COPY_PIECE = 1L << 30;
    /** Where arena regions start: the widest vector any kernel reads from them. */
    static final long ARENA_ALIGNMENT = 256;

    private final DeviceContext context;
    private final CudaKernelSettings kernelSettings;
    private final CudaKernels kernels;
    private final RegionArena<Long> arena;
    private final long fault;
    private final Map<String, RegionArena.Region<Long>> ropeFrequencies = new ConcurrentHashMap<>();
    private volatile boolean closed;
    /** Whether a graph capture is under way: nothing may be uploaded or allocated then. */
    private volatile boolean capturing;

    CudaSession(DeviceContext context, CudaKernelSettings kernelSettings) {
        this.context = context;
        this.kernelSettings = kernelSettings;
        try {
            this.kernels = new CudaKernels(context);
            this.arena = new RegionArena<>(context::malloc, ARENA_ALIGNMENT, 4L << 20);
            this.fault = context.malloc(16);
            context.memsetAsync(fault, (byte) 0, 16);
        } catch (RuntimeException e) {
            context.close();
            throw e;
        }
    }

    DeviceContext context() {
        return context;
    }

    /** The kernels this backend's plans may choose, as its options set them when it opened. */
    CudaKernelSettings kernelSettings() {
        return kernelSettings;
    }

    DeviceInfo deviceInfo() {
        return context.device();
    }

    CudaKernels kernels() {
        return kernels;
    }

    RegionArena<Long> arena() {
        return arena;
    }

    long fault() {
        return fault;
    }

    static long address(Tensor t) {
        return CudaMemory.address(t);
    }

    @Override
    public String backendId() {
        return CudaBackendProvider.ID;
    }

    @Override
    public Capabilities capabilities() {
        return CudaBackendProvider.CAPABILITIES;
    }

    @Override
    public String device() {
        return context.device().describe();
    }

    // ---- memory

    @Override
    public Tensor allocate(DType dtype, long[] shape) {
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        if (bytes > context.device().totalMemory()) {
            throw new BackendException(backendId(), "cannot allocate " + bytes + " bytes for " + dtype + " "
                    + java.util.Arrays.toString(shape) + ": the device has " + context.device().totalMemory()
                    + " bytes");
        }
        CudaMemory m = CudaMemory.allocate(this, bytes);
        context.memsetAsync(m.baseAddress(), (byte) 0, bytes);
        return BackendTensor.root(m, dtype, shape);
    }

    @Override
    public Tensor wrap(ExternalMemory memory, DType dtype, long[] shape) {
        ExternalMemory.CudaDevicePointer p = (ExternalMemory.CudaDevicePointer) memory;
        long[] range = context.allocationOf(p.address());
        if (range == null) {
            throw new InvalidArgumentException("memory", "0x" + Long.toHexString(p.address()) + " is not device "
                    + "memory of this backend's context (device " + context.device().ordinal() + ", primary context)");
        }
        long end = range[0] + range[1];
        if (p.capacityBytes() > end - p.address()) {
            throw InvalidArgumentException.expected("memory.capacityBytes", "at most the " + (end - p.address())
                    + " bytes left in its allocation", p.capacityBytes());
        }
        return BackendTensor.root(CudaMemory.borrow(this, p.address(), p.capacityBytes()), dtype, shape);
    }

    @Override
    public void copyFromHost(HostTensor src, Tensor dst) {
        MemorySegment seg = src.segment();
        for (long off = 0; off < seg.byteSize(); off += COPY_PIECE) {
            long n = Math.min(COPY_PIECE, seg.byteSize() - off);
            context.copyToDevice(address(dst) + off, seg.asSlice(off, n).asByteBuffer());
        }
    }

    @Override
    public void copyFromHostAsync(HostTensor src, Tensor dst) {
        MemorySegment seg = src.segment();
        for (long off = 0; off < seg.byteSize(); off += COPY_PIECE) {
            long n = Math.min(COPY_PIECE, seg.byteSize() - off);
            context.copyToDeviceAsync(address(dst) + off, seg.asSlice(off, n).asByteBuffer());
        }
    }

    @Override
    public void copyToHost(Tensor src, HostTensor dst) {
        MemorySegment seg = dst.segment();
        for (long off = 0; off < seg.byteSize(); off += COPY_PIECE) {
            long n = Math.min(COPY_PIECE, seg.byteSize() - off);
            context.copyToHost(seg.asSlice(off, n).asByteBuffer(), address(src) + off);
        }
        reportFault();
    }

    @Override
    public boolean owns(Tensor t) {
        return t instanceof BackendTensor bt && bt.memory() instanceof CudaMemory m && m.session() == this;
    }

    @Override
    public void synchronize() {
        context.synchronize();
        reportFault();
    }

    /** Reads and clears the fault word (after the stream is idle); throws the first fault a kernel recorded. */
    private void reportFault() {
        ByteBuffer f = ByteBuffer.allocateDirect(16).order(ByteOrder.LITTLE_ENDIAN);
        context.copyToHost(f, fault);
        int code = f.getInt(0);
        if (code == 0) {
            return;
        }
        context.memsetAsync(fault, (byte) 0, 16);
        throw new BackendException(backendId(), org.attn4j.spi.DeviceFaults.describe(code, f.getInt(4), f.getInt(8)));
    }

    @Override
    public DeviceTimer newTimer() {
        return new CudaTimer(context);
    }

    @Override
    public long deviceAllocations() {
        return context.allocations();
    }

    @Override
    public Map<String, Long> nativeHandles() {
        return Map.of("stream", context.streamHandle(), "context", context.contextHandle(), "device",
                (long) context.device().ordinal());
    }

    // ---- arena uploads

    /**
     * Small host arrays in device memory for the work queued next, each copied without waiting
     * into an arena region. Close it once that work is queued: the regions go back to the arena,
     * and the in-order stream runs any later copy into them after that work.
     */
    final class Transient implements AutoCloseable {
        private final List<RegionArena.Region<Long>> regions = new ArrayList<>(4);

        long bytes(ByteBuffer data) {
            RegionArena.Region<Long> r = arena.take(data.remaining());
            regions.add(r);
            long a = r.chunk() + r.offset();
            context.copyToDeviceAsync(a, data);
            return a;
        }

        long ints(int[] values) {
            return bytes(CudaPlanLayout.ints(values));
        }

        @Override
        public void close() {
            regions.forEach(arena::give);
        }
    }

    // ---- attention

    @Override
    public long workspaceBytes(AttentionProblem problem) {
        return problem.qDtype().isFp8() ? CudaFp8QueryPlan.workspaceBytes(this, problem)
                : CudaAttentionPlan.workspaceBytes(this, problem);
    }

    @Override
    public KernelPlan plan(AttentionProblem problem) {
        return problem.qDtype().isFp8() ? new CudaFp8QueryPlan(this, problem) : new CudaAttentionPlan(this, problem);
    }

    @Override
    public MlaKernelPlan planMla(MlaProblem problem) {
        return new CudaMlaPlan(this, problem);
    }

    // ---- states

    @Override
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        mergeState(oA, sA, oB, sB, o, s, 0);
    }

    private void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s, long rowMask) {
        long rows = oA.dim(0);
        int hq = (int) oA.dim(1);
        int d = (int) oA.dim(2);
        if (rows * hq == 0) {
            return;
        }
        kernels.get("merge_state_" + CudaDtypes.suffix(oA.dtype())).launch(Math.toIntExact(rows * hq), 1,
                blockFor(d), 0, address(oA), address(sA), address(oB), address(sB), address(o), address(s), rowMask,
                hq, d);
    }

    @Override
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        if (rowMask == null) {
            mergeState(o, s, oOther, sOther, o, s, 0);
            return;
        }
        byte[] m = new byte[rowMask.length];
        for (int i = 0; i < m.length; i++) {
            m[i] = (byte) (rowMask[i] ? 1 : 0);
        }
        try (Transient tmp = new Transient()) {
            mergeState(o, s, oOther, sOther, o, s, tmp.bytes(ByteBuffer.wrap(m)));
        }
    }

    @Override
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        long rows = v.dim(0);
        int n = (int) v.dim(1);
        int hq = (int) v.dim(2);
        int d = (int) v.dim(3);
        if (rows * hq == 0) {
            return;
        }
        kernels.get("merge_states_" + CudaDtypes.suffix(v.dtype())).launch(Math.toIntExact(rows * hq), 1,
                blockFor(d), 0, address(v), address(s), address(o), address(sOut), n, hq, d);
    }

    private static int blockFor(int d) {
        return Math.max(32, Math.min(256, (d + 31) / 32 * 32));
    }

    // ---- KV and positions

    @Override
    public void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache,
                              PageTable table) {
        int n = batchIndices.length;
        if (n == 0) {
            return;
        }
        try (Transient tmp = new Transient()) {
            append(k, v, tmp.ints(batchIndices), tmp.ints(positions), tmp.ints(table.indptr()),
                    tmp.ints(table.indices()), 0, table.batchSize(), table.totalPages(), cache, n, false);
        }
    }

    @Override
    public void appendPagedKv(Tensor k, Tensor v, Tensor batchIndices, Tensor positions, PagedKvCache cache,
                              DevicePageTable table) {
        int n = Math.toIntExact(k.dim(0));
        if (n == 0) {
            return;
        }
        append(k, v, address(batchIndices), address(positions), address(table.indptr()), address(table.indices()),
                address(table.lastPageLen()), table.batchSize(), table.capacity(), cache, n, true);
    }

    private void append(Tensor k, Tensor v, long bi, long pos, long indptr, long indices, long last, int batch,
                        int capacity, PagedKvCache cache, int n, boolean checked) {
        long[] ks = k.strides();
        long[] vs = v.strides();
        // Per-head scales are read, per-token ones computed and written by the kernel (spec §5).
        KvScales s = cache.scales();
        byte[] params = new StructWriter(256)
                .ptr(address(k)).ptr(address(v)).ptr(bi).ptr(pos).ptr(indptr).ptr(indices).ptr(last).ptr(fault)
                .ptr(address(cache.k())).ptr(address(cache.v()))
                .i64(cache.kOffset()).i64(cache.vOffset()).i64(cache.kPageStride()).i64(cache.kSlotStride())
                .i64(cache.kHeadStride()).i64(cache.vPageStride()).i64(cache.vSlotStride()).i64(cache.vHeadStride())
                .i64(ks[0]).i64(ks[1]).i64(vs[0]).i64(vs[1])
                .ptr(s.isScalar() ? 0 : address(s.kTensor())).ptr(s.isScalar() ? 0 : address(s.vTensor()))
                .i64(cache.scalePageStride()).i64(cache.scaleSlotStride()).i64(cache.scaleHeadStride())
                .i32(cache.numKvHeads()).i32(cache.kHeadDim()).i32(cache.pageSize()).i32(checked ? 1 : 0)
                .i32(batch).i32(capacity).i32(cache.numPages()).i32(cache.vHeadDim())
                .f32(s.isScalar() ? s.k() : 1f).f32(s.isScalar() ? s.v() : 1f)
                .bytes();
        String name = "append_" + CudaDtypes.suffix(k.dtype()) + "_" + CudaDtypes.suffix(cache.dtype());
        int block = blockFor(Math.max(cache.kHeadDim(), cache.vHeadDim()));
        kernels.get(name).launch(Math.multiplyExact(n, cache.numKvHeads()), 1, block, 0, params);
    }

    @Override
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        if (positions.length == 0) {
            return;
        }
        try (Transient tmp = new Transient()) {
            rope(q, k, tmp.ints(positions), rope);
        }
    }

    @Override
    public void applyRope(Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        if (q.dim(0) == 0) {
            return;
        }
        rope(q, k, address(positions), rope);
    }

    private void rope(Tensor q, Tensor k, long positions, RopeOptions rope) {
        int d = (int) q.dim(2);
        long freq = ropeFrequencies(rope, d);
        int interleaved = rope.interleaved() ? 1 : 0;
        // Only the first R dims have pairs; the kernel never touches the rest (partial rotary).
        int rotated = rope.rotatedDims(d);
        rope(q, positions, freq, rotated, interleaved);
        if (k != null) {
            rope(k, positions, freq, rotated, interleaved);
        }
    }

    /** The double frequencies of {@code rope} at head dim {@code d}, uploaded once per session. */
    long ropeFrequencies(RopeOptions rope, int d) {
        String key = rope + "/" + d;
        if (capturing && !ropeFrequencies.containsKey(key)) {
            throw new InvalidArgumentException("rope", "these RoPE options' frequencies are uploaded at their first "
                    + "use, which a graph capture cannot record; use them once before capturing");
        }
        RegionArena.Region<Long> r = ropeFrequencies.computeIfAbsent(key, k -> {
            double[] f = rope.frequencies(d);
            ByteBuffer fb = ByteBuffer.allocate(8 * Math.max(1, f.length)).order(ByteOrder.LITTLE_ENDIAN);
            for (double x : f) {
                fb.putDouble(x);
            }
            RegionArena.Region<Long> region = arena.take(fb.capacity());
            context.copyToDeviceAsync(region.chunk() + region.offset(), fb.flip());
            return region;
        });
        return r.chunk() + r.offset();
    }

    private void rope(Tensor x, long pos, long freq, int rotaryDim, int interleaved) {
        int heads = (int) x.dim(1);
        long blocks = x.dim(0) * heads;
        if (blocks == 0) {
            return;
        }
        long[] st = x.strides();
        kernels.get("rope_" + CudaDtypes.suffix(x.dtype())).launch(Math.toIntExact(blocks), 1,
                Math.max(32, Math.min(128, (rotaryDim / 2 + 31) / 32 * 32)), 0, address(x), st[0], st[1], pos, freq,
                fault, heads, rotaryDim, interleaved);
    }

    // ---- graphs

    @Override
    public GraphRecorder beginCapture() {
        context.beginCapture();
        capturing = true;
        return new GraphRecorder() {
            @Override
            public KernelGraph end() {
                capturing = false;
                Object exec = context.endCapture();
                return new KernelGraph() {
                    @Override
                    public void launch() {
                        context.launchGraph(exec);
                    }

                    @Override
                    public void close() {
                        context.destroyGraph(exec);
                    }
                };
            }

            @Override
            public void abort() {
                capturing = false;
                context.abortCapture();
            }
        };
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            context.synchronize();
            kernels.close();
            for (long chunk : arena.chunks()) {
                context.free(chunk);
            }
            context.free(fault);
        } finally {
            context.close();
        }
    }
}
