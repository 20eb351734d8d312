package org.attn4j.spi;

/**
 * A backend as {@link java.util.ServiceLoader} finds it. Implementations must load without
 * touching native code: everything native happens in {@link #probe()} and {@link #open}.
 * Implementations must be safe for concurrent use.
 */
public interface BackendProvider {
    /**
     * Stable id: {@code cuda}, {@code opencl}, {@code reference}.
     *
     * @return the id
     */
    String id();

    /**
     * Higher wins in {@code Backends.best()}: cuda > opencl > reference.
     *
     * @return the priority
     */
    int priority();

    /**
     * Cached; never throws: every failure becomes an unavailable probe with its reason.
     *
     * @return whether the backend can run here, and why not
     */
    Probe probe();

    /**
     * Opens a session on a device; the caller closes it.
     *
     * @param options settings (read once, here) and native handles
     * @return the session
     * @throws org.attn4j.error.BackendUnavailableException when the backend cannot run here
     * @throws IllegalArgumentException when a setting has a value the backend does not know
     */
    BackendSession open(BackendOptions options);
}
