package org.attn4j.opencl;

import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

/**
 * One OpenCL device as the probe found it.
 *
 * @param index            position in the list of every device of every platform
 * @param platformName     its platform's name
 * @param name             the device's name
 * @param gpu              whether it reports itself as a GPU
 * @param type             CPU, GPU, ACCELERATOR or OTHER
 * @param version          the device's OpenCL version string
 * @param computeUnits     CL_DEVICE_MAX_COMPUTE_UNITS
 * @param globalMemBytes   CL_DEVICE_GLOBAL_MEM_SIZE
 * @param localMemBytes    CL_DEVICE_LOCAL_MEM_SIZE
 * @param maxWorkGroupSize CL_DEVICE_MAX_WORK_GROUP_SIZE
 * @param correctDivide    whether float division can be built correctly rounded
 * @param baseAlignBytes   CL_DEVICE_MEM_BASE_ADDR_ALIGN in bytes: where buffers start and
 *                         sub-buffers may begin
 * @param nvidiaCompute    an NVIDIA device's compute capability as major * 10 + minor (from
 *                         {@code cl_nv_device_attribute_query}), 0 for every other device
 * @param platform         the platform handle
 * @param device           the device handle
 */
record OpenClDevice(int index, String platformName, String name, boolean gpu, String type, String version,
                    int computeUnits, long globalMemBytes, long localMemBytes, long maxWorkGroupSize,
                    boolean correctDivide, int baseAlignBytes, int nvidiaCompute, cl_platform_id platform,
                    cl_device_id device) {

    /**
     * Whether kernels may use NVIDIA's Tensor Core instructions through inline PTX
     * ({@code mma.sync} on 16-bit types needs compute capability 8.0).
     */
    boolean nvidiaTensorCores() {
        return nvidiaCompute >= 80;
    }

    String describe() {
        return String.format("#%d %s [%s] on %s, %s, %d compute units, %d MiB global, %d KiB local%s", index, name,
                type, platformName, version, computeUnits, globalMemBytes >> 20, localMemBytes >> 10,
                nvidiaCompute > 0 ? ", compute capability " + nvidiaCompute / 10 + "." + nvidiaCompute % 10 : "");
    }
}
