package org.attn4j.opencl;

import org.attn4j.spi.AbstractTensor;
import org.attn4j.tensor.DType;
import org.jocl.CL;
import org.jocl.cl_mem;

/** A tensor in one OpenCL buffer of its session's context. */
final class OpenClTensor extends AbstractTensor {
    private final OpenClSession session;
    private final cl_mem mem;
    private final long bufferBytes;

    OpenClTensor(OpenClSession session, DType dtype, long[] shape, cl_mem mem, long bufferBytes) {
        super(dtype, shape);
        this.session = session;
        this.mem = mem;
        this.bufferBytes = bufferBytes;
    }

    cl_mem mem() {
        return mem;
    }

    OpenClSession session() {
        return session;
    }

    /** The buffer's size, at least {@link #byteSize()} (empty tensors still get a few bytes). */
    long bufferBytes() {
        return bufferBytes;
    }

    @Override
    public String backendId() {
        return OpenClBackendProvider.ID;
    }

    @Override
    protected void release() {
        ClCalls.call("clReleaseMemObject", () -> {
            CL.clReleaseMemObject(mem);
        });
    }
}
