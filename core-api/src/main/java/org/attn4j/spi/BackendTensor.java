package org.attn4j.spi;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Shapes;
import org.attn4j.tensor.Tensor;

/**
 * The one {@link Tensor} implementation every backend uses: a dtype, a shape, element strides and
 * an element offset into a backend's {@link TensorMemory}. Tensors made by {@code allocate},
 * {@code upload} or {@code wrap} are roots: closing a root closes its memory (owned memory is
 * freed; borrowed memory is left to its owner). {@link #view} makes tensors over the same memory;
 * closing a view only retires that view.
 *
 * <p>Immutable apart from its closed state; safe to share between threads.
 */
public final class BackendTensor implements Tensor {
    private final TensorMemory memory;
    private final DType dtype;
    private final long[] shape;
    private final long[] strides;
    private final long offset;
    private final long elementCount;
    private final boolean contiguous;
    private final boolean root;
    private final AtomicBoolean closed = new AtomicBoolean();

    private BackendTensor(TensorMemory memory, DType dtype, long[] shape, long[] strides, long offset, boolean root) {
        this.memory = memory;
        this.dtype = dtype;
        this.shape = shape;
        this.strides = strides;
        this.offset = offset;
        this.root = root;
        this.elementCount = Args.elementCount(shape, "shape");
        this.contiguous = isRowMajor(shape, strides);
    }

    /**
     * A contiguous root tensor over all of {@code memory} from byte 0.
     *
     * @param memory the backend's memory, owned or borrowed
     * @param dtype  element type
     * @param shape  dimensions
     * @return the root, which closes the memory when closed
     * @throws InvalidArgumentException when the shape does not fit the memory
     */
    public static BackendTensor root(TensorMemory memory, DType dtype, long[] shape) {
        long[] s = shape.clone();
        long bytes = Args.multiply(Args.elementCount(s, "shape"), dtype.byteSize(), "shape");
        if (bytes > memory.byteSize()) {
            throw InvalidArgumentException.expected("shape", "at most " + memory.byteSize() + " bytes of memory",
                    bytes + " bytes for " + dtype + " " + Arrays.toString(s));
        }
        return new BackendTensor(memory, dtype, s, Shapes.contiguousStrides(s), 0, true);
    }

    /** Row-major, ignoring the strides of dimensions of length 1 (they never step). */
    private static boolean isRowMajor(long[] shape, long[] strides) {
        long[] rowMajor = Shapes.contiguousStrides(shape);
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] > 1 && strides[i] != rowMajor[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * The backend memory this tensor lies in.
     *
     * @return the memory
     */
    public TensorMemory memory() {
        return memory;
    }

    /**
     * Elements from byte 0 of the memory to this tensor's first element.
     *
     * @return the offset
     */
    public long elementOffset() {
        return offset;
    }

    /**
     * Bytes from byte 0 of the memory to this tensor's first element.
     *
     * @return the offset
     */
    public long byteOffset() {
        return offset * dtype.byteSize();
    }

    /**
     * The largest power of two (at most 256) dividing the byte address of the first element and
     * every stride but the last one's, in bytes: what vector loads along this tensor's rows (its
     * last dimension) may assume about where each row starts.
     *
     * @return bytes, a power of two
     */
    public int alignment() {
        long a = Math.min(256, memory.baseAlignment());
        a = Math.min(a, lowestBit(byteOffset(), 256));
        for (int i = 0; i < shape.length - 1; i++) {
            if (shape[i] > 1) {
                a = Math.min(a, lowestBit(strides[i] * dtype.byteSize(), 256));
            }
        }
        return (int) a;
    }

    private static long lowestBit(long v, long cap) {
        return v == 0 ? cap : Math.min(cap, Long.lowestOneBit(v));
    }

    /**
     * Whether a root tensor (closing it closes the memory) rather than a view.
     *
     * @return true for a root
     */
    public boolean isRoot() {
        return root;
    }

    /**
     * Enters this tensor's memory for one call, rejecting a closed tensor by {@code name}; pair
     * with {@link #exit()}.
     *
     * @param name the argument the call knows the tensor as
     */
    public void enter(String name) {
        memory.guard().enter(name);
        if (closed.get()) {
            memory.guard().exit();
            throw new InvalidArgumentException(name, "tensor is closed");
        }
    }

    /**
     * Leaves the memory entered by {@link #enter}; a close waiting for the call may then proceed.
     */
    public void exit() {
        memory.guard().exit();
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public long[] strides() {
        return strides.clone();
    }

    @Override
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /**
     * Stride of dimension {@code i} in elements; negative {@code i} counts from the end.
     *
     * @param i the dimension
     * @return its stride
     */
    public long stride(int i) {
        return strides[i < 0 ? strides.length + i : i];
    }

    @Override
    public int rank() {
        return shape.length;
    }

    @Override
    public long elementCount() {
        return elementCount;
    }

    @Override
    public boolean isContiguous() {
        return contiguous;
    }

    @Override
    public boolean isBorrowed() {
        return memory.isBorrowed();
    }

    @Override
    public String backendId() {
        return memory.backendId();
    }

    @Override
    public boolean isClosed() {
        return closed.get() || memory.isClosed();
    }

    @Override
    public Tensor view(long elementOffset, long[] viewShape, long[] viewStrides) {
        Args.notNull(viewShape, "shape");
        Args.notNull(viewStrides, "strides");
        if (viewShape.length != viewStrides.length) {
            throw InvalidArgumentException.expected("strides.length", "shape.length = " + viewShape.length,
                    viewStrides.length);
        }
        if (isClosed()) {
            throw new InvalidArgumentException("tensor", "is closed");
        }
        Args.nonNegative(elementOffset, "offset");
        long[] sh = viewShape.clone();
        long[] st = viewStrides.clone();
        long count = Args.elementCount(sh, "shape");
        long start = Args.add(offset, elementOffset, "offset");
        long last = start;
        for (int i = 0; i < sh.length; i++) {
            Args.nonNegative(st[i], "strides[" + i + "]");
            if (sh[i] > 0) {
                last = Args.add(last, Args.multiply(sh[i] - 1, st[i], "strides[" + i + "]"), "strides");
            }
        }
        long capacity = memory.byteSize() / dtype.byteSize();
        long end = count == 0 ? start : Args.add(last, 1, "offset");
        if (end > capacity) {
            throw new InvalidArgumentException("view", "elements [" + start + ", " + end + ") of a " + dtype
                    + " view reach past the memory's " + capacity + " elements");
        }
        return new BackendTensor(memory, dtype, sh, st, start, false);
    }

    /**
     * Whether no two elements of this tensor share an address, so it may be written: dimensions
     * sorted by stride, each stride passes the span of the dimensions inside it.
     *
     * @return true when it may be written
     */
    public boolean isNonOverlapping() {
        Integer[] order = new Integer[shape.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (x, y) -> Long.compare(strides[x], strides[y]));
        long span = 0; // elements - 1 spanned by the dimensions seen so far
        for (int i : order) {
            if (shape[i] <= 1) {
                continue;
            }
            if (strides[i] <= span) {
                return false;
            }
            span += (shape[i] - 1) * strides[i];
        }
        return true;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && root) {
            memory.close();
        }
    }

    @Override
    public String toString() {
        return backendId() + " tensor " + dtype + " " + Arrays.toString(shape)
                + (contiguous ? "" : " strides " + Arrays.toString(strides))
                + (offset == 0 ? "" : " at element " + offset) + (isBorrowed() ? " (borrowed)" : "")
                + (isClosed() ? " (closed)" : "");
    }
}
