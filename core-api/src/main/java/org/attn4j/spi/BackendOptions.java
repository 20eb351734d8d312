package org.attn4j.spi;

import java.util.Map;

/**
 * Settings for opening a backend, by key. Unset keys fall back to system properties
 * ({@code attn4j.<backend>.<key>}), then defaults. Known keys: {@code device} (index or name
 * substring), {@code platform} (OpenCL).
 */
public record BackendOptions(Map<String, String> settings) {
    public static final BackendOptions DEFAULT = new BackendOptions(Map.of());

    public BackendOptions {
        settings = Map.copyOf(settings);
    }

    /** The value of {@code key} for backend {@code backendId}, or null. */
    public String get(String backendId, String key) {
        String v = settings.get(key);
        return v != null ? v : System.getProperty("attn4j." + backendId + "." + key);
    }
}
