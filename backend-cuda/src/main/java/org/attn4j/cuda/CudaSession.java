package org.attn4j.cuda;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.attn4j.options.RopeOptions;
import org.attn4j.cuda.driver.DeviceContext;
import org.attn4j.cuda.driver.DeviceInfo;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Shapes;
import org.attn4j.tensor.Tensor;

/** The CUDA backend on one device: its context, stream, kernels and tensors. */
final class CudaSession implements BackendSession {
    /** Host copies move in pieces below the 2 GiB a ByteBuffer can view. */
    private static final long COPY_PIECE = 1L << 30;

    private final DeviceContext context;
    private final CudaKernels kernels;
    private volatile boolean closed;

    CudaSession(DeviceContext context) {
        this.context = context;
        try {
            this.kernels = new CudaKernels(context);
        } catch (RuntimeException e) {
            context.close();
            throw e;
        }
    }

    DeviceContext context() {
        return context;
    }

    DeviceInfo deviceInfo() {
        return context.device();
    }

    CudaKernels kernels() {
        return kernels;
    }

    long address(Tensor t) {
        return ((CudaTensor) t).address();
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

    @Override
    public Tensor allocate(DType dtype, long[] shape) {
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        DeviceMemory m = new DeviceMemory(context, bytes);
        try {
            context.memsetAsync(m.address(), (byte) 0, bytes);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return new CudaTensor(this, dtype, shape, m);
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
    public void copyToHost(Tensor src, HostTensor dst) {
        MemorySegment seg = dst.segment();
        for (long off = 0; off < seg.byteSize(); off += COPY_PIECE) {
            long n = Math.min(COPY_PIECE, seg.byteSize() - off);
            context.copyToHost(seg.asSlice(off, n).asByteBuffer(), address(src) + off);
        }
    }

    @Override
    public boolean owns(Tensor t) {
        return t instanceof CudaTensor c && c.owner() == this;
    }

    @Override
    public void synchronize() {
        context.synchronize();
    }

    @Override
    public DeviceTimer newTimer() {
        return new CudaTimer(context);
    }

    @Override
    public KernelPlan plan(AttentionProblem problem) {
        return new CudaAttentionPlan(this, problem);
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
        try (DeviceMemory mask = new DeviceMemory(context, Math.max(1, m.length))) {
            context.copyToDevice(mask.address(), ByteBuffer.wrap(m));
            mergeState(o, s, oOther, sOther, o, s, mask.address());
            context.synchronize(); // the mask is freed next
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
        try (DeviceMemory bi = upload(batchIndices); DeviceMemory pos = upload(positions);
             DeviceMemory indptr = upload(table.indptr()); DeviceMemory indices = upload(table.indices())) {
            byte[] params = new StructWriter(160)
                    .ptr(address(k)).ptr(address(v)).ptr(bi.address()).ptr(pos.address())
                    .ptr(indptr.address()).ptr(indices.address()).ptr(address(cache.k())).ptr(address(cache.v()))
                    .i64(cache.kOffset()).i64(cache.vOffset()).i64(cache.pageStride()).i64(cache.slotStride())
                    .i64(cache.headStride())
                    .i32(cache.numKvHeads()).i32(cache.headDim()).i32(cache.pageSize()).i32(0)
                    .f32(cache.scales().k()).f32(cache.scales().v())
                    .bytes();
            String name = "append_" + CudaDtypes.suffix(k.dtype()) + "_" + CudaDtypes.suffix(cache.dtype());
            kernels.get(name).launch(Math.multiplyExact(n, cache.numKvHeads()), 1, blockFor(cache.headDim()), 0,
                    params);
            context.synchronize(); // the index buffers are freed next
        }
    }

    @Override
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        int n = positions.length;
        if (n == 0) {
            return;
        }
        int d = (int) q.dim(2);
        double[] f = rope.frequencies(d);
        ByteBuffer fb = ByteBuffer.allocate(8 * Math.max(1, f.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : f) {
            fb.putDouble(x);
        }
        fb.rewind();
        try (DeviceMemory pos = upload(positions); DeviceMemory freq = new DeviceMemory(context, fb.remaining())) {
            context.copyToDevice(freq.address(), fb);
            int interleaved = rope.interleaved() ? 1 : 0;
            rope(q, pos, freq, d, interleaved);
            if (k != null) {
                rope(k, pos, freq, d, interleaved);
            }
            context.synchronize();
        }
    }

    private void rope(Tensor x, DeviceMemory pos, DeviceMemory freq, int d, int interleaved) {
        int heads = (int) x.dim(1);
        long blocks = x.dim(0) * heads;
        if (blocks == 0) {
            return;
        }
        kernels.get("rope_" + CudaDtypes.suffix(x.dtype())).launch(Math.toIntExact(blocks), 1,
                Math.max(32, Math.min(128, (d / 2 + 31) / 32 * 32)), 0, address(x), pos.address(), freq.address(),
                heads, d, interleaved);
    }

    private DeviceMemory upload(int[] values) {
        ByteBuffer b = ByteBuffer.allocate(4 * Math.max(1, values.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putInt(v);
        }
        b.rewind();
        DeviceMemory m = new DeviceMemory(context, b.remaining());
        try {
            context.copyToDevice(m.address(), b);
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
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
        } finally {
            context.close();
        }
    }
}
