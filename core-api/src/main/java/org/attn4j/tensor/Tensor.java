package org.attn4j.tensor;

/**
 * A tensor owned by a backend: device memory on GPU backends, host memory on the reference.
 * Row-major and contiguous. Closing frees the memory; using a closed tensor is rejected.
 */
public interface Tensor extends AutoCloseable {
    DType dtype();

    /** The dimensions, a fresh copy on every call. */
    long[] shape();

    /** Length of dimension {@code i}; negative {@code i} counts from the end. */
    default long dim(int i) {
        long[] s = shape();
        return s[i < 0 ? s.length + i : i];
    }

    default int rank() {
        return shape().length;
    }

    default long elementCount() {
        return Shapes.elementCount(shape());
    }

    default long byteSize() {
        return elementCount() * dtype().byteSize();
    }

    /** Id of the backend that owns this tensor ({@code cuda}, {@code opencl}, {@code reference}). */
    String backendId();

    boolean isClosed();

    @Override
    void close();
}
