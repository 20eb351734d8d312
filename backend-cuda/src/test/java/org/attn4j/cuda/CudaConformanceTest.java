package org.attn4j.cuda;

import org.attn4j.conformance.AttentionConformanceSuite;

/** The conformance suite on the CUDA backend, against the reference backend as oracle. */
class CudaConformanceTest extends AttentionConformanceSuite {
    @Override
    protected String backendId() {
        return "cuda";
    }
}
