package org.attn4j.cuda;

import org.attn4j.spi.AbstractTensor;
import org.attn4j.tensor.DType;

/** A row-major tensor in device memory of one {@link CudaSession}. */
final class CudaTensor extends AbstractTensor {
    private final CudaSession owner;
    private final DeviceMemory memory;

    CudaTensor(CudaSession owner, DType dtype, long[] shape, DeviceMemory memory) {
        super(dtype, shape);
        this.owner = owner;
        this.memory = memory;
    }

    CudaSession owner() {
        return owner;
    }

    long address() {
        return memory.address();
    }

    @Override
    public String backendId() {
        return CudaBackendProvider.ID;
    }

    @Override
    protected void release() {
        memory.close();
    }
}
