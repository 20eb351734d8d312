package org.attn4j.opencl;

import static org.jocl.CL.*;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.attn4j.error.BackendUnavailableException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

/** Lists platforms and devices and picks one: GPU before CPU unless a selector says otherwise. */
final class OpenClPlatforms {
    private OpenClPlatforms() {}

    /** Every device of every platform; loads JOCL's native library (may throw anything). */
    static List<OpenClDevice> devices() {
        return discover(new ArrayList<>());
    }

    /** As {@link #devices()}, noting platforms that have no device in {@code notes}. */
    static List<OpenClDevice> discover(List<String> notes) {
        setExceptionsEnabled(true);
        int[] count = new int[1];
        clGetPlatformIDs(0, null, count);
        cl_platform_id[] platforms = new cl_platform_id[count[0]];
        if (platforms.length > 0) {
            clGetPlatformIDs(platforms.length, platforms, null);
        }
        List<OpenClDevice> out = new ArrayList<>();
        for (cl_platform_id platform : platforms) {
            String platformName = platformString(platform, CL_PLATFORM_NAME);
            int[] n = new int[1];
            int status = clGetDeviceIDsNoThrow(platform, n);
            if (status != CL_SUCCESS || n[0] == 0) {
                notes.add("platform '" + platformName + "' has no device (" + stringFor_errorCode(status) + ")");
                continue;
            }
            cl_device_id[] devs = new cl_device_id[n[0]];
            clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, devs.length, devs, null);
            for (cl_device_id d : devs) {
                long type = deviceLong(d, CL_DEVICE_TYPE);
                boolean gpu = (type & CL_DEVICE_TYPE_GPU) != 0;
                String typeName = gpu ? "GPU" : (type & CL_DEVICE_TYPE_CPU) != 0 ? "CPU"
                        : (type & CL_DEVICE_TYPE_ACCELERATOR) != 0 ? "ACCELERATOR" : "OTHER";
                long fpConfig = deviceLong(d, CL_DEVICE_SINGLE_FP_CONFIG);
                out.add(new OpenClDevice(out.size(), platformName, deviceString(d, CL_DEVICE_NAME).trim(), gpu,
                        typeName, deviceString(d, CL_DEVICE_VERSION).trim(), deviceInt(d, CL_DEVICE_MAX_COMPUTE_UNITS),
                        deviceLong(d, CL_DEVICE_GLOBAL_MEM_SIZE), deviceLong(d, CL_DEVICE_LOCAL_MEM_SIZE),
                        deviceSize(d, CL_DEVICE_MAX_WORK_GROUP_SIZE),
                        (fpConfig & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0,
                        Math.max(4, deviceInt(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8), nvidiaCompute(d), platform, d));
            }
        }
        return out;
    }

    /** cl_nv_device_attribute_query's CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV and _MINOR_NV. */
    private static final int COMPUTE_CAPABILITY_MAJOR_NV = 0x4000;
    private static final int COMPUTE_CAPABILITY_MINOR_NV = 0x4001;

    /** An NVIDIA device's compute capability as major * 10 + minor; 0 where the extension is absent. */
    static int nvidiaCompute(cl_device_id d) {
        if (!deviceString(d, CL_DEVICE_EXTENSIONS).contains("cl_nv_device_attribute_query")) {
            return 0;
        }
        try {
            return deviceInt(d, COMPUTE_CAPABILITY_MAJOR_NV) * 10 + deviceInt(d, COMPUTE_CAPABILITY_MINOR_NV);
        } catch (org.jocl.CLException e) {
            return 0;
        }
    }

    /** A platform without devices answers CL_DEVICE_NOT_FOUND, which is not a failure here. */
    private static int clGetDeviceIDsNoThrow(cl_platform_id platform, int[] n) {
        try {
            return clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, null, n);
        } catch (org.jocl.CLException e) {
            return e.getStatus();
        }
    }

