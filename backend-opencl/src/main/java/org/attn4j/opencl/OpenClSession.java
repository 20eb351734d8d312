package org.attn4j.opencl;

import static org.jocl.CL.*;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.attn4j.error.BackendException;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.MlaKernelPlan;
import org.attn4j.spi.MlaProblem;
import org.attn4j.spi.NativeHandles;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Shapes;
import org.attn4j.tensor.Tensor;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/**
 * An OpenCL context and one in-order command queue on one device: the session's own, or the
 * caller's ({@code BackendOptions.withHandle("queue", ...)}), whose context and device it then
 * uses. Kernel arguments live on shared kernel objects, so setting them and enqueueing happen
 * under this session's lock. Plans take their device memory from an arena and upload without
 * waiting; only host copies, {@link #synchronize} and timers wait.
 *
 * <p>Safe for concurrent use: every call that enqueues work or creates or releases a memory
 * object takes the session's lock (launches also share kernel objects). OpenCL 1.2 calls these
 * thread-safe, but NVIDIA's driver crashed inside clEnqueueWriteBuffer while other threads
 * planned, ran and closed plans on the same queue, so one session makes them one at a time.
 */
final class OpenClSession implements BackendSession {
    /** Host copies move at most this many bytes per CL call ({@link HostTensor}s may exceed 2 GiB). */
    private static final long COPY_CHUNK = 1L << 30;
    /** Heap-backed host tensors go through direct staging buffers of at most this size. */
    private static final long STAGING_CHUNK = 64L << 20;
    /**
     * The zero pattern of every fill, in native memory that lives as long as the class and is never
     * written: a Java array passed to a native call is valid only during the call, and a driver
     * may still read a non-blocking fill's pattern after it returns.
     */
    private static final ByteBuffer ZERO_PATTERN = ByteBuffer.allocateDirect(Sizeof.cl_int);

    /**
     * Every feature but zero-copy host memory and graph capture; sinks and ALiBi in every kernel
     * flavour; distinct q/k and v/o head dims in the tiled and serial kernels (the plan keeps them
     * off the streaming decode).
     */
    private static final Capabilities CAPABILITIES = new Capabilities(
            Set.of(DType.F32, DType.F16, DType.BF16),
            Set.of(DType.F32, DType.F16, DType.BF16, DType.FP8_E4M3, DType.FP8_E5M2),
            1, 256, 1, Set.of(KvLayout.NHD, KvLayout.HND),
            EnumSet.complementOf(EnumSet.of(Feature.ZERO_COPY_HOST, Feature.GRAPH_CAPTURE, Feature.FP8_QUERY)),
            Set.of(ExternalMemory.Kind.OPENCL_BUFFER));

    private final OpenClDevice device;
    private final cl_context context;
    private final cl_command_queue queue;
    private final boolean callerQueue;
    private final boolean profiling;
    private final OpenClPrograms programs;
    private final OpenClArena arena;
    private final OpenClUploads uploads;
    private final cl_mem fault;
    private final Map<String, cl_mem> ropeFrequencies = new ConcurrentHashMap<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicLong allocations = new AtomicLong();
    private final boolean serialKernel;
    private final boolean decodeStream;
    private final boolean tensorCores;
    private final boolean tensorEmulated;
    private final DecodeStreamConfig.Tuning streamTuning;
    private final TileConfig.Shape tileShape;
    private final boolean tune;
    private TileTuner tuner;
    /** The tuner's synthetic prefill (attn4j.opencl.tuneRows and tuneKeys, smaller for tests on slow devices). */
    private final int tuneRows = Integer.getInteger("attn4j.opencl.tuneRows", TileTuner.ROWS);
    private final int tuneKeys = Integer.getInteger("attn4j.opencl.tuneKeys", TileTuner.KEYS) / 16 * 16;
    /** Work-group size of the small 1-D kernels (merges, append, RoPE, split merge). */
    private final int group;

