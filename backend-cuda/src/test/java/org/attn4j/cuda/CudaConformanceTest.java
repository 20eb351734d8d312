package org.attn4j.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.driver.CUdeviceptr;
import org.attn4j.AttentionBackend;
import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.conformance.harness.ExternalAllocator;
import org.attn4j.tensor.ExternalMemory;

/** The conformance suite on the CUDA backend, against the reference backend as oracle. */
class CudaConformanceTest extends AttentionConformanceSuite {
    @Override
    protected String backendId() {
        return "cuda";
    }

    /** Device memory from JCuda's cuMemAlloc in the backend's (primary) context. */
    @Override
    protected ExternalAllocator externalAllocator() {
        return new ExternalAllocator() {
            private final Map<ExternalMemory, CUdeviceptr> pointers = new ConcurrentHashMap<>();

            @Override
            public ExternalMemory allocate(AttentionBackend backend, long bytes) {
                jcuda.driver.JCudaDriver.cuCtxSetCurrent(CudaInterop.context(backend));
                CUdeviceptr p = new CUdeviceptr();
                int r = cuMemAlloc(p, Math.max(1, bytes));
                if (r != 0) {
                    throw new IllegalStateException("cuMemAlloc(" + bytes + ") failed: " + r);
                }
                ExternalMemory m = CudaInterop.memory(p, bytes);
                pointers.put(m, p);
                return m;
            }

            @Override
            public void free(ExternalMemory memory) {
                cuMemFree(pointers.remove(memory));
            }
        };
    }
}
