package org.attn4j.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A row-major tensor in host memory, on a {@link MemorySegment}, so more than 2 GiB works.
 * Element accessors take a flat index and convert between {@code float} and the stored dtype.
 * A tensor from {@link #allocate} owns its memory and frees it on {@link #close()}; one from
 * {@link #wrap} only views the caller's segment.
 *
 * <p>Not thread-safe, like an array: any thread may use it (the memory is shared), and threads
 * may read it concurrently, but a write or {@link #close()} must not overlap other use.
 */
public final class HostTensor implements AutoCloseable {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final MemorySegment segment;
    private final DType dtype;
    private final long[] shape;
    private final long elementCount;
    private final Arena arena; // null when the memory belongs to the caller

    private HostTensor(MemorySegment segment, DType dtype, long[] shape, Arena arena) {
        this.segment = segment;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.elementCount = Shapes.elementCount(shape);
        this.arena = arena;
    }

    /**
     * Zero-filled tensor that owns its memory.
     *
     * @param dtype element type
     * @param shape dimensions
     * @return the tensor, closed by the caller
     */
    public static HostTensor allocate(DType dtype, long... shape) {
        Objects.requireNonNull(dtype, "dtype");
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64).asSlice(0, bytes);
        return new HostTensor(seg, dtype, shape, arena);
    }

    /**
     * Views {@code segment} (at least the tensor's byte size) without copying; little-endian.
     *
     * @param segment the caller's memory, which stays the caller's
     * @param dtype   element type
     * @param shape   dimensions
     * @return the view
     */
    public static HostTensor wrap(MemorySegment segment, DType dtype, long... shape) {
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        if (segment.byteSize() < bytes) {
            throw new IllegalArgumentException("segment holds " + segment.byteSize() + " bytes, a "
                    + dtype + " tensor of shape " + Arrays.toString(shape) + " needs " + bytes);
        }
        return new HostTensor(segment.asSlice(0, bytes), dtype, shape, null);
    }

    /**
     * A new owning tensor holding {@code values} rounded to {@code dtype}.
     *
     * @param dtype  element type
     * @param values the elements, row-major, as many as the shape holds
     * @param shape  dimensions
     * @return the tensor, closed by the caller
     */
    public static HostTensor of(DType dtype, float[] values, long... shape) {
        HostTensor t = allocate(dtype, shape);
        if (values.length != t.elementCount) {
            t.close();
            throw new IllegalArgumentException("values has " + values.length + " elements, shape "
                    + Arrays.toString(shape) + " needs " + t.elementCount);
        }
        for (int i = 0; i < values.length; i++) {
            t.setFloat(i, values[i]);
        }
        return t;
    }

    /**
     * A new owning I32 tensor holding {@code values}.
     *
     * @param values the elements, row-major, as many as the shape holds
     * @param shape  dimensions
     * @return the tensor, closed by the caller
     */
    public static HostTensor ofInts(int[] values, long... shape) {
        HostTensor t = allocate(DType.I32, shape);
        if (values.length != t.elementCount) {
            t.close();
            throw new IllegalArgumentException("values has " + values.length + " elements, shape "
                    + Arrays.toString(shape) + " needs " + t.elementCount);
        }
        MemorySegment.copy(values, 0, t.segment, I32, 0, values.length);
        return t;
    }

    /**
     * The memory, exactly the tensor's bytes, little-endian.
     *
     * @return the segment
     */
    public MemorySegment segment() {
        return segment;
    }

    /**
     * The element type.
     *
     * @return the dtype
     */
    public DType dtype() {
        return dtype;
    }

    /**
     * The dimensions.
     *
     * @return a copy
     */
    public long[] shape() {
        return shape.clone();
    }

    /**
     * Length of dimension {@code i}; negative {@code i} counts from the end.
     *
     * @param i the dimension
     * @return its length
     */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /**
     * The number of dimensions.
     *
     * @return the rank
     */
    public int rank() {
        return shape.length;
    }

    /**
     * The number of elements.
     *
     * @return the product of the dimensions
     */
    public long elementCount() {
        return elementCount;
    }

    /**
     * Bytes the elements take.
     *
     * @return the segment's size
     */
    public long byteSize() {
        return segment.byteSize();
    }

    /**
     * Element {@code index} as a float (I32 converted).
     *
     * @param index a flat, row-major index
     * @return the value
     */
    public float getFloat(long index) {
        long o = index * dtype.byteSize();
        return switch (dtype) {
            case F32 -> segment.get(F32, o);
            case F16 -> Numerics.f16ToFloat(segment.get(I16, o));
            case BF16 -> Numerics.bf16ToFloat(segment.get(I16, o));
            case FP8_E4M3 -> Numerics.e4m3ToFloat(segment.get(ValueLayout.JAVA_BYTE, o));
            case FP8_E5M2 -> Numerics.e5m2ToFloat(segment.get(ValueLayout.JAVA_BYTE, o));
            case I32 -> segment.get(I32, o);
        };
    }

    /**
     * Stores {@code value} rounded to nearest even (FP8: saturating; I32: rounded to an integer).
     *
     * @param index a flat, row-major index
     * @param value the value
     */
    public void setFloat(long index, float value) {
        long o = index * dtype.byteSize();
        switch (dtype) {
            case F32 -> segment.set(F32, o, value);
            case F16 -> segment.set(I16, o, Numerics.floatToF16(value));
            case BF16 -> segment.set(I16, o, Numerics.floatToBf16(value));
            case FP8_E4M3 -> segment.set(ValueLayout.JAVA_BYTE, o, Numerics.floatToE4m3(value));
            case FP8_E5M2 -> segment.set(ValueLayout.JAVA_BYTE, o, Numerics.floatToE5m2(value));
            case I32 -> segment.set(I32, o, (int) Math.rint(value));
        }
    }

    /**
     * Element {@code index} of an I32 tensor.
     *
     * @param index a flat, row-major index
     * @return the value
     * @throws IllegalStateException when the tensor is not I32
     */
    public int getInt(long index) {
        requireDtype(DType.I32);
        return segment.get(I32, index * 4);
    }

    /**
     * Stores element {@code index} of an I32 tensor.
     *
     * @param index a flat, row-major index
     * @param value the value
     * @throws IllegalStateException when the tensor is not I32
     */
    public void setInt(long index, int value) {
        requireDtype(DType.I32);
        segment.set(I32, index * 4, value);
    }

    /**
     * The raw stored bits of element {@code index}, zero-extended.
     *
     * @param index a flat, row-major index
     * @return the bits
     */
    public int getBits(long index) {
        long o = index * dtype.byteSize();
        return switch (dtype.byteSize()) {
            case 1 -> segment.get(ValueLayout.JAVA_BYTE, o) & 0xFF;
            case 2 -> segment.get(I16, o) & 0xFFFF;
            default -> segment.get(I32, o);
        };
    }

    /**
     * Stores raw bits into element {@code index} (the low bits of {@code bits} the dtype holds).
     *
     * @param index a flat, row-major index
     * @param bits  the bits
     */
    public void setBits(long index, int bits) {
        long o = index * dtype.byteSize();
        switch (dtype.byteSize()) {
            case 1 -> segment.set(ValueLayout.JAVA_BYTE, o, (byte) bits);
            case 2 -> segment.set(I16, o, (short) bits);
            default -> segment.set(I32, o, bits);
        }
    }

    /**
     * Every element as a float, row-major.
     *
     * @return a new array
     * @throws IllegalStateException when the tensor has too many elements for an array
     */
    public float[] toFloatArray() {
        if (elementCount > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + elementCount + " elements does not fit a Java array");
        }
        float[] out = new float[(int) elementCount];
        for (int i = 0; i < out.length; i++) {
            out[i] = getFloat(i);
        }
        return out;
    }

    /**
     * Sets every byte to {@code value}.
     *
     * @param value the byte
     */
    public void fillBytes(byte value) {
        segment.fill(value);
    }

    /**
     * Copies the bytes of {@code other}, which has as many.
     *
     * @param other the source
     */
    public void copyFrom(HostTensor other) {
        if (other.byteSize() != byteSize()) {
            throw new IllegalArgumentException("copy of " + other.byteSize() + " bytes into a tensor of " + byteSize());
        }
        MemorySegment.copy(other.segment, 0, segment, 0, byteSize());
    }

    private void requireDtype(DType expected) {
        if (dtype != expected) {
            throw new IllegalStateException("tensor is " + dtype + ", not " + expected);
        }
    }

    /** Frees the memory this tensor owns; a view of the caller's segment frees nothing. */
    @Override
    public void close() {
        if (arena != null && arena.scope().isAlive()) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "HostTensor[" + dtype + " " + Arrays.toString(shape) + "]";
    }
}
