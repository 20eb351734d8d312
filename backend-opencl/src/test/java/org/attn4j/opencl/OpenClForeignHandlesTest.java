package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.Probe;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.junit.jupiter.api.Test;

/**
 * A caller's OpenCL handle that is no OpenCL object is refused with the argument's name, not
 * handed to the driver, which would dereference it and crash the process.
 */
class OpenClForeignHandlesTest {
    private static void requireDevice() {
        Probe p = new OpenClBackendProvider().probe();
        assumeTrue(p.available(), () -> "opencl unavailable: " + p.reasons());
    }

    @Test
    void madeUpBufferHandlesAreRefused() {
        requireDevice();
        try (AttentionBackend be = Backends.open("opencl"); Arena arena = Arena.ofConfined()) {
            MemorySegment zeros = arena.allocate(64, 8);
            for (long handle : new long[] {12345, 0x8000, zeros.address()}) {
                InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                        () -> be.wrap(new ExternalMemory.OpenClBuffer(handle, 0, 64), DType.F32, 16));
                assertTrue(e.getMessage().startsWith("memory.clMem: is not an OpenCL buffer: 0x"), e.getMessage());
            }
        }
    }

    @Test
    void madeUpQueueHandlesAreRefusedWhenTheBackendOpens() {
        requireDevice();
        for (long handle : new long[] {12345, 0x8000}) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
                    () -> Backends.open("opencl", BackendOptions.DEFAULT.withHandle("queue", handle)).close());
            assertTrue(e.getMessage().startsWith("queue: is not an OpenCL command queue: 0x"), e.getMessage());
        }
    }

    @Test
    void aRealQueueAndBufferPass() {
        requireDevice();
        try (AttentionBackend first = Backends.open("opencl")) {
            org.jocl.cl_command_queue queue = org.jocl.CL.clCreateCommandQueue(OpenClInterop.context(first),
                    OpenClInterop.device(first), 0, null);
            org.jocl.cl_mem buffer = org.jocl.CL.clCreateBuffer(OpenClInterop.context(first),
                    org.jocl.CL.CL_MEM_READ_WRITE, 256, null, null);
            try (AttentionBackend onQueue = OpenClInterop.open(queue)) {
                onQueue.wrap(OpenClInterop.memory(buffer, 0, 256), DType.F32, 64).close();
            } finally {
                org.jocl.CL.clReleaseMemObject(buffer);
                org.jocl.CL.clReleaseCommandQueue(queue);
            }
        }
    }
}
