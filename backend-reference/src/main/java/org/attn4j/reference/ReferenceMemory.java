package org.attn4j.reference;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.TensorMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/** Host memory of the reference backend: an allocation it owns, or a segment the caller lends. */
final class ReferenceMemory extends TensorMemory {
    private final MemorySegment segment;

    private ReferenceMemory(MemorySegment segment, boolean borrowed) {
        super(segment.byteSize(), borrowed);
        this.segment = segment;
    }

    /** Zero-filled memory of {@code bytes}, freed when its tensor closes. */
    static ReferenceMemory allocate(long bytes) {
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(1, bytes), 64).asSlice(0, bytes);
        ReferenceMemory m = new ReferenceMemory(seg, false);
        m.onClose("a reference tensor of " + bytes + " bytes", arena::close);
        return m;
    }

    static ReferenceMemory borrow(MemorySegment segment) {
        return new ReferenceMemory(segment, true);
    }

    @Override
    public String backendId() {
        return ReferenceBackendProvider.ID;
    }

    @Override
    public int baseAlignment() {
        long a = segment.address();
        return a == 0 ? 256 : (int) Math.min(256, Long.lowestOneBit(a));
    }

    /** A contiguous tensor's elements as a host tensor of its shape (no copy). */
    static HostTensor contiguous(Tensor t) {
        BackendTensor bt = (BackendTensor) t;
        MemorySegment seg = ((ReferenceMemory) bt.memory()).segment;
        return HostTensor.wrap(seg.asSlice(bt.byteOffset(), bt.byteSize()), t.dtype(), t.shape());
    }

    /**
     * A tensor's memory from its first element to the memory's end, flat, so that element
     * {@code (i, j, k)} is at {@code i * stride(0) + j * stride(1) + k * stride(2)}.
     */
    static HostTensor flat(Tensor t) {
        BackendTensor bt = (BackendTensor) t;
        MemorySegment seg = ((ReferenceMemory) bt.memory()).segment;
        long bytes = seg.byteSize() - bt.byteOffset();
        return HostTensor.wrap(seg.asSlice(bt.byteOffset(), bytes), t.dtype(), bytes / t.dtype().byteSize());
    }
}
