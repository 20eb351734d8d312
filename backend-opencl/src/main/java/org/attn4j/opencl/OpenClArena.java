package org.attn4j.opencl;

import static org.jocl.CL.CL_BUFFER_CREATE_TYPE_REGION;
import static org.jocl.CL.CL_MEM_READ_WRITE;
import static org.jocl.CL.clCreateSubBuffer;
import static org.jocl.CL.clReleaseMemObject;

import org.attn4j.spi.RegionArena;
import org.jocl.cl_buffer_region;
import org.jocl.cl_mem;

/**
 * Device memory for plans and calls ({@link RegionArena} over OpenCL buffers), so planning again
 * creates no buffers once the arena holds the working set. A region is handed out as
 * sub-buffers, which are views, not allocations, starting on the device's base alignment.
 */
final class OpenClArena implements AutoCloseable {
    private final RegionArena<cl_mem> arena;

    /** Bytes of one chunk from {@code offset}. */
    record Region(cl_mem chunk, long offset, long bytes) {}

    OpenClArena(OpenClSession session) {
        this.arena = new RegionArena<>(bytes -> session.newBuffer(bytes, "arena chunk"),
                session.deviceInfo().baseAlignBytes(), 1L << 20);
    }

    long alignment() {
        return arena.alignment();
    }

    Region take(long bytes) {
        RegionArena.Region<cl_mem> r = arena.take(bytes);
        return new Region(r.chunk(), r.offset(), r.bytes());
    }

    void give(Region r) {
        arena.give(new RegionArena.Region<>(r.chunk(), r.offset(), r.bytes()));
    }

    /** A sub-buffer over {@code bytes} of {@code mem} from {@code offset} (aligned). */
    static cl_mem subBuffer(cl_mem mem, long offset, long bytes) {
        cl_buffer_region region = new cl_buffer_region(offset, Math.max(4, bytes));
        return ClCalls.call("clCreateSubBuffer(" + offset + ", " + bytes + " bytes)",
                () -> clCreateSubBuffer(mem, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, region, null));
    }

    @Override
    public void close() {
        for (cl_mem c : arena.chunks()) {
            clReleaseMemObject(c);
        }
    }
}
