package org.attn4j.opencl;

import static org.jocl.CL.*;

import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_command_queue;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;

/** Sets a kernel's arguments in order and enqueues it; callers hold the session's launch lock. */
final class KernelCall {
    private final cl_kernel kernel;
    private final String name;
    private int index;

    KernelCall(cl_kernel kernel, String name) {
        this.kernel = kernel;
        this.name = name;
    }

    KernelCall mem(cl_mem m) {
        return set(Sizeof.cl_mem, Pointer.to(m));
    }

    /** A tensor's buffer and the element offset of its first element (kernels take both). */
    KernelCall tensor(org.attn4j.tensor.Tensor t) {
        return mem(OpenClMemory.mem(t)).l(OpenClMemory.offset(t));
    }

    KernelCall i(int v) {
        return set(Sizeof.cl_int, Pointer.to(new int[] {v}));
    }

    KernelCall l(long v) {
        return set(Sizeof.cl_long, Pointer.to(new long[] {v}));
    }

    KernelCall f(float v) {
        return set(Sizeof.cl_float, Pointer.to(new float[] {v}));
    }

    private KernelCall set(long size, Pointer p) {
        int at = index++;
        ClCalls.call("clSetKernelArg(" + name + ", " + at + ")", () -> {
            clSetKernelArg(kernel, at, size, p);
        });
        return this;
    }

    /**
     * Enqueues {@code count} work-items in 1-D groups of {@code group}, the range padded up to a
     * multiple (kernels bound-check against {@code count}). A fixed group size matters: a
     * runtime that specialises kernels per work-group size then builds each kernel once.
     */
    void launch1d(cl_command_queue queue, long count, int group) {
        long global = (count + group - 1) / group * group;
        launch(queue, new long[] {global}, new long[] {group});
    }

    /** Enqueues over {@code global} work-items in groups of {@code local}. */
    void launch(cl_command_queue queue, long[] global, long[] local) {
        for (long g : global) {
            if (g == 0) {
                return; // nothing to do; an empty range is an error in OpenCL
            }
        }
        ClCalls.call("clEnqueueNDRangeKernel(" + name + ", global " + java.util.Arrays.toString(global)
                + (local == null ? "" : ", local " + java.util.Arrays.toString(local)) + ")", () -> {
            clEnqueueNDRangeKernel(queue, kernel, global.length, null, global, local, 0, null, null);
        });
    }
}
