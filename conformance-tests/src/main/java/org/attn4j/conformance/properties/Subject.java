package org.attn4j.conformance.properties;

import org.attn4j.AttentionBackend;
import org.attn4j.spi.Capabilities;

/**
 * The backend under test and its oracle: the reference backend when it is a different backend,
 * otherwise none (checks then use {@link org.attn4j.conformance.check.SpecOracle}).
 *
 * <p>Immutable; as thread-safe as the backends it names.
 *
 * @param backendId the id of the backend under test
 * @param backend   the backend under test, opened (null only to list the properties)
 * @param oracle    the reference backend, or null when the backend under test is the reference
 *                  or the reference is unavailable
 * @param external  memory the backend can wrap, or null to skip the borrowed-memory property
 */
public record Subject(String backendId, AttentionBackend backend, AttentionBackend oracle,
                      org.attn4j.conformance.harness.ExternalAllocator external) {
    /**
     * A subject without external memory.
     *
     * @param backendId the id of the backend under test
     * @param backend   the backend under test
     * @param oracle    the reference backend, or null
     */
    public Subject(String backendId, AttentionBackend backend, AttentionBackend oracle) {
        this(backendId, backend, oracle, null);
    }

    /**
     * What the backend under test supports.
     *
     * @return its capabilities
     */
    public Capabilities capabilities() {
        return backend.capabilities();
    }

    /**
     * Whether a separate oracle backend is there; without one, checks evaluate the spec's formulas.
     *
     * @return true when {@link #oracle()} is not null
     */
    public boolean hasOracleBackend() {
        return oracle != null;
    }
}
