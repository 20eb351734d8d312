package org.attn4j.opencl;

import static org.jocl.CL.clReleaseMemObject;
import static org.jocl.CL.clRetainMemObject;

import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.TensorMemory;
import org.attn4j.tensor.Tensor;
import org.jocl.cl_mem;

/**
 * An OpenCL buffer of one session's context behind tensors: one the session created (released
 * when its tensor closes), or the caller's, from a byte offset on (the session holds a reference,
 * {@code clRetainMemObject}, which closing drops; the caller's own reference keeps the buffer).
 * OpenCL defers freeing a buffer until the commands queued on it have finished, so closing never
 * pulls memory from under a queued kernel.
 */
final class OpenClMemory extends TensorMemory {
    private final OpenClSession session;
    private final cl_mem mem;
    private final long byteOffset;

    private OpenClMemory(OpenClSession session, cl_mem mem, long byteOffset, long bytes, boolean borrowed) {
        super(bytes, borrowed);
        this.session = session;
        this.mem = mem;
        this.byteOffset = byteOffset;
        onClose((borrowed ? "a borrowed " : "an ") + "OpenCL buffer of " + bytes + " bytes",
                () -> {
                    synchronized (session) { // a session's OpenCL calls run one at a time (OpenClSession)
                        ClCalls.call("clReleaseMemObject", () -> {
                            clReleaseMemObject(mem);
                        });
                    }
                });
    }

    /** A new zero-filled buffer of {@code bytes} (rounded up to 4, at least 4). */
    static OpenClMemory allocate(OpenClSession session, long bytes, String what) {
        return new OpenClMemory(session, session.newBuffer(Math.max(4, (bytes + 3) & ~3L), what), 0, bytes, false);
    }

    /** The caller's buffer from {@code byteOffset}, {@code bytes} long; retained until closed. */
    static OpenClMemory borrow(OpenClSession session, cl_mem mem, long byteOffset, long bytes) {
        ClCalls.call("clRetainMemObject", () -> {
            clRetainMemObject(mem);
        });
        return new OpenClMemory(session, mem, byteOffset, bytes, true);
    }

    OpenClSession session() {
        return session;
    }

    cl_mem mem() {
        return mem;
    }

    @Override
    public String backendId() {
        return OpenClBackendProvider.ID;
    }

    @Override
    public int baseAlignment() {
        int base = session.deviceInfo().baseAlignBytes();
        return byteOffset == 0 ? base : (int) Math.min(base, Long.lowestOneBit(byteOffset));
    }

    /** The buffer of {@code t}. */
    static cl_mem mem(Tensor t) {
        return ((OpenClMemory) ((BackendTensor) t).memory()).mem;
    }

    /** Elements of {@code t}'s dtype from the buffer's start to {@code t}'s first element. */
    static long offset(Tensor t) {
        BackendTensor bt = (BackendTensor) t;
        return (((OpenClMemory) bt.memory()).byteOffset + bt.byteOffset()) / t.dtype().byteSize();
    }

    /** Bytes from the buffer's start to {@code t}'s first element. */
    static long byteOffset(Tensor t) {
        BackendTensor bt = (BackendTensor) t;
        return ((OpenClMemory) bt.memory()).byteOffset + bt.byteOffset();
    }
}
