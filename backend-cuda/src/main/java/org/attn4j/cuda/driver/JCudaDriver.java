package org.attn4j.cuda.driver;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuEventQuery;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemGetAddressRange;
import static jcuda.driver.JCudaDriver.cuPointerGetAttribute;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamGetCtx;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUpointer_attribute;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;

/** {@link CudaDriver} over JCuda 12's driver API binding. */
final class JCudaDriver implements CudaDriver {
    private volatile boolean initialised;

    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw new CudaException(CUresult.stringFor(result), result, call);
        }
    }

    /** A device pointer whose raw address is readable (JCuda keeps it protected). */
    private static final class AddressablePtr extends CUdeviceptr {
        long address() {
            return getNativePointer();
        }
    }

    static CUdeviceptr ptr(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    @Override
    public synchronized void init() {
        if (initialised) {
            return;
        }
        jcuda.driver.JCudaDriver.setExceptionsEnabled(false); // loads the native library
        check(cuInit(0), "cuInit(0)");
        initialised = true;
    }

    @Override
    public int driverVersion() {
        init();
        int[] v = new int[1];
        check(cuDriverGetVersion(v), "cuDriverGetVersion");
        return v[0];
    }

    @Override
    public List<DeviceInfo> devices() {
        init();
        int[] count = new int[1];
        check(cuDeviceGetCount(count), "cuDeviceGetCount");
        List<DeviceInfo> out = new ArrayList<>();
        for (int i = 0; i < count[0]; i++) {
            out.add(info(i));
        }
        return out;
    }

    private static DeviceInfo info(int ordinal) {
        CUdevice dev = new CUdevice();
        check(cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        check(cuDeviceGetName(name, name.length, dev), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) {
            len++;
        }
        long[] mem = new long[1];
        check(cuDeviceTotalMem(mem, dev), "cuDeviceTotalMem");
        return new DeviceInfo(ordinal, new String(name, 0, len, StandardCharsets.UTF_8),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT), mem[0],
                attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
    }

    private static int attribute(CUdevice dev, int attribute) {
        int[] v = new int[1];
        check(cuDeviceGetAttribute(v, attribute, dev), "cuDeviceGetAttribute(" + attribute + ")");
        return v[0];
    }

    @Override
    public DeviceContext open(int ordinal, long streamHandle) {
        init();
        DeviceInfo info = info(ordinal);
        CUdevice dev = new CUdevice();
        check(cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        CUcontext ctx = new CUcontext();
        check(cuDevicePrimaryCtxRetain(ctx, dev), "cuDevicePrimaryCtxRetain(" + ordinal + ")");
        try {
            check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
            CUstream stream;
            if (streamHandle != 0) {
                String notAnObject = org.attn4j.spi.NativeHandles.whyNotAnObject(streamHandle);
                if (notAnObject != null) {
                    throw new org.attn4j.error.InvalidArgumentException("stream", "is not a CUDA stream: " + notAnObject);
                }
                stream = JCudaHandles.wrap(new CUstream(), streamHandle);
                CUcontext of = new CUcontext();
                int r = cuStreamGetCtx(stream, of);
                if (r != CUresult.CUDA_SUCCESS) {
                    throw new org.attn4j.error.InvalidArgumentException("stream", "is not a CUDA stream ("
                            + CUresult.stringFor(r) + " in cuStreamGetCtx)");
                }
                if (JCudaHandles.handle(of) != JCudaHandles.handle(ctx)) {
                    throw new org.attn4j.error.InvalidArgumentException("stream", "belongs to another context than "
                            + "device " + ordinal + "'s primary context, which attn4j uses");
                }
            } else {
                stream = new CUstream();
                check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate");
            }
            return new Context(info, dev, ctx, stream, streamHandle == 0);
        } catch (RuntimeException e) {
            cuDevicePrimaryCtxRelease(dev);
            throw e;
        }
    }

    private static final class Context implements DeviceContext {
        private final DeviceInfo info;
        private final CUdevice device;
        private final CUcontext context;
        private final CUstream stream;
        private final boolean ownStream;
        private final AtomicLong allocations = new AtomicLong();
        private final PinnedRing ring = new PinnedRing();
        private boolean closed;

        Context(DeviceInfo info, CUdevice device, CUcontext context, CUstream stream, boolean ownStream) {
            this.info = info;
            this.device = device;
            this.context = context;
            this.stream = stream;
            this.ownStream = ownStream;
        }

        /**
         * Page-locked host memory that asynchronous uploads pass through: a ring whose slots are
         * reused once the copies that read them have run, tracked by one event per copy.
         */
        private final class PinnedRing {
            private record Pending(long start, long end, CUevent event) {}

            private Pointer memory;
            private ByteBuffer view;
            private long capacity;
            private long head;
            private final Deque<Pending> pending = new ArrayDeque<>();

            synchronized void upload(long dst, ByteBuffer src) {
                long n = src.remaining();
                if (n > capacity) {
                    grow(n);
                }
                if (head + n > capacity) {
                    head = 0;
                }
                long start = head;
                long end = head + n;
                // Wait for the newest copy still reading [start, end); older ones ran before it.
                Pending last = null;
                for (Pending p : pending) {
                    if (p.start() < end && start < p.end()) {
                        last = p;
                    }
                }
                if (last != null) {
                    check(cuEventSynchronize(last.event()), "cuEventSynchronize(upload ring)");
                    while (!pending.isEmpty()) {
                        Pending p = pending.removeFirst();
                        cuEventDestroy(p.event());
                        if (p == last) {
                            break;
                        }
                    }
                }
                dropCompleted();
                ByteBuffer slot = view.duplicate().position((int) start).limit((int) end);
                slot.put(src.duplicate());
                check(cuMemcpyHtoDAsync(ptr(dst), memory.withByteOffset(start), n, stream),
                        "cuMemcpyHtoDAsync(" + n + " bytes, pinned)");
                CUevent e = new CUevent();
                check(cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate");
                check(cuEventRecord(e, stream), "cuEventRecord(upload)");
                pending.addLast(new Pending(start, end, e));
                head = end;
            }

            private void dropCompleted() {
                while (!pending.isEmpty() && cuEventQuery(pending.peekFirst().event()) == CUresult.CUDA_SUCCESS) {
                    cuEventDestroy(pending.removeFirst().event());
                }
            }

            private void grow(long need) {
                release();
                long size = Math.max(4L << 20, Long.highestOneBit(need) << 1);
                if (size > Integer.MAX_VALUE) {
                    size = Math.max(need, Integer.MAX_VALUE - 8);
                }
                Pointer p = new Pointer();
                check(cuMemAllocHost(p, size), "cuMemAllocHost(" + size + " bytes)");
                memory = p;
                view = p.getByteBuffer(0, size);
                capacity = size;
                head = 0;
            }

            /** Waits for every copy still reading the ring, then frees it. */
            synchronized void release() {
                for (Pending p : pending) {
                    cuEventSynchronize(p.event());
                    cuEventDestroy(p.event());
                }
                pending.clear();
                if (memory != null) {
                    cuMemFreeHost(memory);
                    memory = null;
                    view = null;
                    capacity = 0;
                }
            }
        }

        @Override
        public DeviceInfo device() {
            return info;
        }

        @Override
        public void makeCurrent() {
            check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
        }

        @Override
        public long malloc(long bytes) {
            makeCurrent();
            AddressablePtr p = new AddressablePtr();
            check(cuMemAlloc(p, Math.max(1, bytes)), "cuMemAlloc(" + bytes + " bytes)");
            allocations.incrementAndGet();
            return p.address();
        }

        @Override
        public long allocations() {
            return allocations.get();
        }

        @Override
        public void copyToDeviceAsync(long address, ByteBuffer src) {
            makeCurrent();
            if (src.remaining() > 0) {
                ring.upload(address, src);
            }
        }

        @Override
        public long[] allocationOf(long address) {
            makeCurrent();
            AddressablePtr base = new AddressablePtr();
            long[] size = new long[1];
            if (cuMemGetAddressRange(base, size, ptr(address)) != CUresult.CUDA_SUCCESS) {
                return null;
            }
            long[] ctx = new long[1];
            if (cuPointerGetAttribute(Pointer.to(ctx), CUpointer_attribute.CU_POINTER_ATTRIBUTE_CONTEXT, ptr(address))
                    == CUresult.CUDA_SUCCESS && ctx[0] != 0 && ctx[0] != JCudaHandles.handle(context)) {
                return null;
            }
            return new long[] {base.address(), size[0]};
        }

        @Override
        public long streamHandle() {
            return JCudaHandles.handle(stream);
        }

        @Override
        public long contextHandle() {
            return JCudaHandles.handle(context);
        }

        @Override
        public void beginCapture() {
            makeCurrent();
            check(cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                    "cuStreamBeginCapture");
        }

        @Override
        public Object endCapture() {
            makeCurrent();
            CUgraph graph = new CUgraph();
            check(cuStreamEndCapture(stream, graph), "cuStreamEndCapture");
            try {
                CUgraphExec exec = new CUgraphExec();
                check(cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
                return exec;
            } finally {
                cuGraphDestroy(graph);
            }
        }

        @Override
        public void abortCapture() {
            makeCurrent();
            CUgraph graph = new CUgraph();
            if (cuStreamEndCapture(stream, graph) == CUresult.CUDA_SUCCESS) {
                cuGraphDestroy(graph);
            }
        }

        @Override
        public void launchGraph(Object graph) {
            makeCurrent();
            check(cuGraphLaunch((CUgraphExec) graph, stream), "cuGraphLaunch");
        }

        @Override
        public void destroyGraph(Object graph) {
            makeCurrent();
            check(cuGraphExecDestroy((CUgraphExec) graph), "cuGraphExecDestroy");
        }

        @Override
        public void free(long address) {
            makeCurrent();
            check(cuMemFree(ptr(address)), "cuMemFree");
        }

        @Override
        public void memsetAsync(long address, byte value, long bytes) {
            makeCurrent();
            if (bytes > 0) {
                check(cuMemsetD8Async(ptr(address), value, bytes, stream), "cuMemsetD8Async(" + bytes + " bytes)");
            }
        }

        @Override
        public void copyToDevice(long address, ByteBuffer src) {
            makeCurrent();
            long n = src.remaining();
            if (n == 0) {
                return;
            }
            if (src.isDirect()) {
                check(cuMemcpyHtoDAsync(ptr(address), Pointer.to(src), n, stream), "cuMemcpyHtoDAsync(" + n + " bytes)");
                synchronize();
            } else {
                synchronize();
                check(cuMemcpyHtoD(ptr(address), Pointer.to(src), n), "cuMemcpyHtoD(" + n + " bytes)");
            }
        }

        @Override
        public void copyToHost(ByteBuffer dst, long address) {
            makeCurrent();
            long n = dst.remaining();
            if (n == 0) {
                return;
            }
            if (dst.isDirect()) {
                check(cuMemcpyDtoHAsync(Pointer.to(dst), ptr(address), n, stream), "cuMemcpyDtoHAsync(" + n + " bytes)");
                synchronize();
            } else {
                synchronize();
                check(cuMemcpyDtoH(Pointer.to(dst), ptr(address), n), "cuMemcpyDtoH(" + n + " bytes)");
            }
        }

        @Override
        public void copyDeviceToDevice(long dst, long src, long bytes) {
            makeCurrent();
            if (bytes > 0) {
                check(cuMemcpyDtoDAsync(ptr(dst), ptr(src), bytes, stream), "cuMemcpyDtoDAsync(" + bytes + " bytes)");
            }
        }

        @Override
        public KernelModule loadModule(byte[] image) {
            makeCurrent();
            CUmodule module = new CUmodule();
            check(cuModuleLoadData(module, image), "cuModuleLoadData(" + image.length + " bytes)");
            return new Module(this, module);
        }

        @Override
        public void synchronize() {
            makeCurrent();
            check(cuStreamSynchronize(stream), "cuStreamSynchronize");
        }

        @Override
        public Object createEvent() {
            makeCurrent();
            CUevent e = new CUevent();
            check(cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            return e;
        }

        @Override
        public void record(Object event) {
            makeCurrent();
            check(cuEventRecord((CUevent) event, stream), "cuEventRecord");
        }

        @Override
        public float elapsedMillis(Object start, Object stop) {
            makeCurrent();
            check(cuEventSynchronize((CUevent) stop), "cuEventSynchronize");
            float[] ms = new float[1];
            check(cuEventElapsedTime(ms, (CUevent) start, (CUevent) stop), "cuEventElapsedTime");
            return ms[0];
        }

        @Override
        public void destroyEvent(Object event) {
            makeCurrent();
            check(cuEventDestroy((CUevent) event), "cuEventDestroy");
        }

        @Override
        public synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            makeCurrent();
            cuStreamSynchronize(stream);
            ring.release();
            if (ownStream) {
                cuStreamDestroy(stream);
            }
            check(cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
        }

        void launch(CUfunction f, String name, int gx, int gy, int bx, int smem, Object[] args) {
            makeCurrent();
            NativePointerObject[] params = new NativePointerObject[args.length];
            for (int i = 0; i < args.length; i++) {
                params[i] = switch (args[i]) {
                    case byte[] b -> Pointer.to(b);
                    case Long l -> Pointer.to(new long[] {l});
                    case Integer n -> Pointer.to(new int[] {n});
                    case Float x -> Pointer.to(new float[] {x});
                    case Double x -> Pointer.to(new double[] {x});
                    default -> throw new IllegalArgumentException("kernel argument " + i + " of " + name + ": "
                            + args[i].getClass().getName());
                };
            }
            check(cuLaunchKernel(f, gx, gy, 1, bx, 1, 1, smem, stream, Pointer.to(params), null),
                    "cuLaunchKernel(" + name + ", grid " + gx + "x" + gy + ", block " + bx + ", shared " + smem + ")");
        }
    }

    private static final class Module implements KernelModule {
        private final Context context;
        private final CUmodule module;

        Module(Context context, CUmodule module) {
            this.context = context;
            this.module = module;
        }

        @Override
        public KernelFunction function(String name) {
            context.makeCurrent();
            CUfunction f = new CUfunction();
            check(cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
            return new Function(context, f, name);
        }

        @Override
        public void close() {
            context.makeCurrent();
            check(cuModuleUnload(module), "cuModuleUnload");
        }
    }

    /** The carveout value asking for the largest shared memory share of the L1/shared storage. */
    private static final int MAX_SHARED_CARVEOUT = 100;

    private record Function(Context context, CUfunction f, String name) implements KernelFunction {
        @Override
        public void setMaxDynamicSharedMemory(int bytes) {
            context.makeCurrent();
            check(cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
                    "cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + bytes + ")");
            // Left to itself the driver may size the L1/shared split for one such block; the kernels
            // that ask for this much are built to keep two or three resident per multiprocessor.
            check(cuFuncSetAttribute(f, CUfunction_attribute.CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT,
                    MAX_SHARED_CARVEOUT), "cuFuncSetAttribute(" + name + ", PREFERRED_SHARED_MEMORY_CARVEOUT, "
                    + MAX_SHARED_CARVEOUT + ")");
        }

        @Override
        public void launch(int gridX, int gridY, int blockX, int sharedBytes, Object... args) {
            context.launch(f, name, gridX, gridY, blockX, sharedBytes, args);
        }
    }
}
