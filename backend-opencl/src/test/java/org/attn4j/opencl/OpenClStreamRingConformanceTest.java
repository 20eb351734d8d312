package org.attn4j.opencl;

import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.spi.BackendOptions;

/**
 * The conformance suite with the streaming decode's K/V through its local-memory ring
 * ({@code streamPrefetch=ring}: {@code cp.async} on NVIDIA of compute capability 8.0 and newer,
 * plain copies elsewhere), whatever kernel the device would pick for decode rows: the attention
 * kernels' properties, with as many random cases per property as the tiled shapes' suites
 * ({@code -Dattn4j.opencl.tiledCases}, default 4). Without {@code -Dattn4j.opencl.tiledSuites=true}
 * (as on a GPU host) only batch decode runs: on a CPU the streaming and tiled kernels are slow, and
 * OpenClDecodeStreamKernelTest covers the ring's configurations there.
 */
class OpenClStreamRingConformanceTest extends AttentionConformanceSuite {
    /**
     * The property that runs without {@code -Dattn4j.opencl.tiledSuites}: batch decode, every
     * option of the shared generator (about 25 s on two CPU cores; split chunks and the rest
     * take minutes there).
     */
    private static final java.util.Set<String> CORE = java.util.Set.of("batchDecodeMatchesOracle");

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
        if (Boolean.getBoolean("attn4j.opencl.tiledSuites") || CORE.contains(key)) {
            return null;
        }
        return "the ring's suite runs batch decode only unless -Dattn4j.opencl.tiledSuites=true";
    }

    @Override
    protected int cases(int requested) {
        return Math.min(requested, Integer.getInteger("attn4j.opencl.tiledCases", 4));
    }
}
