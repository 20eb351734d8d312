package org.attn4j.opencl;

import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.spi.BackendOptions;

/**
 * The conformance suite on the tiled (GPU) kernel in one shape its {@code tiles} option accepts,
 * whatever kernel the device would pick (CPUs pick the serial one): the properties of the
 * attention kernel only, with fewer random cases per property than the main suite
 * ({@code -Dattn4j.opencl.tiledCases}, default 4). Every shape builds its own kernels for every
 * dtype pair and head-dim bucket (minutes per suite on PoCL), so by default only the default
 * shape's suite runs, on one property per kernel path; {@code -Dattn4j.opencl.tiledSuites=true}
 * (as on a GPU host) runs every shape on every property of the attention kernel.
 */
abstract class TiledShapeSuite extends AttentionConformanceSuite {
    /** The shape, as the option names it ({@code ITEMSxKEYS} or {@code ITEMSxKEYS/ROWS}). */
    abstract String tiles();

    @Override
    protected String backendId() {
        return "opencl";
    }

    @Override
    protected BackendOptions backendOptions() {
        return BackendOptions.DEFAULT.with("kernel", "tiled").with("tiles", tiles());
    }

    /** Properties of kernels other than the attention kernel (append, merge, RoPE, MLA) or of validation. */
    static final java.util.regex.Pattern OTHER_KERNELS = java.util.regex.Pattern.compile(
            "(?i)(.*append.*|fp8Codes.*|mla.*|merge.*|standaloneRope.*|partialRope.*|ropeOnViews.*|invalidInputs.*"
                    + "|hostileValues.*|deviceFaults.*|concurrentUse.*|borrowedMemory.*|graphReplay.*|replanning.*"
                    + "|deviceMetadata.*)");

    /** The shape whose suite always runs: the one the plans take for prefill without tuning. */
    static final String DEFAULT_SHAPE = TileConfig.Shape.ALL.get(0).toString();

    /**
     * The properties the default shape's suite runs without {@code -Dattn4j.opencl.tiledSuites}:
     * prefill, cascade, split chunks, a custom mask, sinks and views that load unaligned; the
     * other paths (ALiBi, scales, RoPE, two head dims) are in OpenClTiledKernelTest's cases or
     * the opt-in suites.
     */
    private static final java.util.Set<String> CORE = java.util.Set.of("batchPrefillMatchesOracle",
            "cascadeMatchesOracle", "splitKvMergeEqualsWhole", "lowerTriangularMaskEqualsCausal", "sinksMatchOracle",
            "stridedViewsMatchOracle");

    @Override
    protected String skipReason(String key) {
        if (OTHER_KERNELS.matcher(key).matches()) {
            return "not the tiled attention kernel's: OpenClConformanceTest runs it";
        }
        if (Boolean.getBoolean("attn4j.opencl.tiledSuites")) {
            return null;
        }
        if (!tiles().equals(DEFAULT_SHAPE)) {
            return "the suites of the other tiled shapes run with -Dattn4j.opencl.tiledSuites=true (each builds its "
                    + "own kernels for every dtype pair and head dim, minutes on a CPU); OpenClTiledKernelTest checks "
                    + "every shape";
        }
        return CORE.contains(key) ? null : "the default shape's suite runs one property per kernel path unless "
                + "-Dattn4j.opencl.tiledSuites=true";
    }

    @Override
    protected int cases(int requested) {
        return Math.min(requested, Integer.getInteger("attn4j.opencl.tiledCases", 4));
    }
}
