package org.attn4j.reference;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attn4j.conformance.AttentionConformanceSuite;
import org.attn4j.conformance.cases.AttentionCase;
import org.attn4j.conformance.harness.CaseSkipped;
import org.attn4j.conformance.properties.InvalidInputProperties;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * The conformance suite on the reference backend. There is no other oracle for the reference, so
 * its agreement properties compare against the spec's formulas written out directly; every
 * metamorphic law and error property runs as on any backend.
 */
class ReferenceConformanceTest extends AttentionConformanceSuite {
    @Override
    protected String backendId() {
        return "reference";
    }

    /** Host segments from a shared arena per allocation, as an engine's own buffers would be. */
    @Override
    protected org.attn4j.conformance.harness.ExternalAllocator externalAllocator() {
        return new org.attn4j.conformance.harness.ExternalAllocator() {
            private final java.util.Map<org.attn4j.tensor.ExternalMemory, java.lang.foreign.Arena> arenas =
                    new java.util.concurrent.ConcurrentHashMap<>();

            @Override
            public org.attn4j.tensor.ExternalMemory allocate(org.attn4j.AttentionBackend backend, long bytes) {
                java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared();
                org.attn4j.tensor.ExternalMemory m = org.attn4j.tensor.ExternalMemory.hostSegment(
                        arena.allocate(bytes, 64));
                arenas.put(m, arena);
                return m;
            }

            @Override
            public void free(org.attn4j.tensor.ExternalMemory memory) {
                arenas.remove(memory).close();
            }
        };
    }

    /**
     * A reproduction as the suite prints it, pasted unchanged: the causal boundary (the one key
     * at position 0 is allowed for the one query at position 0), which a planted {@code j < pq}
     * failed and shrank to.
     */
    @Test
    void causalBoundaryReproduction() {
        check("batchPrefillMatchesOracle", new AttentionCase(new int[] {1}, new int[] {1}, 1, 1, 2, 1, KvLayout.NHD,
                false, 0, DType.F16, DType.F16, 1.0f, 1.0f, true, -1, 0.0f, Float.NaN, AttentionCase.RopeKind.NONE,
                AttentionCase.MaskKind.NONE, true, AttentionCase.DataKind.UNIFORM, 6588013280817431345L));
    }

    /**
     * A reproduction with sinks and ALiBi, pasted as printed (the longer form). One query row per
     * request with a custom mask: the variant properties must run it as prefill, since decode
     * takes no mask and would be compared with the masked formula.
     */
    @Test
    void sinksWithAlibiOnAMaskedSingleRowReproduction() {
        check("sinksWithAlibiMatchOracle", new AttentionCase(new int[] {1}, new int[] {4}, 16, 1, 40, 8,
                KvLayout.HND, false, 0, DType.F32, DType.FP8_E5M2, 0.25f, 1.0f, true, 5, 0.0f, Float.NaN,
                AttentionCase.RopeKind.NONE, AttentionCase.MaskKind.PACKED_WITH_OFFSETS, AttentionCase.SinkKind.DRAWN,
                AttentionCase.AlibiKind.STANDARD, true, AttentionCase.DataKind.UNIFORM, 3786145407379117158L));
    }

    /**
     * A random case with no pages (one empty request) has no page id to put out of range: the
     * scenario skips it rather than indexing -1, as it did when a fresh seed drew it on the GPU.
     */
    @Test
    void pageIdOutOfRangeSkipsACaseWithoutPages() {
        CaseSkipped s = assertThrows(CaseSkipped.class, () -> check("invalidInputsRejected",
                new InvalidInputProperties.InvalidCase("page id out of range", new AttentionCase(new int[] {9},
                        new int[] {0}, 6, 2, 160, 1, KvLayout.NHD, false, 3, DType.F16, DType.F16, 1.0f, 1.0f, false,
                        -1, 50.0f, Float.NaN, AttentionCase.RopeKind.NONE, AttentionCase.MaskKind.NONE, false,
                        AttentionCase.DataKind.UNIFORM, -5920789062049734544L))));
        assertTrue(s.getMessage().contains("no pages"), s.getMessage());
    }
}
