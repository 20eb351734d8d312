package org.attn4j.opencl;

import static org.jocl.CL.*;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.attn4j.options.RopeOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/**
 * An OpenCL context and one in-order, profiling-enabled command queue on one device. Kernel
 * arguments live on shared kernel objects, so setting them and enqueueing happen under this
 * session's lock.
 */
public final class OpenClSession implements BackendSession {
    /** Host copies move at most this many bytes per CL call ({@link HostTensor}s may exceed 2 GiB). */
    private static final long COPY_CHUNK = 1L << 30;
    /** Heap-backed host tensors go through direct staging buffers of at most this size. */
    private static final long STAGING_CHUNK = 64L << 20;

    private static final Capabilities CAPABILITIES = new Capabilities(
            Set.of(DType.F32, DType.F16, DType.BF16),
            Set.of(DType.F32, DType.F16, DType.BF16, DType.FP8_E4M3, DType.FP8_E5M2),
            1, 256, 1, Set.of(KvLayout.NHD, KvLayout.HND),
            EnumSet.complementOf(EnumSet.of(Feature.ZERO_COPY_HOST)));

    private final OpenClDevice device;
    private final cl_context context;
    private final cl_command_queue queue;
    private final OpenClPrograms programs;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final boolean serialKernel;
    private final boolean decodeStream;
    private final DecodeStreamConfig.Tuning streamTuning;
    /** Work-group size of the small 1-D kernels (merges, append, RoPE, split merge). */
    private final int group;

    /**
     * @param device the device
     * @param kernel attention kernel flavour: {@code tiled} (work-groups sharing local memory),
     *               {@code serial} (one work-item per unit, for CPUs), {@code decode-stream}
     *               (streaming decode where it applies, tiled for the rest) or null/{@code auto}
     *               (serial on CPU devices; decode-stream elsewhere, which reads decode K/V about
     *               3x faster than the tiled kernel on an H200)
     */
    OpenClSession(OpenClDevice device, String kernel) {
        this(device, kernel, DecodeStreamConfig.Tuning.AUTO);
    }

    /** As above, with the streaming decode's measured overrides. */
    OpenClSession(OpenClDevice device, String kernel, DecodeStreamConfig.Tuning streamTuning) {
        this.device = device;
        this.streamTuning = streamTuning;
        String mode = kernel == null ? "auto" : kernel.trim().toLowerCase(java.util.Locale.ROOT);
        boolean cpu = !device.gpu() && device.type().equals("CPU");
        this.serialKernel = switch (mode) {
            case "serial" -> true;
            case "tiled", "decode-stream", "stream" -> false;
            case "auto", "" -> cpu;
            default -> throw new IllegalArgumentException(
                    "opencl option kernel: expected auto, tiled, serial or decode-stream, actual '" + kernel + "'");
        };
        this.decodeStream = switch (mode) {
            case "decode-stream", "stream" -> true;
            case "auto", "" -> !cpu;
            default -> false;
        };
        setExceptionsEnabled(true);
        cl_device_id[] devices = {device.device()};
        this.context = ClCalls.call("clCreateContext(" + device.name() + ")",
                () -> clCreateContext(null, 1, devices, null, null, null));
        @SuppressWarnings("deprecation")
        cl_command_queue q = ClCalls.call("clCreateCommandQueue(profiling)",
                () -> clCreateCommandQueue(context, device.device(), CL_QUEUE_PROFILING_ENABLE, null));
        this.queue = q;
        this.programs = new OpenClPrograms(context, device.device(), device.correctDivide());
        this.group = (int) Math.min(64, Long.highestOneBit(Math.max(1, device.maxWorkGroupSize())));
    }

    @Override
    public String backendId() {
        return OpenClBackendProvider.ID;
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public String device() {
        return device.name() + " (" + device.type() + ", " + device.platformName() + ")";
    }

    /** Whether attention runs the serial (CPU) kernel rather than the tiled one. */
    boolean serialKernel() {
        return serialKernel;
    }

    /** Whether decode problems the streaming kernel accepts run it (the default off CPUs). */
    boolean decodeStream() {
        return decodeStream;
    }

    DecodeStreamConfig.Tuning streamTuning() {
        return streamTuning;
    }

    int group() {
        return group;
    }

    OpenClDevice deviceInfo() {
        return device;
    }

    cl_command_queue queue() {
        return queue;
    }

    cl_kernel kernel(String resource, String name, String defines) {
        return programs.kernel(resource, name, defines);
    }

    // ------------------------------------------------------------------ memory

    @Override
    public Tensor allocate(DType dtype, long[] shape) {
        long bytes = Math.multiplyExact(org.attn4j.tensor.Shapes.elementCount(shape), (long) dtype.byteSize());
        long bufferBytes = Math.max(4, (bytes + 3) & ~3L);
        cl_mem mem = newBuffer(bufferBytes, "allocate " + dtype + " " + java.util.Arrays.toString(shape));
        return new OpenClTensor(this, dtype, shape, mem, bufferBytes);
    }

    /** A zero-filled device buffer of {@code bytes} (a multiple of 4). */
    cl_mem newBuffer(long bytes, String what) {
        cl_mem mem = ClCalls.call("clCreateBuffer(" + bytes + " bytes, " + what + ")",
                () -> clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, null, null));
        try {
            ClCalls.call("clEnqueueFillBuffer(" + bytes + " bytes)", () -> {
                clEnqueueFillBuffer(queue, mem, Pointer.to(new int[] {0}), Sizeof.cl_int, 0, bytes, 0, null, null);
            });
        } catch (RuntimeException e) {
            clReleaseMemObject(mem);
            throw e;
        }
        return mem;
    }