    /**
     * The device a selector names (an index into {@code devices}, or a substring of a device or
     * platform name, case-insensitive), else the first GPU, else the first device.
     */
    static OpenClDevice choose(List<OpenClDevice> devices, String platformSelector, String deviceSelector) {
        List<OpenClDevice> pool = devices;
        if (platformSelector != null && !platformSelector.isBlank()) {
            pool = filter(pool, platformSelector.trim(), true);
            if (pool.isEmpty()) {
                throw new BackendUnavailableException("opencl: no platform matches '" + platformSelector
                        + "'; devices: " + names(devices));
            }
        }
        if (deviceSelector != null && !deviceSelector.isBlank()) {
            List<OpenClDevice> chosen = filter(pool, deviceSelector.trim(), false);
            if (chosen.isEmpty()) {
                throw new BackendUnavailableException("opencl: no device matches '" + deviceSelector
                        + "'; devices: " + names(devices));
            }
            return chosen.get(0);
        }
        return pool.stream().filter(OpenClDevice::gpu).findFirst().orElse(pool.get(0));
    }

    /** The device a command queue (a native handle) runs on, among the devices found. */
    static OpenClDevice deviceOfQueue(List<OpenClDevice> devices, long queueHandle) {
        String notAnObject = org.attn4j.spi.NativeHandles.whyNotAnOpenClObject(queueHandle);
        if (notAnObject != null) {
            throw new org.attn4j.error.InvalidArgumentException("queue", "is not an OpenCL command queue: "
                    + notAnObject);
        }
        long[] dev = new long[1];
        try {
            clGetCommandQueueInfo(JoclHandles.queue(queueHandle), CL_QUEUE_DEVICE, Sizeof.cl_device_id,
                    Pointer.to(dev), null);
        } catch (org.jocl.CLException e) {
            throw new org.attn4j.error.InvalidArgumentException("queue", "is not an OpenCL command queue ("
                    + stringFor_errorCode(e.getStatus()) + " in clGetCommandQueueInfo)");
        }
        return devices.stream().filter(d -> d.device().getNativePointer() == dev[0]).findFirst()
                .orElseThrow(() -> new org.attn4j.error.InvalidArgumentException("queue", "runs on a device no "
                        + "OpenCL platform lists: " + names(devices)));
    }

    private static List<OpenClDevice> filter(List<OpenClDevice> devices, String selector, boolean platformOnly) {
        if (selector.chars().allMatch(Character::isDigit)) {
            int i = Integer.parseInt(selector);
            if (platformOnly) {
                List<String> platforms = devices.stream().map(OpenClDevice::platformName).distinct().toList();
                return i < platforms.size()
                        ? devices.stream().filter(d -> d.platformName().equals(platforms.get(i))).toList()
                        : List.of();
            }
            return devices.stream().filter(d -> d.index() == i).toList();
        }
        String s = selector.toLowerCase(Locale.ROOT);
        return devices.stream().filter(d -> d.platformName().toLowerCase(Locale.ROOT).contains(s)
                || (!platformOnly && d.name().toLowerCase(Locale.ROOT).contains(s))).toList();
    }

    private static String names(List<OpenClDevice> devices) {
        return devices.stream().map(OpenClDevice::describe).toList().toString();
    }

    private static String platformString(cl_platform_id p, int param) {
        long[] size = new long[1];
        clGetPlatformInfo(p, param, 0, null, size);
        byte[] buf = new byte[(int) size[0]];
        clGetPlatformInfo(p, param, buf.length, Pointer.to(buf), null);
        return cString(buf);
    }

    static String deviceString(cl_device_id d, int param) {
        long[] size = new long[1];
        clGetDeviceInfo(d, param, 0, null, size);
        byte[] buf = new byte[(int) size[0]];
        clGetDeviceInfo(d, param, buf.length, Pointer.to(buf), null);
        return cString(buf);
    }

    static long deviceLong(cl_device_id d, int param) {
        long[] v = new long[1];
        clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(v), null);
        return v[0];
    }

    static int deviceInt(cl_device_id d, int param) {
        int[] v = new int[1];
        clGetDeviceInfo(d, param, Sizeof.cl_uint, Pointer.to(v), null);
        return v[0];
    }

    static long deviceSize(cl_device_id d, int param) {
        long[] v = new long[1];
        clGetDeviceInfo(d, param, Sizeof.size_t, Pointer.to(v), null);
        return Sizeof.size_t == 4 ? v[0] & 0xFFFFFFFFL : v[0];
    }

    private static String cString(byte[] buf) {
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        return new String(buf, 0, n, StandardCharsets.UTF_8);
    }
}
