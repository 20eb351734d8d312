package org.attn4j.opencl;

import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.BackendOptions;
import org.attn4j.tensor.ExternalMemory;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_mem;

/**
 * The OpenCL backend with JOCL's types, for engines that manage their own buffers and queues
 * with JOCL: buffers to wrap (created on the backend's context), the queue to open on, the
 * session's own context, queue and device. Without JOCL the same works through raw handles
 * ({@link ExternalMemory#openClBuffer}, {@code BackendOptions.withHandle("queue", ...)},
 * {@link AttentionBackend#nativeHandles()}).
 *
 * <p>Stateless and thread-safe.
 */
public final class OpenClInterop {
    private OpenClInterop() {}

    /**
     * {@code capacityBytes} of {@code buffer} from {@code byteOffset}, to wrap as a tensor.
     *
     * @param buffer        a buffer of the backend's context
     * @param byteOffset    bytes from the buffer's start, a multiple of the element size
     * @param capacityBytes bytes addressable from the offset
     * @return the memory, to {@link AttentionBackend#wrap(ExternalMemory, org.attn4j.tensor.DType, long...) wrap}
     */
    public static ExternalMemory memory(cl_mem buffer, long byteOffset, long capacityBytes) {
        if (buffer == null) {
            throw new InvalidArgumentException("buffer", "is null");
        }
        return ExternalMemory.openClBuffer(buffer.getNativePointer(), byteOffset, capacityBytes);
    }

    /**
     * Opens the OpenCL backend on {@code queue} (in order; its context and device are used), which
     * the caller keeps alive until the backend is closed.
     *
     * @param queue an in-order command queue
     * @return the open backend, closed by the caller
     */
    public static AttentionBackend open(cl_command_queue queue) {
        if (queue == null) {
            throw new InvalidArgumentException("queue", "is null");
        }
        return Backends.open(OpenClBackendProvider.ID, BackendOptions.DEFAULT.withHandle("queue",
                queue.getNativePointer()));
    }

    /**
     * The context {@code backend}'s buffers belong to.
     *
     * @param backend an OpenCL backend
     * @return a JOCL view of the context
     */
    public static cl_context context(AttentionBackend backend) {
        return JoclHandles.context(handle(backend, "context"));
    }

    /**
     * The in-order queue {@code backend} enqueues on.
     *
     * @param backend an OpenCL backend
     * @return a JOCL view of the queue
     */
    public static cl_command_queue queue(AttentionBackend backend) {
        return JoclHandles.queue(handle(backend, "queue"));
    }

    /**
     * The device {@code backend} runs on.
     *
     * @param backend an OpenCL backend
     * @return a JOCL view of the device
     */
    public static cl_device_id device(AttentionBackend backend) {
        return JoclHandles.device(handle(backend, "device"));
    }

    private static long handle(AttentionBackend backend, String key) {
        if (backend == null || !OpenClBackendProvider.ID.equals(backend.id())) {
            throw new InvalidArgumentException("backend", "expected an OpenCL backend, actual "
                    + (backend == null ? "null" : backend.id()));
        }
        Map<String, Long> h = backend.nativeHandles();
        return h.get(key);
    }
}