    /** A read-only buffer holding {@code data} (at least 4 bytes, so empty arrays work). */
    cl_mem constants(ByteBuffer data, String what) {
        long n = data.remaining();
        if (n == 0) {
            return newBuffer(4, what);
        }
        return ClCalls.call("clCreateBuffer(" + n + " bytes, " + what + ")",
                () -> clCreateBuffer(context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n, Pointer.to(data), null));
    }

    cl_mem ints(int[] values, String what) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
        b.asIntBuffer().put(values);
        return constants(b, what);
    }

    cl_mem longs(long[] values, String what) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 8).order(ByteOrder.nativeOrder());
        b.asLongBuffer().put(values);
        return constants(b, what);
    }

    cl_mem floats(float[] values, String what) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(values);
        return constants(b, what);
    }

    cl_mem bytes(byte[] values, String what) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length);
        b.put(values).flip();
        return constants(b, what);
    }

    static void release(cl_mem mem) {
        if (mem != null) {
            ClCalls.call("clReleaseMemObject", () -> {
                clReleaseMemObject(mem);
            });
        }
    }

    @Override
    public void copyFromHost(HostTensor src, Tensor dst) {
        cl_mem mem = mem(dst);
        MemorySegment seg = src.segment();
        long total = src.byteSize();
        long chunk = seg.isNative() ? COPY_CHUNK : STAGING_CHUNK;
        for (long off = 0; off < total; off += chunk) {
            long n = Math.min(chunk, total - off);
            ByteBuffer bb = hostBuffer(seg, off, n);
            if (!seg.isNative()) {
                MemorySegment.copy(seg, off, MemorySegment.ofBuffer(bb), 0, n);
            }
            long at = off;
            ClCalls.call("clEnqueueWriteBuffer(" + n + " bytes at " + at + ")", () -> {
                clEnqueueWriteBuffer(queue, mem, CL_TRUE, at, n, Pointer.to(bb), 0, null, null);
            });
        }
    }

    @Override
    public void copyToHost(Tensor src, HostTensor dst) {
        cl_mem mem = mem(src);
        MemorySegment seg = dst.segment();
        long total = dst.byteSize();
        long chunk = seg.isNative() ? COPY_CHUNK : STAGING_CHUNK;
        for (long off = 0; off < total; off += chunk) {
            long n = Math.min(chunk, total - off);
            ByteBuffer bb = hostBuffer(seg, off, n);
            long at = off;
            ClCalls.call("clEnqueueReadBuffer(" + n + " bytes at " + at + ")", () -> {
                clEnqueueReadBuffer(queue, mem, CL_TRUE, at, n, Pointer.to(bb), 0, null, null);
            });
            if (!seg.isNative()) {
                MemorySegment.copy(MemorySegment.ofBuffer(bb), 0, seg, off, n);
            }
        }
    }

    /**
     * The bytes {@code [off, off + n)} of a native segment as a direct buffer; for a heap segment
     * (any Java array, which JOCL cannot address as bytes) a direct staging buffer of n bytes.
     */
    private static ByteBuffer hostBuffer(MemorySegment seg, long off, long n) {
        return seg.isNative() ? seg.asSlice(off, n).asByteBuffer() : ByteBuffer.allocateDirect((int) n);
    }

    @Override
    public boolean owns(Tensor t) {
        return t instanceof OpenClTensor ct && ct.session() == this;
    }

    static cl_mem mem(Tensor t) {
        return ((OpenClTensor) t).mem();
    }

    @Override
    public void synchronize() {
        ClCalls.call("clFinish", () -> {
            clFinish(queue);
        });
    }

    @Override
    public DeviceTimer newTimer() {
        return new OpenClTimer(queue);
    }

    // ------------------------------------------------------------------ attention

    @Override
    public KernelPlan plan(AttentionProblem problem) {
        return new OpenClAttentionPlan(this, problem);
    }

    // ------------------------------------------------------------------ states

    @Override
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        mergePair(oA, sA, oB, sB, o, s, null);
    }

    @Override
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        mergePair(o, s, oOther, sOther, o, s, rowMask);
    }

    private void mergePair(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s, boolean[] rowMask) {
        int rows = Math.toIntExact(oA.dim(0));
        int hq = Math.toIntExact(oA.dim(1));
        int d = Math.toIntExact(oA.dim(2));
        cl_mem maskMem = null;
        if (rowMask != null) {
            byte[] m = new byte[rowMask.length];
            for (int i = 0; i < m.length; i++) {
                m[i] = (byte) (rowMask[i] ? 1 : 0);
            }
            maskMem = bytes(m, "merge row mask");
        }
        try {
            cl_kernel k = kernel("merge.cl", "merge_pair", "-DOT=" + OpenClTypes.code(oA.dtype()));
            synchronized (this) {
                new KernelCall(k, "merge_pair").mem(mem(oA)).mem(mem(sA)).mem(mem(oB)).mem(mem(sB)).mem(mem(o))
                        .mem(mem(s)).mem(maskMem != null ? maskMem : mem(s)).i(maskMem != null ? 1 : 0).i(hq).i(d)
                        .i(rows * hq).launch1d(queue, (long) rows * hq, group);
            }
        } finally {
            release(maskMem);
        }
    }

    @Override
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        int rows = Math.toIntExact(v.dim(0));
        int n = Math.toIntExact(v.dim(1));
        int hq = Math.toIntExact(v.dim(2));
        int d = Math.toIntExact(v.dim(3));
        cl_kernel k = kernel("merge.cl", "merge_many", "-DOT=" + OpenClTypes.code(v.dtype()));
        synchronized (this) {
            new KernelCall(k, "merge_many").mem(mem(v)).mem(mem(s)).mem(mem(o)).mem(mem(sOut)).i(n).i(hq).i(d)
                    .i(rows * hq).launch1d(queue, (long) rows * hq, group);
        }
    }

    // ------------------------------------------------------------------ KV and positions

    @Override
    public void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache,
                              PageTable table) {
        int n = batchIndices.length;
        if (n == 0) {
            return;
        }
        DType src = k.dtype();
        DType dst = cache.dtype();
        String defines = src == dst ? "-DSAME_TYPE=1 -DBITS=" + OpenClTypes.bitsType(src)
                : "-DSAME_TYPE=0 -DST=" + OpenClTypes.code(src) + " -DCT=" + OpenClTypes.code(dst);
        cl_kernel kernel = kernel("append.cl", "append_kv", defines);
        cl_mem bi = ints(batchIndices, "append batchIndices");
        cl_mem pos = ints(positions, "append positions");
        cl_mem indptr = ints(table.indptr(), "append kvIndptr");
        cl_mem indices = ints(table.indices(), "append kvIndices");
        try {
            synchronized (this) {
                new KernelCall(kernel, "append_kv").mem(mem(k)).mem(mem(v)).mem(mem(cache.k())).mem(mem(cache.v()))
                        .l(cache.kOffset()).l(cache.vOffset()).l(cache.pageStride()).l(cache.slotStride())
                        .l(cache.headStride()).mem(bi).mem(pos).mem(indptr).mem(indices).i(cache.pageSize())
                        .i(cache.numKvHeads()).i(cache.headDim()).f(cache.scales().k()).f(cache.scales().v())
                        .i(n * cache.numKvHeads()).launch1d(queue, (long) n * cache.numKvHeads(), group);
            }
        } finally {
            release(bi);
            release(pos);
            release(indptr);
            release(indices);
        }
    }

    @Override
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        int n = positions.length;
        int d = Math.toIntExact(q.dim(2));
        if (n == 0 || d < 2) {
            return;
        }
        double[] freq = rope.frequencies(d);
        int half = d / 2;
        float[] table = new float[n * half * 2];
        for (int t = 0; t < n; t++) {
            for (int p = 0; p < half; p++) {
                double a = positions[t] * freq[p];
                table[(t * half + p) * 2] = (float) Math.cos(a);
                table[(t * half + p) * 2 + 1] = (float) Math.sin(a);
            }
        }
        cl_mem cs = floats(table, "rope angles");
        try {
            rope(q, cs, d, rope.interleaved());
            if (k != null) {
                rope(k, cs, d, rope.interleaved());
            }
        } finally {
            release(cs);
        }
    }

    private void rope(Tensor x, cl_mem cs, int d, boolean interleaved) {
        int n = Math.toIntExact(x.dim(0));
        int heads = Math.toIntExact(x.dim(1));
        cl_kernel k = kernel("rope.cl", "rope_inplace", "-DT=" + OpenClTypes.code(x.dtype()));
        synchronized (this) {
            new KernelCall(k, "rope_inplace").mem(mem(x)).mem(cs).i(heads).i(d).i(interleaved ? 1 : 0)
                    .i(n * heads * (d / 2)).launch1d(queue, (long) n * heads * (d / 2), group);
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                clFinish(queue);
            } finally {
                programs.close();
                clReleaseCommandQueue(queue);
                clReleaseContext(context);
            }
        }
    }

    @Override
    public String toString() {
        return "OpenClSession[" + device.describe() + "]";
    }
}
