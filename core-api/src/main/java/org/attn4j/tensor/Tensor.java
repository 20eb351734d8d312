package org.attn4j.tensor;

/**
 * A tensor of a backend: device memory on GPU backends, host memory on the reference. Tensors
 * from {@code allocate} and {@code upload} own their memory and are row-major and contiguous;
 * tensors from {@code wrap} view memory the caller owns; {@link #view} makes strided views over
 * the same memory (a fused QKV projection's q, k and v, say). Closing a tensor that owns its
 * memory frees it; closing a view or a borrowed tensor frees nothing. A closed tensor is rejected
 * by every call.
 *
 * <p>Thread-safe: tensors are immutable apart from being closed, and closing waits for calls
 * that are using the memory.
 */
public interface Tensor extends AutoCloseable {
    /**
     * The element type.
     *
     * @return the dtype
     */
    DType dtype();

    /**
     * The dimensions, a fresh copy on every call.
     *
     * @return the shape
     */
    long[] shape();

    /**
     * Elements from one index of each dimension to the next, a fresh copy on every call.
     *
     * @return the strides
     */
    long[] strides();

    /**
     * Length of dimension {@code i}; negative {@code i} counts from the end.
     *
     * @param i the dimension, from {@code -rank} to {@code rank - 1}
     * @return its length
     */
    default long dim(int i) {
        long[] s = shape();
        return s[i < 0 ? s.length + i : i];
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    default int rank() {
        return shape().length;
    }

    /**
     * The number of elements.
     *
     * @return the product of the dimensions
     */
    default long elementCount() {
        return Shapes.elementCount(shape());
    }

    /**
     * Bytes the elements would take stored contiguously.
     *
     * @return elements times the element size
     */
    default long byteSize() {
        return elementCount() * dtype().byteSize();
    }

    /**
     * Whether the strides are the row-major strides of the shape.
     *
     * @return true for a contiguous tensor
     */
    boolean isContiguous();

    /**
     * Whether the memory belongs to the caller ({@code wrap}), so closing frees nothing.
     *
     * @return true for a borrowed tensor
     */
    boolean isBorrowed();

    /**
     * A tensor over this one's memory: element {@code (i0, i1, ...)} of the view is element
     * {@code offset + i0 * strides[0] + i1 * strides[1] + ...} counted from this tensor's first
     * element, in this tensor's dtype. Strides are non-negative; the view must stay inside the
     * memory. Which operations take non-contiguous views is stated per operation (q, o, appended
     * K/V and RoPE inputs take a token stride and a head stride; the head dim is contiguous).
     *
     * @param offset  elements from this tensor's first element to the view's
     * @param shape   the view's dimensions
     * @param strides the view's strides, in elements
     * @return the view, which frees nothing when closed
     * @throws org.attn4j.error.InvalidArgumentException for a negative offset or stride, an
     *         overflowing extent, or a view reaching past the memory
     */
    Tensor view(long offset, long[] shape, long[] strides);

    /**
     * A contiguous view of {@code shape} starting {@code offset} elements into this tensor.
     *
     * @param offset elements from this tensor's first element to the view's
     * @param shape  the view's dimensions
     * @return the view
     */
    default Tensor view(long offset, long... shape) {
        return view(offset, shape, org.attn4j.tensor.Shapes.contiguousStrides(shape));
    }

    /**
     * Id of the backend that owns this tensor.
     *
     * @return {@code cuda}, {@code opencl}, {@code reference} or another provider's id
     */
    String backendId();

    /**
     * Whether the tensor was closed (every call then rejects it).
     *
     * @return true once closed
     */
    boolean isClosed();

    /**
     * Frees the memory this tensor owns, after the calls using it have queued their work; a view or
     * a borrowed tensor frees nothing.
     */
    @Override
    void close();
}
