package org.attn4j.opencl;

import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.spi.BackendOptions;

/**
 * The conformance suite with the streaming decode's K/V through its local-memory ring
 * ({@code streamPrefetch=ring}: {@code cp.async} on NVIDIA of compute capability 8.0 and newer,
 * plain copies elsewhere), whatever kernel the device would pick for decode rows: the attention
 * kernels' properties, with as many random cases per property as the tiled shapes' suites
 * ({@code -Dattn4j.opencl.tiledCases}, default 4). It runs with
 * {@code -Dattn4j.opencl.tiledSuites=true}, as on a GPU host (bundle/opencl-acceptance.sh); on
 * a CPU the streaming kernel's properties take minutes, and OpenClDecodeStreamKernelTest checks
 * the ring there in every configuration it tests.
 */
class OpenClStreamRingConformanceTest extends AttentionConformanceSuite {
    @Override
    protected String backendId() {
        return "opencl";
    }

    @Override
    protected BackendOptions backendOptions() {
        return BackendOptions.DEFAULT.with("kernel", "decode-stream").with("streamPrefetch", "ring")
                .with("tune", "off");
    }

    @Override
    protected String skipReason(String key) {
        if (TiledShapeSuite.OTHER_KERNELS.matcher(key).matches()) {
            return "not the streaming decode's: OpenClConformanceTest runs it";
        }
        return Boolean.getBoolean("attn4j.opencl.tiledSuites") ? null : "the ring's suite runs with "
                + "-Dattn4j.opencl.tiledSuites=true (as on a GPU host); OpenClDecodeStreamKernelTest checks the "
                + "ring here";
    }

    @Override
    protected int cases(int requested) {
        return Math.min(requested, Integer.getInteger("attn4j.opencl.tiledCases", 4));
    }
}
