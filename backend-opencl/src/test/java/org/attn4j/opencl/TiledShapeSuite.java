package org.attn4j.opencl;

import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.spi.BackendOptions;

/**
 * The conformance suite on the tiled (GPU) kernel in one shape its {@code tiles} option accepts,
 * whatever kernel the device would pick (CPUs pick the serial one). Fewer cases per property
 * than the main suite ({@code -Dattn4j.opencl.tiledCases}, default 4): the kernel is one source
 * in every shape, only its constants move, so CI can afford a suite per shape.
 */
abstract class TiledShapeSuite extends AttentionConformanceSuite {
    /** The shape, as the option names it ({@code ITEMSxKEYS}). */
    abstract String tiles();

    @Override
    protected String backendId() {
        return "opencl";
    }

    @Override
    protected BackendOptions backendOptions() {
        return BackendOptions.DEFAULT.with("kernel", "tiled").with("tiles", tiles());
    }

    @Override
    protected int cases(int requested) {
        return Math.min(requested, Integer.getInteger("attn4j.opencl.tiledCases", 4));
    }
}
