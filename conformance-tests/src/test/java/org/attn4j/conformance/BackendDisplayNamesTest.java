package org.attn4j.conformance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Test reports name the backend in every conformance test. */
class BackendDisplayNamesTest {
    static class NoSuchBackendConformance extends AttentionConformanceSuite {
        @Override
        protected String backendId() {
            return "nosuch";
        }
    }

    @Test
    void namesCarryTheBackendAndTheProperty() throws Exception {
        BackendDisplayNames names = new BackendDisplayNames();
        assertEquals("attn4j conformance [nosuch]", names.generateDisplayNameForClass(NoSuchBackendConformance.class));
        String m = names.generateDisplayNameForMethod(List.of(), NoSuchBackendConformance.class,
                AttentionConformanceSuite.class.getDeclaredMethod("batchDecodeMatchesOracle"));
        assertEquals("[nosuch] batchDecodeMatchesOracle: batch decode (paged) ≈ oracle", m);
    }

    @Test
    void everyPropertyHasATestMethod() {
        for (String key : AttentionConformanceSuite.DESCRIPTIONS.keySet()) {
            assertTrue(java.util.Arrays.stream(AttentionConformanceSuite.class.getDeclaredMethods())
                    .anyMatch(x -> x.getName().equals(key) && x.isAnnotationPresent(org.junit.jupiter.api.Test.class)),
                    key);
        }
    }
}
