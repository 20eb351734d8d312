package org.attn4j.opencl;

import org.attn4j.error.BackendUnavailableException;
import java.util.ArrayList;
import java.util.List;
import org.jocl.CLException;
import org.attn4j.spi.AbstractBackendProvider;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Probe;

/**
 * The {@code opencl} backend, priority 50 (between CUDA and the reference). Loading this class
 * touches no native code; JOCL's library is loaded by the probe, which turns every failure
 * (no library, no ICD loader, no platform, no device) into an unavailable probe with reasons.
 * Device choice: option {@code device} / property {@code attn4j.opencl.device} (index or name
 * substring), option {@code platform} / {@code attn4j.opencl.platform}; else GPU before CPU.
 * Option {@code kernel} / {@code attn4j.opencl.kernel}: {@code auto} (default), {@code tiled},
 * {@code serial}, {@code decode-stream}, {@code tensor} or {@code tensor-emulated} picks the attention kernel flavour (see
 * {@link OpenClSession}); {@code streamKeys}, {@code streamGroup} and {@code streamPrefetch} tune the streaming decode
 * (see {@code DecodeStreamConfig.Tuning}); {@code tiles} ({@code auto} or {@code ITEMSxKEYS}, for
 * example {@code 64x64}) forces the tiled kernel's shape where it fits (see {@code TileConfig.Shape});
 * {@code tune} ({@code auto}: on GPUs, {@code on}, {@code off}) times the shapes for prefill once
 * per device and driver (see {@code TileTuner}).
 *
 * <p>Thread-safe, as every provider.
 */
public final class OpenClBackendProvider extends AbstractBackendProvider {
    /** The ICD loader's status when no platform is installed (cl_khr_icd). */
    private static final int CL_PLATFORM_NOT_FOUND_KHR = -1001;
    /**
     * The provider id, {@code opencl}.
     */
    public static final String ID = "opencl";

    /** A provider, as {@link java.util.ServiceLoader} makes it. */
    public OpenClBackendProvider() {}

    @Override
    public String id() {
        return ID;
    }

    @Override
    public int priority() {
        return 50;
    }

    @Override
    protected Probe doProbe() {
        List<OpenClDevice> devices;
        List<String> notes = new ArrayList<>();
        try {
            devices = OpenClPlatforms.discover(notes);
        } catch (Throwable t) {
            return Probe.unavailable(reason(t));
        }
        List<String> described = new ArrayList<>(devices.stream().map(OpenClDevice::describe).toList());
        described.addAll(notes);
        if (devices.isEmpty()) {
            notes.add(0, "no OpenCL device found");
            return new Probe(false, notes, List.of());
        }
        return Probe.available(described);
    }

    private static String reason(Throwable t) {
        String what = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        if (t instanceof LinkageError) {
            return "the OpenCL library (libOpenCL) or JOCL's native binding could not be loaded: " + what;
        }
        if (t instanceof CLException e && e.getStatus() == CL_PLATFORM_NOT_FOUND_KHR) {
            return "no OpenCL platform is registered with the ICD loader (CL_PLATFORM_NOT_FOUND_KHR in "
                    + "clGetPlatformIDs): install a driver or PoCL, or point OCL_ICD_VENDORS at a folder of .icd files";
        }
        return "listing OpenCL platforms failed: " + what;
    }

    @Override
    public BackendSession open(BackendOptions options) {
        Probe p = probe();
        if (!p.available()) {
            throw new org.attn4j.error.BackendUnavailableException("opencl is unavailable: " + String.join("; ", p.reasons()));
        }
        BackendOptions o = options == null ? BackendOptions.DEFAULT : options;
        Long queue = o.handle("queue");
        OpenClDevice device = queue != null ? OpenClPlatforms.deviceOfQueue(OpenClPlatforms.devices(), queue)
                : OpenClPlatforms.choose(OpenClPlatforms.devices(), o.get(ID, "platform"), o.get(ID, "device"));
        return new OpenClSession(device, o.get(ID, "kernel"),
                DecodeStreamConfig.Tuning.parse(o.get(ID, "streamKeys"), o.get(ID, "streamGroup"),
                        o.get(ID, "streamPrefetch")),
                TileConfig.Shape.parse(o.get(ID, "tiles")), o.get(ID, "tune"), queue == null ? 0 : queue);
    }
}
