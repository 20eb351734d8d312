package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ServiceLoader;
import org.attn4j.spi.BackendProvider;
import org.attn4j.spi.Probe;
import org.junit.jupiter.api.Test;

/** The provider is found, and probing answers (available or with reasons) instead of throwing. */
class CudaProbeTest {
    @Test
    void providerIsRegistered() {
        assertTrue(ServiceLoader.load(BackendProvider.class).stream()
                .anyMatch(p -> p.type() == CudaBackendProvider.class));
    }

    @Test
    void probeAnswersWithReasonsWhenUnavailable() {
        Probe p = new CudaBackendProvider().probe();
        if (p.available()) {
            assertFalse(p.devices().isEmpty(), "available without a device");
        } else {
            assertFalse(p.reasons().isEmpty(), "unavailable without a reason");
            System.out.println("cuda probe: " + p.reasons());
        }
        assertEquals(p, new CudaBackendProvider().probe(), "probe is cached");
    }
}
