package org.attn4j.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.Map;
import org.attn4j.AttentionBackend;
import org.attn4j.error.BackendException;
import org.attn4j.error.BackendUnavailableException;
import org.attn4j.Backends;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.Feature;
import org.attn4j.spi.Probe;
import java.lang.foreign.MemorySegment;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Discovery, device selection and error reporting of the OpenCL backend. */
class OpenClProviderTest {
    private final OpenClBackendProvider provider = new OpenClBackendProvider();

    private Probe availableProbe() {
        Probe p = provider.probe();
        assumeTrue(p.available(), () -> "no OpenCL device here: " + p.reasons());
        return p;
    }

    @Test
    void registeredWithServiceLoader() {
        assertTrue(Backends.find("opencl").isPresent(), "opencl provider not found by ServiceLoader");
        assertEquals(50, Backends.find("opencl").orElseThrow().priority());
    }

    @Test
    void probeIsCachedAndExplainsItself() {
        Probe p = provider.probe();
        assertTrue(p == new OpenClBackendProvider().probe(), "probe must be cached per provider class");
        if (p.available()) {
            assertTrue(p.reasons().isEmpty());
            assertFalse(p.devices().isEmpty());
            assertTrue(p.devices().get(0).startsWith("#0 "), p.devices().get(0));
        } else {
            assertFalse(p.reasons().isEmpty(), "an unavailable probe must give reasons");
        }
    }

    @Test
    void gpuPreferredOverCpuUnlessSelected() {
        OpenClDevice cpu = new OpenClDevice(0, "Some CPU platform", "cpu0", false, "CPU", "OpenCL 3.0", 2, 1 << 30,
                1 << 16, 4096, true, 128, 0, null, null);
        OpenClDevice gpu = new OpenClDevice(1, "Vendor GPU platform", "Big GPU", true, "GPU", "OpenCL 3.0", 132,
                1L << 37, 48 << 10, 1024, true, 512, 90, null, null);
        List<OpenClDevice> both = List.of(cpu, gpu);
        assertEquals(gpu, OpenClPlatforms.choose(both, null, null));
        assertEquals(cpu, OpenClPlatforms.choose(both, null, "0"));
        assertEquals(cpu, OpenClPlatforms.choose(both, null, "CPU0"));
        assertEquals(gpu, OpenClPlatforms.choose(both, "vendor", null));
        assertEquals(cpu, OpenClPlatforms.choose(both, "0", null));
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
                () -> OpenClPlatforms.choose(both, null, "no such device"));
        assertTrue(e.getMessage().contains("no such device") && e.getMessage().contains("Big GPU"), e.getMessage());
    }

    @Test
    void opensTheSelectedDeviceWithItsCapabilities() {
        availableProbe();
        try (AttentionBackend b = AttentionBackend.of(provider.open(new BackendOptions(Map.of("device", "0"))))) {
            assertEquals("opencl", b.id());
            assertTrue(b.capabilities().qDtypes().contains(DType.F32));
            assertTrue(b.capabilities().kvDtypes().contains(DType.FP8_E5M2));
            assertTrue(b.capabilities().supportsHeadDim(1) && b.capabilities().supportsHeadDim(256));
            assertFalse(b.capabilities().has(Feature.ZERO_COPY_HOST));
            assertTrue(b.capabilities().has(Feature.DETERMINISTIC));
            assertTrue(b.capabilities().has(Feature.SINKS));
            assertTrue(b.capabilities().has(Feature.ALIBI));
        }
    }

    @Test
    void unknownKernelFlavourIsRejected() {
        availableProbe();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> provider.open(new BackendOptions(Map.of("kernel", "fastest"))).close());
        assertTrue(e.getMessage().contains("fastest"), e.getMessage());
    }

    @Test
    void tensorKernelIsRefusedOffNvidiaTensorCores() {
        availableProbe();
        OpenClDevice device = OpenClPlatforms.choose(OpenClPlatforms.devices(), null, null);
        org.junit.jupiter.api.Assumptions.assumeFalse(device.nvidiaTensorCores(),
                "this device has NVIDIA Tensor Cores: kernel=tensor opens here");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> provider.open(new BackendOptions(Map.of("kernel", "tensor"))).close());
        assertTrue(e.getMessage().contains("compute capability 8.0") && e.getMessage().contains(device.name()),
                e.getMessage());
        // The emulated kernel opens on any device.
        provider.open(new BackendOptions(Map.of("kernel", "tensor-emulated"))).close();
    }

    @Test
    void copiesHeapAndNativeHostMemory() {
        availableProbe();
        float[] values = new float[1000];
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 0.5f - 7;
        }
        try (AttentionBackend b = AttentionBackend.of(provider.open(BackendOptions.DEFAULT));
             HostTensor heap = HostTensor.wrap(MemorySegment.ofArray(values), DType.F32, 10, 100);
             Tensor t = b.upload(heap);
             HostTensor back = b.download(t);
             Tensor zeros = b.allocate(DType.BF16, 3, 5);
             HostTensor z = b.download(zeros);
             HostTensor into = HostTensor.wrap(MemorySegment.ofArray(new float[1000]), DType.F32, 10, 100)) {
            b.download(t, into);
            for (int i = 0; i < values.length; i++) {
                assertEquals(values[i], back.getFloat(i));
                assertEquals(values[i], into.getFloat(i));
            }
            for (int i = 0; i < 15; i++) {
                assertEquals(0, z.getBits(i), "allocate must zero-fill");
            }
        }
    }

    @Test
    void failedBuildsCarryTheCompilerLog() {
        availableProbe();
        try (OpenClSession session = (OpenClSession) provider.open(BackendOptions.DEFAULT)) {
            BackendException e = assertThrows(BackendException.class,
                    () -> session.kernel("merge.cl", "merge_pair", "-DOT=9"));
            assertTrue(e.getMessage().contains("clBuildProgram(merge.cl") && e.getMessage().contains("twice"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("build log:") && e.getMessage().contains("STORAGE_9"), e.getMessage());
        }
    }

    @Test
    void deviceFailuresNameTheClCall() {
        availableProbe();
        try (AttentionBackend b = AttentionBackend.of(provider.open(BackendOptions.DEFAULT))) {
            // More than the device holds: refused before any CL call, naming what was asked.
            BackendException e = assertThrows(BackendException.class, () -> b.allocate(DType.F32, 1L << 48));
            assertTrue(e.getMessage().startsWith("opencl: cannot allocate 1125899906842624 bytes"), e.getMessage());
            assertTrue(e.getMessage().contains("the device has"), e.getMessage());
        }
    }
}
