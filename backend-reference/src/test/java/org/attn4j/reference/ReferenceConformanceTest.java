package org.attn4j.reference;

import org.attn4j.conformance.AttentionConformanceSuite;

/**
 * The conformance suite on the reference backend. There is no other oracle for the reference, so
 * its agreement properties compare against SPEC's formulas written out directly; every
 * metamorphic law and error property runs as on any backend.
 */
class ReferenceConformanceTest extends AttentionConformanceSuite {
    @Override
    protected String backendId() {
        return "reference";
    }
}
