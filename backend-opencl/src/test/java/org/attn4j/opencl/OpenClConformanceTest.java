package org.attn4j.opencl;

import static org.jocl.CL.CL_MEM_READ_WRITE;
import static org.jocl.CL.clCreateBuffer;
import static org.jocl.CL.clReleaseMemObject;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.attn4j.AttentionBackend;
import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.conformance.harness.ExternalAllocator;
import org.attn4j.tensor.ExternalMemory;
import org.jocl.cl_mem;

/** The conformance suite on the OpenCL backend, against the reference backend as oracle. */
class OpenClConformanceTest extends AttentionConformanceSuite {
    @Override
    protected String backendId() {
        return "opencl";
    }

    /** Buffers from JOCL's clCreateBuffer on the backend's context, lent from byte 128 on. */
    @Override
    protected ExternalAllocator externalAllocator() {
        return new ExternalAllocator() {
            private final Map<ExternalMemory, cl_mem> buffers = new ConcurrentHashMap<>();

            @Override
            public ExternalMemory allocate(AttentionBackend backend, long bytes) {
                cl_mem mem = clCreateBuffer(OpenClInterop.context(backend), CL_MEM_READ_WRITE, bytes + 128, null,
                        null);
                ExternalMemory m = OpenClInterop.memory(mem, 128, bytes);
                buffers.put(m, mem);
                return m;
            }

            @Override
            public void free(ExternalMemory memory) {
                clReleaseMemObject(buffers.remove(memory));
            }
        };
    }
}
