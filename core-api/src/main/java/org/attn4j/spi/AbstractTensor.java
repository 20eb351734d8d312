package org.attn4j.spi;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Shapes;
import org.attn4j.tensor.Tensor;

/** Shape, dtype and close-once bookkeeping for backend tensors; subclasses free the memory. */
public abstract class AbstractTensor implements Tensor {
    private final DType dtype;
    private final long[] shape;
    private final long elementCount;
    private final AtomicBoolean closed = new AtomicBoolean();

    protected AbstractTensor(DType dtype, long[] shape) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.elementCount = Shapes.elementCount(shape);
    }

    @Override
    public final DType dtype() {
        return dtype;
    }

    @Override
    public final long[] shape() {
        return shape.clone();
    }

    @Override
    public final long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    @Override
    public final int rank() {
        return shape.length;
    }

    @Override
    public final long elementCount() {
        return elementCount;
    }

    @Override
    public final boolean isClosed() {
        return closed.get();
    }

    @Override
    public final void close() {
        if (closed.compareAndSet(false, true)) {
            release();
        }
    }

    /** Frees the memory; called once. */
    protected abstract void release();

    @Override
    public String toString() {
        return backendId() + " tensor " + dtype + " " + Arrays.toString(shape) + (isClosed() ? " (closed)" : "");
    }
}
