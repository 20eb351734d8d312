package org.attn4j.spi;

import java.util.List;

/**
 * Whether a backend can run here and why not: the answer of {@link BackendProvider#probe()}.
 *
 * @param available true when {@code open} can succeed
 * @param reasons   human-readable reasons it cannot (empty when available)
 * @param devices   descriptions of the devices found
 */
public record Probe(boolean available, List<String> reasons, List<String> devices) {
    public Probe {
        reasons = List.copyOf(reasons);
        devices = List.copyOf(devices);
    }

    public static Probe available(List<String> devices) {
        return new Probe(true, List.of(), devices);
    }

    public static Probe unavailable(String... reasons) {
        return new Probe(false, List.of(reasons), List.of());
    }
}
