package org.attn4j.spi;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Caches the probe per provider class, since {@link java.util.ServiceLoader} makes new instances
 * and probing may load native libraries. Catches every {@link Throwable} of the probe once.
 *
 * <p>Thread-safe: concurrent first probes of a class run {@link #doProbe()} once.
 */
public abstract class AbstractBackendProvider implements BackendProvider {
    private static final ConcurrentHashMap<Class<?>, Probe> PROBES = new ConcurrentHashMap<>();

    /** A provider; {@link java.util.ServiceLoader} makes one per lookup, all sharing the cached probe. */
    public AbstractBackendProvider() {}

    @Override
    public final Probe probe() {
        return PROBES.computeIfAbsent(getClass(), c -> safeProbe());
    }

    private Probe safeProbe() {
        try {
            return doProbe();
        } catch (Throwable t) {
            String what = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
            return new Probe(false, List.of("probe failed: " + what), List.of());
        }
    }

    /**
     * Checks libraries and devices; may throw anything.
     *
     * @return available with the devices, or unavailable with the reasons
     * @throws Throwable anything; it becomes an unavailable probe naming it
     */
    protected abstract Probe doProbe() throws Throwable;
}
