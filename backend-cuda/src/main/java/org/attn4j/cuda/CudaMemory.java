package org.attn4j.cuda;

import org.attn4j.cuda.driver.DeviceContext;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.TensorMemory;
import org.attn4j.tensor.Tensor;

/**
 * Device memory behind tensors of one session: an allocation the session made (freed when its
 * tensor closes, after the stream's queued work, or by the cleaner backstop) or an address range
 * the caller lends, which attn4j never frees.
 */
final class CudaMemory extends TensorMemory {
    private final CudaSession session;
    private final long address;

    private CudaMemory(CudaSession session, long address, long bytes, boolean borrowed) {
        super(bytes, borrowed);
        this.session = session;
        this.address = address;
    }

    /** A new allocation of {@code bytes}. */
    static CudaMemory allocate(CudaSession session, long bytes) {
        DeviceContext context = session.context();
        long address = context.malloc(bytes);
        CudaMemory m = new CudaMemory(session, address, bytes, false);
        m.onClose("a CUDA tensor of " + bytes + " bytes", () -> {
            context.synchronize(); // kernels queued on the memory run before it is freed
            context.free(address);
        });
        return m;
    }

    static CudaMemory borrow(CudaSession session, long address, long bytes) {
        return new CudaMemory(session, address, bytes, true);
    }

    long baseAddress() {
        return address;
    }

    CudaSession session() {
        return session;
    }

    @Override
    public String backendId() {
        return CudaBackendProvider.ID;
    }

    @Override
    public int baseAlignment() {
        return (int) Math.min(256, Long.lowestOneBit(address));
    }

    /** The device address of {@code t}'s first element. */
    static long address(Tensor t) {
        BackendTensor bt = (BackendTensor) t;
        return ((CudaMemory) bt.memory()).address + bt.byteOffset();
    }
}
