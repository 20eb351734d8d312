package org.attn4j.cuda;

import java.util.Map;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.cuda.driver.JCudaHandles;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.ExternalMemory;

/**
 * The CUDA backend with JCuda's types, for engines that manage their own device memory and
 * streams with JCuda: memory to wrap, the stream to open on, the session's own stream and
 * context. The same works without JCuda through raw handles ({@link ExternalMemory#cudaDevicePointer},
 * {@code BackendOptions.withHandle("stream", ...)}, {@link AttentionBackend#nativeHandles()}).
 *
 * <p>Stateless and thread-safe.
 */
public final class CudaInterop {
    private CudaInterop() {}

    /**
     * Device memory from {@code cuMemAlloc} (or a pointer into it) with the bytes addressable from it.
     *
     * @param pointer       the device pointer
     * @param capacityBytes bytes addressable from it
     * @return the memory, to {@link AttentionBackend#wrap(ExternalMemory, org.attn4j.tensor.DType, long...) wrap}
     */
    public static ExternalMemory memory(CUdeviceptr pointer, long capacityBytes) {
        if (pointer == null) {
            throw new InvalidArgumentException("pointer", "is null");
        }
        return ExternalMemory.cudaDevicePointer(JCudaHandles.handle(pointer), capacityBytes);
    }

    /**
     * Opens the CUDA backend on device {@code device} queuing every call on {@code stream} (of the
     * device's primary context), which the caller keeps alive until the backend is closed.
     *
     * @param device the device's ordinal
     * @param stream the caller's stream
     * @return the open backend, closed by the caller
     */
    public static AttentionBackend open(int device, CUstream stream) {
        if (stream == null) {
            throw new InvalidArgumentException("stream", "is null");
        }
        return Backends.open(CudaBackendProvider.ID, BackendOptions.DEFAULT.with("device", Integer.toString(device))
                .withHandle("stream", JCudaHandles.handle(stream)));
    }

    /**
     * The stream {@code backend} queues on (its own, or the one it was opened on).
     *
     * @param backend a CUDA backend
     * @return a JCuda view of the stream, not to be destroyed by the caller
     */
    public static CUstream stream(AttentionBackend backend) {
        return JCudaHandles.wrap(new CUstream(), handle(backend, "stream"));
    }

    /**
     * The context {@code backend} runs in (the device's primary context).
     *
     * @param backend a CUDA backend
     * @return a JCuda view of the context
     */
    public static CUcontext context(AttentionBackend backend) {
        return JCudaHandles.wrap(new CUcontext(), handle(backend, "context"));
    }

    private static long handle(AttentionBackend backend, String key) {
        if (backend == null || !CudaBackendProvider.ID.equals(backend.id())) {
            throw new InvalidArgumentException("backend", "expected a CUDA backend, actual "
                    + (backend == null ? "null" : backend.id()));
        }
        Map<String, Long> h = backend.nativeHandles();
        return h.get(key);
    }
}
