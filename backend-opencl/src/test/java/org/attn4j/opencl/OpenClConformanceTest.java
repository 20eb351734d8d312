package org.attn4j.opencl;

import org.attn4j.conformance.AttentionConformanceSuite;

/** The conformance suite on the OpenCL backend, against the reference backend as oracle. */
class OpenClConformanceTest extends AttentionConformanceSuite {
    @Override
    protected String backendId() {
        return "opencl";
    }
}