    /**
     * @param device the device
     * @param kernel attention kernel flavour: {@code tiled} (work-groups sharing local memory),
     *               {@code serial} (one work-item per unit, for CPUs), {@code decode-stream}
     *               (streaming decode where it applies, tiled for the rest), {@code tensor}
     *               (NVIDIA Tensor Cores where the tensor kernel takes the problem, decode included,
     *               tiled for the rest; refused on other devices), {@code tensor-emulated} (the
     *               same with its Tensor Core instructions emulated, on any device: for tests) or
     *               null/{@code auto} (serial on CPU devices; elsewhere decode-stream for requests
     *               of one query row, and for the rest the tensor kernel on NVIDIA devices of
     *               compute capability 8.0 and newer unless a tiled shape is given, the tiled
     *               kernel on others)
     */
    OpenClSession(OpenClDevice device, String kernel) {
        this(device, kernel, DecodeStreamConfig.Tuning.AUTO, null, null, 0);
    }

    /**
     * As above, with the streaming decode's measured overrides, the tiled kernel's shape (null:
     * chosen per problem) and whether prefill shapes are measured ({@code tune}: {@code auto}
     * or null on GPUs, {@code on} on any device, {@code off}), on the caller's command queue when
     * {@code queueHandle} is not 0.
     */
    OpenClSession(OpenClDevice device, String kernel, DecodeStreamConfig.Tuning streamTuning, TileConfig.Shape tiles,
                  String tune, long queueHandle) {
        this.device = device;
        this.streamTuning = streamTuning;
        this.tileShape = tiles;
        this.tune = switch (tune == null ? "auto" : tune.trim().toLowerCase(java.util.Locale.ROOT)) {
            case "auto", "" -> device.gpu();
            case "on", "true" -> true;
            case "off", "false" -> false;
            default -> throw new IllegalArgumentException(
                    "opencl option tune: expected auto, on or off, actual '" + tune + "'");
        };
        String mode = kernel == null ? "auto" : kernel.trim().toLowerCase(java.util.Locale.ROOT);
        boolean cpu = !device.gpu() && device.type().equals("CPU");
        this.serialKernel = switch (mode) {
            case "serial" -> true;
            case "tiled", "decode-stream", "stream", "tensor", "tensor-emulated" -> false;
            case "auto", "" -> cpu;
            default -> throw new IllegalArgumentException(
                    "opencl option kernel: expected auto, tiled, serial, decode-stream, tensor or tensor-emulated, "
                            + "actual '" + kernel + "'");
        };
        this.tensorCores = switch (mode) {
            case "tensor" -> {
                if (!device.nvidiaTensorCores()) {
                    throw new IllegalArgumentException("opencl option kernel: tensor needs NVIDIA's OpenCL on compute "
                            + "capability 8.0 or newer (its inline PTX builds nowhere else); device "
                            + device.describe());
                }
                yield true;
            }
            case "tensor-emulated" -> true;
            // Tensor Cores run prefill at about 3x the tiled kernel's rate (docs/performance.md).
            case "auto", "" -> device.nvidiaTensorCores() && tiles == null;
            default -> false;
        };
        this.tensorEmulated = mode.equals("tensor-emulated");
        this.decodeStream = switch (mode) {
            case "decode-stream", "stream" -> true;
            case "auto", "" -> !cpu;
            default -> false;
        };
        setExceptionsEnabled(true);
        if (queueHandle != 0) {
            this.callerQueue = true;
            this.queue = JoclHandles.queue(queueHandle);
            long[] ctx = new long[1];
            long[] props = new long[1];
            ClCalls.call("clGetCommandQueueInfo(CL_QUEUE_CONTEXT)", () -> {
                clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, Sizeof.cl_context, Pointer.to(ctx), null);
            });
            ClCalls.call("clGetCommandQueueInfo(CL_QUEUE_PROPERTIES)", () -> {
                clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, Sizeof.cl_ulong, Pointer.to(props), null);
            });
            if ((props[0] & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) != 0) {
                throw new InvalidArgumentException("queue", "is out of order; attn4j queues dependent work and "
                        + "needs an in-order command queue");
            }
            this.profiling = (props[0] & CL_QUEUE_PROFILING_ENABLE) != 0;
            this.context = JoclHandles.context(ctx[0]);
            ClCalls.call("clRetainCommandQueue", () -> {
                clRetainCommandQueue(queue);
            });
            ClCalls.call("clRetainContext", () -> {
                clRetainContext(context);
            });
        } else {
            this.callerQueue = false;
            this.profiling = true;
            cl_device_id[] devices = {device.device()};
            this.context = ClCalls.call("clCreateContext(" + device.name() + ")",
                    () -> clCreateContext(null, 1, devices, null, null, null));
            @SuppressWarnings("deprecation")
            cl_command_queue q = ClCalls.call("clCreateCommandQueue(profiling)",
                    () -> clCreateCommandQueue(context, device.device(), CL_QUEUE_PROFILING_ENABLE, null));
            this.queue = q;
        }
        this.programs = new OpenClPrograms(context, device.device(), device.correctDivide(), device.nvidiaCompute() > 0);
        this.group = (int) Math.min(64, Long.highestOneBit(Math.max(1, device.maxWorkGroupSize())));
        this.arena = new OpenClArena(this);
        this.uploads = new OpenClUploads(queue, this);
        this.fault = newBuffer(16, "fault word");
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

    /**
     * Whether attention the tensor kernel takes (attention_mma.cl: NVIDIA Tensor Cores through
     * inline PTX) runs it rather than the tiled kernel (option kernel=tensor, on NVIDIA devices of
     * compute capability 8.0 and newer).
     */
    boolean tensorCores() {
        return tensorCores;
    }

    /**
     * Whether the tensor kernel is built with its Tensor Core instructions emulated in plain
     * OpenCL (option kernel=tensor-emulated: the kernel's logic tested on any device, slowly).
     */
    boolean tensorEmulated() {
        return tensorEmulated;
    }

    /** Whether decode problems the streaming kernel accepts run it (the default off CPUs). */
    boolean decodeStream() {
        return decodeStream;
    }

    DecodeStreamConfig.Tuning streamTuning() {
        return streamTuning;
    }

    /** The tiled kernel's shape the options force, or null. */
    TileConfig.Shape tileShape() {
        return tileShape;
    }

    /** The tuner of prefill tile shapes, or null where the options turn tuning off. */
    synchronized TileTuner tuner() {
        if (!tune || tileShape != null || serialKernel) {
            return null;
        }
        if (tuner == null) {
            tuner = new TileTuner(device, TileTuner.defaultFile(), tuneRows, tuneKeys);
        }
        return tuner;
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

    OpenClArena arena() {
        return arena;
    }

    OpenClUploads uploads() {
        return uploads;
    }

    cl_mem fault() {
        return fault;
    }

    cl_kernel kernel(String resource, String name, String defines) {
        return programs.kernel(resource, name, defines);
    }

    // ------------------------------------------------------------------ memory

    @Override
    public Tensor allocate(DType dtype, long[] shape) {
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        if (bytes > device.globalMemBytes()) {
            throw new BackendException(backendId(), "cannot allocate " + bytes + " bytes for " + dtype + " "
                    + java.util.Arrays.toString(shape) + ": the device has " + device.globalMemBytes() + " bytes");
        }
        return BackendTensor.root(OpenClMemory.allocate(this, bytes, dtype + " " + java.util.Arrays.toString(shape)),
                dtype, shape);
    }

    @Override
    public Tensor wrap(ExternalMemory memory, DType dtype, long[] shape) {
        ExternalMemory.OpenClBuffer b = (ExternalMemory.OpenClBuffer) memory;
        String notAnObject = NativeHandles.whyNotAnOpenClObject(b.clMem());
        if (notAnObject != null) {
            throw new InvalidArgumentException("memory.clMem", "is not an OpenCL buffer: " + notAnObject);
        }
        cl_mem mem = JoclHandles.mem(b.clMem());
        long[] size = new long[1];
        long[] ctx = new long[1];
        try {
            clGetMemObjectInfo(mem, CL_MEM_SIZE, Sizeof.size_t, Pointer.to(size), null);
            clGetMemObjectInfo(mem, CL_MEM_CONTEXT, Sizeof.cl_context, Pointer.to(ctx), null);
        } catch (org.jocl.CLException e) {
            throw new InvalidArgumentException("memory", "is not an OpenCL buffer (" + stringFor_errorCode(e.getStatus())
                    + " in clGetMemObjectInfo)");
        }
        if (ctx[0] != context.getNativePointer()) {
            throw new InvalidArgumentException("memory", "belongs to another OpenCL context; create it on this "
                    + "backend's context (OpenClInterop.context)");
        }
        if (b.byteOffset() > size[0] || b.capacityBytes() > size[0] - b.byteOffset()) {
            throw InvalidArgumentException.expected("memory", "at most the buffer's " + size[0] + " bytes from offset "
                    + b.byteOffset(), b.capacityBytes() + " bytes");
        }
        return BackendTensor.root(OpenClMemory.borrow(this, mem, b.byteOffset(), b.capacityBytes()), dtype, shape);
    }

    /** A zero-filled device buffer of {@code bytes} (a multiple of 4). */
    cl_mem newBuffer(long bytes, String what) {
        synchronized (this) {
            cl_mem mem = ClCalls.call("clCreateBuffer(" + bytes + " bytes, " + what + ")",
                    () -> clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, null, null));
            allocations.incrementAndGet();
            try {
                ClCalls.call("clEnqueueFillBuffer(" + bytes + " bytes)", () -> {
                    clEnqueueFillBuffer(queue, mem, Pointer.to(ZERO_PATTERN), Sizeof.cl_int, 0, bytes, 0, null, null);
                });
            } catch (RuntimeException e) {
                clReleaseMemObject(mem);
                throw e;
            }
            return mem;
        }
    }

    /** Releases {@code mem} (null: nothing) under the session's lock. */
    synchronized void release(cl_mem mem) {
        if (mem != null) {
            ClCalls.call("clReleaseMemObject", () -> {
                clReleaseMemObject(mem);
            });
        }
    }

    @Override
    public void copyFromHost(HostTensor src, Tensor dst) {
        cl_mem mem = OpenClMemory.mem(dst);
        long at0 = OpenClMemory.byteOffset(dst);
        MemorySegment seg = src.segment();
        long total = src.byteSize();
        long chunk = seg.isNative() ? COPY_CHUNK : STAGING_CHUNK;
        for (long off = 0; off < total; off += chunk) {
            long n = Math.min(chunk, total - off);
            ByteBuffer bb = hostBuffer(seg, off, n);
            if (!seg.isNative()) {
                MemorySegment.copy(seg, off, MemorySegment.ofBuffer(bb), 0, n);
            }
            long at = at0 + off;
            ClCalls.call("clEnqueueWriteBuffer(" + n + " bytes at " + at + ")", () -> {
                clEnqueueWriteBuffer(queue, mem, CL_TRUE, at, n, Pointer.to(bb), 0, null, null);
            });
        }
    }

    @Override
    public void copyFromHostAsync(HostTensor src, Tensor dst) {
        long n = src.byteSize();
        if (n > Integer.MAX_VALUE) {
            copyFromHost(src, dst); // a direct buffer holds at most 2 GiB: this one waits
            return;
        }
        ByteBuffer staged = ByteBuffer.allocateDirect((int) Math.max(1, n));
        MemorySegment.copy(src.segment(), 0, MemorySegment.ofBuffer(staged), 0, n);
        uploads.write(OpenClMemory.mem(dst), OpenClMemory.byteOffset(dst), staged.limit((int) n));
    }

    @Override
    public void copyToHost(Tensor src, HostTensor dst) {
        cl_mem mem = OpenClMemory.mem(src);
        long at0 = OpenClMemory.byteOffset(src);
        MemorySegment seg = dst.segment();
        long total = dst.byteSize();
        long chunk = seg.isNative() ? COPY_CHUNK : STAGING_CHUNK;
        for (long off = 0; off < total; off += chunk) {
            long n = Math.min(chunk, total - off);
            ByteBuffer bb = hostBuffer(seg, off, n);
            long at = at0 + off;
            ClCalls.call("clEnqueueReadBuffer(" + n + " bytes at " + at + ")", () -> {
                clEnqueueReadBuffer(queue, mem, CL_TRUE, at, n, Pointer.to(bb), 0, null, null);
            });
            if (!seg.isNative()) {
                MemorySegment.copy(MemorySegment.ofBuffer(bb), 0, seg, off, n);
            }
        }
        reportFault();
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
        return t instanceof BackendTensor bt && bt.memory() instanceof OpenClMemory m && m.session() == this;
    }

    @Override
    public void synchronize() {
        ClCalls.call("clFinish", () -> {
            clFinish(queue);
        });
        reportFault();
    }

    /** Reads and clears the fault word; throws the first fault a kernel recorded. */
    private void reportFault() {
        int[] f = new int[4];
        ClCalls.call("clEnqueueReadBuffer(fault word)", () -> {
            clEnqueueReadBuffer(queue, fault, CL_TRUE, 0, 16, Pointer.to(f), 0, null, null);
        });
        if (f[0] == 0) {
            return;
        }
        ClCalls.call("clEnqueueFillBuffer(fault word)", () -> {
            clEnqueueFillBuffer(queue, fault, Pointer.to(ZERO_PATTERN), Sizeof.cl_int, 0, 16, 0, null, null);
        });
        throw new BackendException(backendId(), org.attn4j.spi.DeviceFaults.describe(f[0], f[1], f[2]));
    }

    @Override
    public DeviceTimer newTimer() {
        return new OpenClTimer(queue, profiling);
    }

    @Override
    public long deviceAllocations() {
        return allocations.get();
    }

    @Override
    public Map<String, Long> nativeHandles() {
        return Map.of("context", context.getNativePointer(), "queue", queue.getNativePointer(), "device",
                device.device().getNativePointer());
    }

    // ------------------------------------------------------------------ transient uploads

    /**
     * Small host arrays in device memory for the work queued next: each uploaded without waiting
     * into an arena region. Close it once that work is queued: its regions go back to the arena,
     * and the in-order queue runs any later upload into them after that work.
     */
    final class Transient implements AutoCloseable {
        private final java.util.List<OpenClArena.Region> regions = new java.util.ArrayList<>(4);
        private final java.util.List<cl_mem> buffers = new java.util.ArrayList<>(4);

        cl_mem buffer(ByteBuffer data) {
            OpenClArena.Region r = arena.take(data.remaining());
            regions.add(r);
            uploads.write(r.chunk(), r.offset(), data);
            cl_mem sub = OpenClArena.subBuffer(r.chunk(), r.offset(), r.bytes());
            buffers.add(sub);
            return sub;
        }

        cl_mem ints(int[] values) {
            return buffer(direct(values));
        }

        @Override
        public void close() {
            buffers.forEach(OpenClSession.this::release);
            regions.forEach(arena::give);
        }
    }

    static ByteBuffer direct(int[] values) {
        ByteBuffer b = ByteBuffer.allocateDirect(Math.max(4, values.length * 4)).order(ByteOrder.nativeOrder());
        b.asIntBuffer().put(values);
        return b;
    }

    // ------------------------------------------------------------------ attention

    @Override
    public long workspaceBytes(AttentionProblem problem) {
        return OpenClAttentionPlan.workspaceBytes(this, problem);
    }

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
        try (Transient tmp = new Transient()) {
            cl_mem maskMem = null;
            if (rowMask != null) {
                ByteBuffer m = ByteBuffer.allocateDirect(Math.max(4, rowMask.length));
                for (boolean b : rowMask) {
                    m.put((byte) (b ? 1 : 0));
                }
                maskMem = tmp.buffer(m.clear());
            }
            cl_kernel k = kernel("merge.cl", "merge_pair", "-DOT=" + OpenClTypes.code(oA.dtype()));
            synchronized (this) {
                new KernelCall(k, "merge_pair").tensor(oA).tensor(sA).tensor(oB).tensor(sB).tensor(o).tensor(s)
                        .mem(maskMem != null ? maskMem : fault).i(maskMem != null ? 1 : 0).i(hq).i(d)
                        .i(rows * hq).launch1d(queue, (long) rows * hq, group);
            }
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
            new KernelCall(k, "merge_many").tensor(v).tensor(s).tensor(o).tensor(sOut).i(n).i(hq).i(d)
                    .i(rows * hq).launch1d(queue, (long) rows * hq, group);
        }
    }

    // ------------------------------------------------------------------ multi-head latent attention

    @Override
    public MlaKernelPlan planMla(MlaProblem problem) {
        int[] indptr = problem.qoIndptr();
        int[] rowRequest = new int[problem.totalQ()];
        for (int b = 0; b < problem.batchSize(); b++) {
            java.util.Arrays.fill(rowRequest, indptr[b], indptr[b + 1], b);
        }
        PageTable table = problem.pageTable();
        int heads = problem.heads().numHeads();
        String defines = "-DQT=" + OpenClTypes.code(problem.qDtype()) + " -DCT=" + OpenClTypes.code(problem.kvDtype())
                + " -DDC=" + problem.heads().headDimCkv() + " -DDP=" + problem.heads().headDimKpe();
        cl_kernel kernel = kernel("mla.cl", "mla_attend", defines);
        return new MlaKernelPlan() {
            @Override
            public void run(Tensor qNope, Tensor qPe, PagedMlaCache cache, Tensor o, Tensor lse) {
                int total = rowRequest.length * heads;
                if (total == 0) {
                    return;
                }
                long[] qn = qNope.strides();
                long[] qp = qPe.strides();
                long[] os = o.strides();
                try (Transient tmp = new Transient()) {
                    cl_mem rows = tmp.ints(rowRequest);
                    cl_mem qo = tmp.ints(indptr);
                    cl_mem kvIndptr = tmp.ints(table.indptr());
                    cl_mem kvIndices = tmp.ints(table.indices());
                    cl_mem kvLens = tmp.ints(table.kvLens());
                    synchronized (OpenClSession.this) {
                        new KernelCall(kernel, "mla_attend").tensor(qNope).l(qn[0]).l(qn[1])
                                .tensor(qPe).l(qp[0]).l(qp[1])
                                .mem(OpenClMemory.mem(cache.ckv()))
                                .l(cache.ckvOffset() + OpenClMemory.offset(cache.ckv())).l(cache.ckvPageStride())
                                .mem(OpenClMemory.mem(cache.kpe()))
                                .l(cache.kpeOffset() + OpenClMemory.offset(cache.kpe())).l(cache.kpePageStride())
                                .tensor(o).l(os[0]).l(os[1])
                                .mem(lse == null ? fault : OpenClMemory.mem(lse))
                                .l(lse == null ? 0 : OpenClMemory.offset(lse)).i(lse == null ? 0 : 1)
                                .mem(rows).mem(qo).mem(kvIndptr).mem(kvIndices).mem(kvLens)
                                .i(heads).i(table.pageSize()).i(problem.causal() ? 1 : 0).f(problem.smScale())
                                .f(cache.ckvScale()).f(cache.kpeScale()).i(total)
                                .launch1d(queue, total, group);
                    }
                }
            }

            @Override
            public String describe() {
                return "opencl MLA: one work-item per (row, head), " + total() + " items, keys [ckv ; kpe] and "
                        + "values ckv from the same pages, online softmax";
            }

            private long total() {
                return (long) rowRequest.length * heads;
            }
        };
    }

    // ------------------------------------------------------------------ KV and positions

    @Override
    public void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache,
                              PageTable table) {
        if (batchIndices.length == 0) {
            return;
        }
        try (Transient tmp = new Transient()) {
            append(k, v, tmp.ints(batchIndices), tmp.ints(positions), tmp.ints(table.indptr()),
                    tmp.ints(table.indices()), fault, table.batchSize(), table.totalPages(), cache, table.pageSize(),
                    batchIndices.length, false);
        }
    }

    @Override
    public void appendPagedKv(Tensor k, Tensor v, Tensor batchIndices, Tensor positions, PagedKvCache cache,
                              DevicePageTable table) {
        int n = Math.toIntExact(k.dim(0));
        if (n == 0) {
            return;
        }
        cl_mem bi = view(batchIndices);
        cl_mem pos = view(positions);
        cl_mem indptr = view(table.indptr());
        cl_mem indices = view(table.indices());
        cl_mem last = view(table.lastPageLen());
        try {
            append(k, v, bi, pos, indptr, indices, last, table.batchSize(), table.capacity(), cache,
                    table.pageSize(), n, true);
        } finally {
            for (cl_mem m : new cl_mem[] {bi, pos, indptr, indices, last}) {
                release(m);
            }
        }
    }

    /**
     * A contiguous I32 tensor as a buffer of its own, starting at its first element: a
     * sub-buffer when it does not start at its buffer's start (OpenCL has no pointer offsets;
     * validation keeps device-metadata tensors aligned here), else the buffer itself, retained.
     */
    synchronized cl_mem view(Tensor t) {
        cl_mem mem = OpenClMemory.mem(t);
        long off = OpenClMemory.byteOffset(t);
        if (off == 0) {
            ClCalls.call("clRetainMemObject", () -> {
                clRetainMemObject(mem);
            });
            return mem;
        }
        if (off % device.baseAlignBytes() != 0) {
            throw new InvalidArgumentException("tensor", t + " starts " + off + " bytes into its buffer; OpenCL needs "
                    + "device-resident index tensors to start on a multiple of " + device.baseAlignBytes() + " bytes");
        }
        return OpenClArena.subBuffer(mem, off, t.byteSize());
    }

    private void append(Tensor k, Tensor v, cl_mem bi, cl_mem pos, cl_mem indptr, cl_mem indices, cl_mem last,
                        int batch, int capacity, PagedKvCache cache, int pageSize, int n, boolean checked) {
        DType src = k.dtype();
        DType dst = cache.dtype();
        String defines = (src == dst ? "-DSAME_TYPE=1 -DBITS=" + OpenClTypes.bitsType(src)
                : "-DSAME_TYPE=0 -DST=" + OpenClTypes.code(src) + " -DCT=" + OpenClTypes.code(dst))
                + " -DCHECKED=" + (checked ? 1 : 0);
        cl_kernel kernel = kernel("append.cl", "append_kv", defines);
        long[] ks = k.strides();
        long[] vs = v.strides();
        // scaleMode is KvScaleMode's ordinal: 0 scalar (the floats), 1 per head, 2 per token.
        KvScales s = cache.scales();
        synchronized (this) {
            new KernelCall(kernel, "append_kv").mem(OpenClMemory.mem(k)).l(OpenClMemory.offset(k)).l(ks[0]).l(ks[1])
                    .mem(OpenClMemory.mem(v)).l(OpenClMemory.offset(v)).l(vs[0]).l(vs[1])
                    .mem(OpenClMemory.mem(cache.k())).mem(OpenClMemory.mem(cache.v()))
                    .l(cache.kOffset() + OpenClMemory.offset(cache.k())).l(cache.vOffset() + OpenClMemory.offset(cache.v()))
                    .l(cache.kPageStride()).l(cache.kSlotStride()).l(cache.kHeadStride())
                    .l(cache.vPageStride()).l(cache.vSlotStride()).l(cache.vHeadStride())
                    .mem(bi).mem(pos).mem(indptr).mem(indices).mem(last).i(batch).i(capacity).i(cache.numPages())
                    .mem(fault).i(pageSize).i(cache.numKvHeads()).i(cache.kHeadDim()).i(cache.vHeadDim())
                    .f(s.isScalar() ? s.k() : 1f).f(s.isScalar() ? s.v() : 1f)
                    .mem(s.isScalar() ? fault : OpenClMemory.mem(s.kTensor()))
                    .mem(s.isScalar() ? fault : OpenClMemory.mem(s.vTensor()))
                    .l(s.isScalar() ? 0 : OpenClMemory.offset(s.kTensor()))
                    .l(s.isScalar() ? 0 : OpenClMemory.offset(s.vTensor()))
                    .l(cache.scalePageStride()).l(cache.scaleSlotStride()).l(cache.scaleHeadStride())
                    .i(s.mode().ordinal())
                    .i(n * cache.numKvHeads()).launch1d(queue, (long) n * cache.numKvHeads(), group);
        }
    }

    @Override
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        if (positions.length == 0 || q.dim(2) < 2) {
            return;
        }
        try (Transient tmp = new Transient()) {
            rope(q, k, tmp.ints(positions), rope);
        }
    }

    @Override
    public void applyRope(Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        if (q.dim(0) == 0 || q.dim(2) < 2) {
            return;
        }
        cl_mem pos = view(positions);
        try {
            rope(q, k, pos, rope);
        } finally {
            release(pos);
        }
    }

    private void rope(Tensor q, Tensor k, cl_mem positions, RopeOptions rope) {
        int d = Math.toIntExact(q.dim(2));
        cl_mem freq = ropeFrequencies(rope, d);
        // Only the first R dims have pairs; the kernel never touches the rest (partial rotary).
        int rotated = rope.rotatedDims(d);
        rope(q, positions, freq, rotated, rope.interleaved());
        if (k != null) {
            rope(k, positions, freq, rotated, rope.interleaved());
        }
    }

    /**
     * RoPE frequencies as float pairs hi + lo (their double value split in two floats), one per
     * pair of the rotary dim, kept per options and head dim for the session's life.
     */
    cl_mem ropeFrequencies(RopeOptions rope, int d) {
        return ropeFrequencies.computeIfAbsent(rope + "/" + d, key -> {
            double[] f = rope.frequencies(d);
            ByteBuffer b = ByteBuffer.allocateDirect(8 * Math.max(1, f.length)).order(ByteOrder.nativeOrder());
            for (double x : f) {
                float hi = (float) x;
                b.putFloat(hi).putFloat((float) (x - hi));
            }
            cl_mem mem = newBuffer(b.capacity(), "rope frequencies");
            uploads.write(mem, 0, b.clear());
            return mem;
        });
    }

    private void rope(Tensor x, cl_mem positions, cl_mem freq, int rotaryDim, boolean interleaved) {
        int n = Math.toIntExact(x.dim(0));
        int heads = Math.toIntExact(x.dim(1));
        long[] st = x.strides();
        cl_kernel k = kernel("rope.cl", "rope_inplace", "-DT=" + OpenClTypes.code(x.dtype()));
        int count = Math.multiplyExact(Math.multiplyExact(n, heads), rotaryDim / 2);
        synchronized (this) {
            new KernelCall(k, "rope_inplace").mem(OpenClMemory.mem(x)).l(OpenClMemory.offset(x)).l(st[0]).l(st[1])
                    .mem(positions).mem(freq).mem(fault).i(heads).i(rotaryDim).i(interleaved ? 1 : 0).i(count)
                    .launch1d(queue, count, group);
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                clFinish(queue);
            } finally {
                uploads.close();
                programs.close();
                ropeFrequencies.values().forEach(this::release);
                release(fault);
                arena.close();
                clReleaseCommandQueue(queue);
                clReleaseContext(context);
            }
        }
    }

    @Override
    public String toString() {
        return "OpenClSession[" + device.describe() + (callerQueue ? ", caller's queue" : "") + "]";
    }
}
