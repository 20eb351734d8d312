package org.attn4j.spi;

import java.util.List;

/**
 * Whether a backend can run here and why not: the answer of {@link BackendProvider#probe()}.
 * Immutable and thread-safe.
 *
 * @param available true when {@code open} can succeed
 * @param reasons   human-readable reasons it cannot (empty when available)
 * @param devices   descriptions of the devices found
 */
public record Probe(boolean available, List<String> reasons, List<String> devices) {
    /** Copies the lists. */
    public Probe {
        reasons = List.copyOf(reasons);
        devices = List.copyOf(devices);
    }

    /**
     * A backend that can run.
     *
     * @param devices descriptions of its devices
     * @return the probe
     */
    public static Probe available(List<String> devices) {
        return new Probe(true, List.of(), devices);
    }

    /**
     * A backend that cannot run.
     *
     * @param reasons why, each in words
     * @return the probe
     */
    public static Probe unavailable(String... reasons) {
        return new Probe(false, List.of(reasons), List.of());
    }
}
