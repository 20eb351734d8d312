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

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
import jcuda.driver.CUmodule;
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
    public DeviceContext open(int ordinal) {
        init();
        DeviceInfo info = info(ordinal);
        CUdevice dev = new CUdevice();
        check(cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        CUcontext ctx = new CUcontext();
        check(cuDevicePrimaryCtxRetain(ctx, dev), "cuDevicePrimaryCtxRetain(" + ordinal + ")");
        try {
            check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
            CUstream stream = new CUstream();
            check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate");
            return new Context(info, dev, ctx, stream);
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
        private boolean closed;

        Context(DeviceInfo info, CUdevice device, CUcontext context, CUstream stream) {
            this.info = info;
            this.device = device;
            this.context = context;
            this.stream = stream;
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
            return p.address();
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
            cuStreamDestroy(stream);
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
