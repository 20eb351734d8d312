package org.attn4j.tensor;

import java.lang.foreign.MemorySegment;
import org.attn4j.internal.check.Args;

/**
 * Memory the caller owns and lends to attn4j, to be viewed as a tensor without a copy
 * ({@code AttentionBackend.wrap}): an engine's KV pool, its fused QKV projection output, its
 * output buffers. attn4j never frees it; the caller keeps it alive (and unchanged by other work)
 * while calls that use it run, and frees it only after closing the tensors over it and after the
 * device work that reads it has finished.
 */
public sealed interface ExternalMemory {
    /** Which backends can address a kind of memory. */
    enum Kind {
        /** A CUDA device address in the session's context ({@code cuda}). */
        CUDA_DEVICE_POINTER,
        /** An OpenCL buffer of the session's context ({@code opencl}). */
        OPENCL_BUFFER,
        /** Host memory ({@code reference}). */
        HOST_SEGMENT
    }

    /** Bytes the caller states are addressable from the start. */
    long capacityBytes();

    Kind kind();

    /**
     * A CUDA device address (from {@code cuMemAlloc}, JCuda's {@code CUdeviceptr}, or any library
     * in the same process and context) with the bytes addressable from it.
     */
    record CudaDevicePointer(long address, long capacityBytes) implements ExternalMemory {
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
     * the bytes addressable from that offset.
     */
    record OpenClBuffer(long clMem, long byteOffset, long capacityBytes) implements ExternalMemory {
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

    /** Host memory; little-endian element order, as {@link HostTensor}. */
    record HostSegment(MemorySegment segment) implements ExternalMemory {
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

    static ExternalMemory cudaDevicePointer(long address, long capacityBytes) {
        return new CudaDevicePointer(address, capacityBytes);
    }

    static ExternalMemory openClBuffer(long clMem, long byteOffset, long capacityBytes) {
        return new OpenClBuffer(clMem, byteOffset, capacityBytes);
    }

    static ExternalMemory hostSegment(MemorySegment segment) {
        return new HostSegment(segment);
    }
}
