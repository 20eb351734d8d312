package org.attn4j.spi;

/**
 * A backend as {@link java.util.ServiceLoader} finds it. Implementations must load without
 * touching native code: everything native happens in {@link #probe()} and {@link #open}.
 */
public interface BackendProvider {
    /** Stable id: {@code cuda}, {@code opencl}, {@code reference}. */
    String id();

    /** Higher wins in {@code Backends.best()}: cuda > opencl > reference. */
    int priority();

    /** Cached; never throws: every failure becomes an unavailable probe with its reason. */
    Probe probe();

    /** Opens a session on a device; the caller closes it. */
    BackendSession open(BackendOptions options);
}
