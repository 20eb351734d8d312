package org.attn4j.reference;

import java.util.List;
import org.attn4j.spi.AbstractBackendProvider;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Probe;

/**
 * The always-available pure-Java backend, lowest priority so any device backend wins.
 * Thread-safe, as every provider.
 */
public final class ReferenceBackendProvider extends AbstractBackendProvider {
    /**
     * The provider id, {@code reference}.
     */
    public static final String ID = "reference";

    /** A provider, as {@link java.util.ServiceLoader} makes it. */
    public ReferenceBackendProvider() {}

    @Override
    public String id() {
        return ID;
    }

    @Override
    public int priority() {
        return 0;
    }

    @Override
    protected Probe doProbe() {
        return Probe.available(List.of(ReferenceSession.describeDevice()));
    }

    @Override
    public BackendSession open(BackendOptions options) {
        return new ReferenceSession();
    }
}
