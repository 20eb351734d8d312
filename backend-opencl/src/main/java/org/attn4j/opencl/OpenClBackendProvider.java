package org.attn4j.opencl;

import java.util.List;
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
 * Option {@code kernel} / {@code attn4j.opencl.kernel}: {@code auto} (default), {@code tiled}
 * or {@code serial} picks the attention kernel flavour (see {@link OpenClSession}).
 */
public final class OpenClBackendProvider extends AbstractBackendProvider {
    public static final String ID = "opencl";

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
        try {
            devices = OpenClPlatforms.devices();
        } catch (Throwable t) {
            String what = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
            if (t instanceof LinkageError) {
                return Probe.unavailable("the OpenCL library or JOCL's native binding could not be loaded: " + what);
            }
            return Probe.unavailable("listing OpenCL platforms failed: " + what);
        }
        List<String> described = devices.stream().map(OpenClDevice::describe).toList();
        if (devices.isEmpty()) {
            return new Probe(false, List.of("no OpenCL device found (no platform registered with the ICD loader, "
                    + "or platforms without devices)"), List.of());
        }
        return Probe.available(described);
    }

    @Override
    public BackendSession open(BackendOptions options) {
        Probe p = probe();
        if (!p.available()) {
            throw new org.attn4j.BackendUnavailableException("opencl is unavailable: " + String.join("; ", p.reasons()));
        }
        BackendOptions o = options == null ? BackendOptions.DEFAULT : options;
        OpenClDevice device = OpenClPlatforms.choose(OpenClPlatforms.devices(), o.get(ID, "platform"),
                o.get(ID, "device"));
        return new OpenClSession(device, o.get(ID, "kernel"));
    }
}
