package org.attn4j;

import org.attn4j.error.BackendUnavailableException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.attn4j.spi.AbstractBackendProvider;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.BackendProvider;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Probe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Discovery and selection (spec §8) with two providers registered for these tests only: a
 * high-priority one whose native library is missing, and a low-priority one always available.
 */
class BackendsTest {
    static final AtomicInteger MISSING_PROBES = new AtomicInteger();

    /** Priority 50; probing fails the way a missing native library does. */
    public static final class MissingLibraryProvider extends AbstractBackendProvider {
        @Override
        public String id() {
            return "test-missing";
        }

        @Override
        public int priority() {
            return 50;
        }

        @Override
        protected Probe doProbe() {
            MISSING_PROBES.incrementAndGet();
            throw new UnsatisfiedLinkError("no test-missing in java.library.path");
        }

        @Override
        public BackendSession open(BackendOptions options) {
            throw new IllegalStateException("unavailable");
        }
    }

    /** Priority 1; always available. */
    public static final class AlwaysThereProvider extends AbstractBackendProvider {
        @Override
        public String id() {
            return "test-there";
        }

        @Override
        public int priority() {
            return 1;
        }

        @Override
        protected Probe doProbe() {
            return Probe.available(List.of("test device"));
        }

        @Override
        public BackendSession open(BackendOptions options) {
            throw new UnsupportedOperationException("not needed by these tests");
        }
    }

    private String savedProperty;

    @BeforeEach
    void noEnvironmentOverride() {
        assumeTrue(System.getenv(Backends.ENVIRONMENT) == null, "ATTN4J_BACKEND is set in this environment");
        savedProperty = System.clearProperty(Backends.PROPERTY);
    }

    @AfterEach
    void restoreProperty() {
        if (savedProperty != null) {
            System.setProperty(Backends.PROPERTY, savedProperty);
        } else {
            System.clearProperty(Backends.PROPERTY);
        }
    }

    @Test
    void providersComeHighestPriorityFirst() {
        List<String> ids = Backends.providers().stream().map(BackendProvider::id).toList();
        assertEquals(List.of("test-missing", "test-there"), ids);
    }

    @Test
    void bestSkipsTheUnavailableProviderAndProbesItOnlyOnce() {
        assertEquals("test-there", Backends.best().id());
        assertEquals("test-there", Backends.best().id());
        Probe probe = Backends.find("test-missing").orElseThrow().probe();
        assertFalse(probe.available());
        assertEquals(List.of("probe failed: UnsatisfiedLinkError: no test-missing in java.library.path"),
                probe.reasons());
        assertEquals(1, MISSING_PROBES.get(), "probe results are cached per provider class");
    }

    @Test
    void theOverrideListIsTriedInOrder() {
        System.setProperty(Backends.PROPERTY, "test-missing, test-there");
        assertEquals("test-there", Backends.best().id());
    }

    @Test
    void namingOnlyUnavailableBackendsThrowsWithEveryProvidersReasons() {
        System.setProperty(Backends.PROPERTY, "test-missing");
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, Backends::best);
        assertTrue(e.getMessage().contains("[test-missing]"), e.getMessage());
        assertTrue(e.getMessage().contains("reason: probe failed: UnsatisfiedLinkError"), e.getMessage());
        assertTrue(e.getMessage().contains("test-there"), e.getMessage());
    }

    @Test
    void getByIdExplainsUnknownAndUnavailableIds() {
        BackendUnavailableException unknown = assertThrows(BackendUnavailableException.class,
                () -> Backends.get("nope"));
        assertTrue(unknown.getMessage().contains("no backend 'nope'")
                && unknown.getMessage().contains("[test-missing, test-there]"), unknown.getMessage());
        BackendUnavailableException missing = assertThrows(BackendUnavailableException.class,
                () -> Backends.get("test-missing"));
        assertTrue(missing.getMessage().contains("backend 'test-missing' is unavailable: probe failed"),
                missing.getMessage());
    }

    @Test
    void describeListsEveryProviderItsProbeAndDevices() {
        String d = Backends.describe();
        assertTrue(d.contains("test-missing") && d.contains("unavailable"), d);
        assertTrue(d.contains("test-there") && d.contains("device: test device"), d);
    }
}
