package org.attn4j.cuda.driver;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

/**
 * Tensor-copy descriptors (Hopper's TMA, {@code CUtensorMap}) encoded by the driver's
 * {@code cuTensorMapEncodeTiled}, which JCuda 12.0.0 does not bind: the one symbol is called on
 * {@code libcuda.so.1} through the JDK's foreign function API. Encoding is host work (no stream,
 * nothing launched), but the driver encodes for the context current on the calling thread
 * (CUresult 201 without one), so callers make theirs current first. Loaded once, lazily; where
 * the library or the symbol is missing (drivers before CUDA 12) the encoder is unavailable with
 * the reason, and nothing is thrown at class load.
 */
public final class TensorMapEncoder {
    /** {@code sizeof(CUtensorMap)}. */
    public static final int DESCRIPTOR_BYTES = 128;
    /** {@code CU_TENSOR_MAP_DATA_TYPE_UINT16}: 16-bit elements copied as they are. */
    public static final int UINT16 = 1;
    /** {@code CU_TENSOR_MAP_SWIZZLE_128B}: the layout the wgmma descriptors read. */
    public static final int SWIZZLE_128B = 3;
    /** {@code CU_TENSOR_MAP_L2_PROMOTION_L2_256B}. */
    public static final int L2_PROMOTION_256B = 3;

    private static final String LIBRARY = "libcuda.so.1";
    private static final String SYMBOL = "cuTensorMapEncodeTiled";
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;

    private final MethodHandle encodeTiled;

    private TensorMapEncoder(MethodHandle encodeTiled) {
        this.encodeTiled = encodeTiled;
    }

    /** The encoder, or why there is none; computed once. */
    private static final class Holder {
        static final TensorMapEncoder ENCODER;
        static final String REASON;

        static {
            TensorMapEncoder encoder = null;
            String reason = null;
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(LIBRARY, Arena.global());
                MemorySegment symbol = lookup.find(SYMBOL)
                        .orElseThrow(() -> new IllegalStateException(LIBRARY + " has no symbol " + SYMBOL));
                // CUresult (CUtensorMap*, CUtensorMapDataType, cuuint32_t rank, void* address,
                // const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                // const cuuint32_t* elementStrides, interleave, swizzle, l2Promotion, oobFill)
                encoder = new TensorMapEncoder(Linker.nativeLinker().downcallHandle(symbol, FunctionDescriptor.of(INT,
                        ValueLayout.ADDRESS, INT, INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.ADDRESS, INT, INT, INT, INT)));
            } catch (Throwable t) { // a missing library, symbol or native access: unavailable, never an Error
                reason = SYMBOL + " could not be bound: " + t.getClass().getSimpleName()
                        + (t.getMessage() == null ? "" : ": " + t.getMessage().lines().findFirst().orElse(""));
            }
            ENCODER = encoder;
            REASON = reason;
        }
    }

    /**
     * The bound encoder, or null when unavailable ({@link #unavailableReason()}).
     *
     * @return the encoder or null
     */
    public static TensorMapEncoder get() {
        return Holder.ENCODER;
    }

    /**
     * Why the encoder is unavailable, or null when it is bound.
     *
     * @return the reason or null
     */
    public static String unavailableReason() {
        return Holder.REASON;
    }

    /**
     * Encodes a tiled descriptor of 16-bit elements without interleaving or out-of-bounds fill.
     *
     * @param address      the tensor's device address (16-byte aligned)
     * @param dims         elements per dimension, innermost first
     * @param byteStrides  bytes between consecutive indices of dimensions 1.. (multiples of 16)
     * @param box          the box's elements per dimension, innermost first
     * @param swizzle      a {@code CUtensorMapSwizzle}
     * @param l2Promotion  a {@code CUtensorMapL2promotion}
     * @return the descriptor's {@value #DESCRIPTOR_BYTES} bytes
     * @throws CudaException where the driver rejects the arguments
     */
    public byte[] encode16(long address, long[] dims, long[] byteStrides, int[] box, int swizzle, int l2Promotion) {
        int rank = dims.length;
        if (byteStrides.length != rank - 1 || box.length != rank) {
            throw new IllegalArgumentException("rank " + rank + " needs " + (rank - 1) + " strides and " + rank
                    + " box dims; actual " + byteStrides.length + " and " + box.length);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment map = a.allocate(DESCRIPTOR_BYTES, 64);
            MemorySegment d = a.allocateFrom(LONG, dims);
            MemorySegment s = a.allocateFrom(LONG, byteStrides.length == 0 ? new long[1] : byteStrides);
            MemorySegment b = a.allocateFrom(INT, box);
            int[] ones = new int[rank];
            Arrays.fill(ones, 1);
            MemorySegment e = a.allocateFrom(INT, ones);
            int rc;
            try {
                rc = (int) encodeTiled.invokeExact(map, UINT16, rank, MemorySegment.ofAddress(address), d, s, b, e,
                        0, swizzle, l2Promotion, 0);
            } catch (Throwable t) {
                throw new CudaException("a failed downcall (" + t.getClass().getSimpleName() + ")", -1, SYMBOL);
            }
            if (rc != 0) {
                throw new CudaException("CUresult " + rc, rc, SYMBOL + "(dims " + Arrays.toString(dims)
                        + ", strides " + Arrays.toString(byteStrides) + ", box "
                        + Arrays.toString(box) + ")");
            }
            return map.toArray(ValueLayout.JAVA_BYTE);
        }
    }
}
