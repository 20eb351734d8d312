package org.attn4j.spi;

import org.attn4j.tensor.DType;
import org.attn4j.tensor.Shapes;
import org.attn4j.tensor.Tensor;

/** Memory of a backend that never runs anything: tensors for shape and stride arithmetic in tests. */
public final class FakeMemory extends TensorMemory {
    public FakeMemory(long bytes) {
        super(bytes, true);
    }

    /** A contiguous root tensor of {@code shape} over fake memory of exactly its size. */
    public static Tensor tensor(DType dtype, long... shape) {
        return BackendTensor.root(new FakeMemory(Shapes.elementCount(shape) * dtype.byteSize()), dtype, shape);
    }

    @Override
    public String backendId() {
        return "fake";
    }

    @Override
    public int baseAlignment() {
        return 256;
    }
}
