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

    /** Zero-filled tensor that owns its memory. */
    public static HostTensor allocate(DType dtype, long... shape) {
        Objects.requireNonNull(dtype, "dtype");
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        Arena arena = Arena.ofShared();
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64).asSlice(0, bytes);
        return new HostTensor(seg, dtype, shape, arena);
    }

    /** Views {@code segment} (at least the tensor's byte size) without copying; little-endian. */
    public static HostTensor wrap(MemorySegment segment, DType dtype, long... shape) {
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        if (segment.byteSize() < bytes) {
            throw new IllegalArgumentException("segment holds " + segment.byteSize() + " bytes, a "
                    + dtype + " tensor of shape " + Arrays.toString(shape) + " needs " + bytes);
        }
        return new HostTensor(segment.asSlice(0, bytes), dtype, shape, null);
    }

    /** A new owning tensor holding {@code values} rounded to {@code dtype}. */
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

    public MemorySegment segment() {
        return segment;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int rank() {
        return shape.length;
    }

    public long elementCount() {
        return elementCount;
    }

    public long byteSize() {
        return segment.byteSize();
    }

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

    /** Stores {@code value} rounded to nearest even (FP8: saturating). */
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

    public int getInt(long index) {
        requireDtype(DType.I32);
        return segment.get(I32, index * 4);
    }

    public void setInt(long index, int value) {
        requireDtype(DType.I32);
        segment.set(I32, index * 4, value);
    }

    /** The raw stored bits of element {@code index}, zero-extended. */
    public int getBits(long index) {
        long o = index * dtype.byteSize();
        return switch (dtype.byteSize()) {
            case 1 -> segment.get(ValueLayout.JAVA_BYTE, o) & 0xFF;
            case 2 -> segment.get(I16, o) & 0xFFFF;
            default -> segment.get(I32, o);
        };
    }

    public void setBits(long index, int bits) {
        long o = index * dtype.byteSize();
        switch (dtype.byteSize()) {
            case 1 -> segment.set(ValueLayout.JAVA_BYTE, o, (byte) bits);
            case 2 -> segment.set(I16, o, (short) bits);
            default -> segment.set(I32, o, bits);
        }
    }

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

    /** Sets every byte to {@code value}. */
    public void fillBytes(byte value) {
        segment.fill(value);
    }

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
