package org.attn4j.conformance.properties;

import org.attn4j.AttentionBackend;
import org.attn4j.spi.Capabilities;

/**
 * The backend under test and its oracle: the reference backend when it is a different backend,
 * otherwise none (checks then use {@link org.attn4j.conformance.check.SpecOracle}).
 */
public record Subject(String backendId, AttentionBackend backend, AttentionBackend oracle,
                      org.attn4j.conformance.harness.ExternalAllocator external) {
    public Subject(String backendId, AttentionBackend backend, AttentionBackend oracle) {
        this(backendId, backend, oracle, null);
    }

    public Capabilities capabilities() {
        return backend.capabilities();
    }

    public boolean hasOracleBackend() {
        return oracle != null;
    }
}
