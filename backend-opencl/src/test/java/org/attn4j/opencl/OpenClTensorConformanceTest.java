package org.attn4j.opencl;

import java.util.ArrayList;
import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.spi.BackendOptions;

/**
 * The conformance suite's attention properties on the tensor kernel (attention_mma.cl,
 * kernel=tensor), on an NVIDIA device of compute capability 8.0 and newer, at the suite's case
 * count. Elsewhere every property skips: the kernel's instructions exist only there, and its
 * emulation (kernel=tensor-emulated: two barriers a product, a build per head dim and dtype) takes
 * minutes per property on a CPU runtime, so OpenClTensorKernelTest checks the emulated kernel
 * on fixed variants instead.
 */
class OpenClTensorConformanceTest extends AttentionConformanceSuite {
    /** Whether this machine's default OpenCL device has NVIDIA Tensor Cores; null until probed. */
    private static Boolean tensorCores;

    private static synchronized boolean tensorCores() {
        if (tensorCores == null) {
            try {
                tensorCores = OpenClPlatforms.choose(OpenClPlatforms.discover(new ArrayList<>()), null, null)
                        .nvidiaTensorCores();
            } catch (RuntimeException | LinkageError e) {
                tensorCores = false; // no OpenCL here
            }
        }
        return tensorCores;
    }

    @Override
    protected String backendId() {
        return "opencl";
    }

    @Override
    protected BackendOptions backendOptions() {
        // Runs the tensor kernel cannot take fall back to a fixed tiled shape: measuring the tiled
        // shapes for every dtype pair would take most of the suite's time and test nothing here.
        return BackendOptions.DEFAULT.with("kernel", tensorCores() ? "tensor" : "tensor-emulated").with("tune", "off");
    }

    @Override
    protected String skipReason(String key) {
        if (TiledShapeSuite.OTHER_KERNELS.matcher(key).matches()) {
            return "not the tensor attention kernel's: OpenClConformanceTest runs it";
        }
        return tensorCores() ? null : "the tensor kernel needs an NVIDIA device of compute capability 8.0 or newer; "
                + "OpenClTensorKernelTest checks its emulation here";
    }
}
