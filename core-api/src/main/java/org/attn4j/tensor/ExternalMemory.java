package org.attn4j.tensor;

import java.lang.foreign.MemorySegment;
import org.attn4j.internal.check.Args;

/**
 * Memory the caller owns and lends to attn4j, to be viewed as a tensor without a copy
 * ({@code AttentionBackend.wrap}): an engine's KV pool, its fused QKV projection output, its
 * output buffers. attn4j never frees it; the caller keeps it alive (and unchanged by other work)
 * while calls that use it run, and frees it only after closing the tensors over it and after the
 * device work that reads it has finished.
 *
 * <p>Implementations are immutable records and thread-safe.
 */
public sealed interface ExternalMemory {
    /** Which backends can address a kind of memory. Immutable and thread-safe. */
    enum Kind {
        /** A CUDA device address in the session's context ({@code cuda}). */
        CUDA_DEVICE_POINTER,
        /** An OpenCL buffer of the session's context ({@code opencl}). */
        OPENCL_BUFFER,
        /** Host memory ({@code reference}). */
        HOST_SEGMENT
    }

    /**
     * Bytes the caller states are addressable from the start.
     *
     * @return the capacity
     */
    long capacityBytes();

    /**
     * Which backends can address this memory.
     *
     * @return its kind
     */
    Kind kind();

    /**
     * A CUDA device address (from {@code cuMemAlloc}, JCuda's {@code CUdeviceptr}, or any library
     * in the same process and context) with the bytes addressable from it. Immutable and thread-safe.
     *
     * @param address       the device address, not 0
     * @param capacityBytes bytes addressable from it
     */
    record CudaDevicePointer(long address, long capacityBytes) implements ExternalMemory {
        /**
         * Checks the address and capacity.
         *
         * @throws org.attn4j.error.InvalidArgumentException for the null pointer or a negative capacity
         */
        public CudaDevicePointer {
            if (address == 0) {
                throw new org.attn4j.error.InvalidArgumentException("address", "is the null device pointer");
            }
            Args.nonNegative(capacityBytes, "capacityBytes");
        }

        @Override
        public Kind kind() {
            return Kind.CUDA_DEVICE_POINTER;
        }
    }

    /**
     * An OpenCL buffer ({@code cl_mem}, as its native handle: JOCL's
     * {@code cl_mem.getNativePointer()}, LWJGL's {@code long}) and a byte offset into it, with
     * the bytes addressable from that offset. Immutable and thread-safe.
     *
     * @param clMem         the buffer's native handle, not 0
     * @param byteOffset    bytes from the buffer's start to the memory's
     * @param capacityBytes bytes addressable from the offset
     */
    record OpenClBuffer(long clMem, long byteOffset, long capacityBytes) implements ExternalMemory {
        /**
         * Checks the handle, offset and capacity.
         *
         * @throws org.attn4j.error.InvalidArgumentException for a null handle or a negative offset or capacity
         */
        public OpenClBuffer {
            if (clMem == 0) {
                throw new org.attn4j.error.InvalidArgumentException("clMem", "is a null handle");
            }
            Args.nonNegative(byteOffset, "byteOffset");
            Args.nonNegative(capacityBytes, "capacityBytes");
        }

        @Override
        public Kind kind() {
            return Kind.OPENCL_BUFFER;
        }
    }

    /**
     * Host memory; little-endian element order, as {@link HostTensor}. Immutable and thread-safe
     * (the memory it names is the caller's).
     *
     * @param segment the memory, all of it addressable
     */
    record HostSegment(MemorySegment segment) implements ExternalMemory {
        /**
         * Checks the segment.
         *
         * @throws org.attn4j.error.InvalidArgumentException for a null segment
         */
        public HostSegment {
            Args.notNull(segment, "segment");
        }

        @Override
        public long capacityBytes() {
            return segment.byteSize();
        }

        @Override
        public Kind kind() {
            return Kind.HOST_SEGMENT;
        }
    }

    /**
     * A CUDA device address with the bytes addressable from it.
     *
     * @param address       the device address, not 0
     * @param capacityBytes bytes addressable from it
     * @return the memory, to wrap
     */
    static ExternalMemory cudaDevicePointer(long address, long capacityBytes) {
        return new CudaDevicePointer(address, capacityBytes);
    }

    /**
     * An OpenCL buffer's native handle and a byte offset into it.
     *
     * @param clMem         the buffer's native handle, not 0
     * @param byteOffset    bytes from the buffer's start
     * @param capacityBytes bytes addressable from the offset
     * @return the memory, to wrap
     */
    static ExternalMemory openClBuffer(long clMem, long byteOffset, long capacityBytes) {
        return new OpenClBuffer(clMem, byteOffset, capacityBytes);
    }

    /**
     * Host memory.
     *
     * @param segment the memory
     * @return the memory, to wrap
     */
    static ExternalMemory hostSegment(MemorySegment segment) {
        return new HostSegment(segment);
    }
}
