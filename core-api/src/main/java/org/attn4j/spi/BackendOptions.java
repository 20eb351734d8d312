package org.attn4j.spi;

import java.util.HashMap;
import java.util.Map;

/**
 * Settings for opening a backend. Unset keys fall back to system properties
 * ({@code attn4j.<backend>.<key>}), then defaults. A backend reads its settings once, when it
 * opens, and rejects a value it does not know by naming the setting, the allowed values and the
 * given one. Known settings: {@code device} (index or name substring); OpenCL: {@code platform},
 * {@code kernel} (kernel flavour), {@code streamKeys}, {@code streamGroup}; CUDA:
 * {@code decodeKernel} ({@code auto}, {@code mma}, {@code stream}, {@code tc}),
 * {@code prefillKernel} ({@code wgmma}, {@code fa2}, {@code tc}), {@code streamWaves} (a positive
 * integer). The backends' READMEs say what each does. Native handles
 * let a session run on the caller's objects: {@code stream} (a CUDA {@code CUstream} of the
 * device's primary context, which the caller keeps alive until the backend is closed);
 * {@code queue} (an in-order OpenCL command queue; the session uses its context and device).
 *
 * <p>Immutable (maps are copied) and thread-safe.
 *
 * @param settings by key
 * @param handles  native handles by key
 */
public record BackendOptions(Map<String, String> settings, Map<String, Long> handles) {
    /** No settings (system properties and defaults apply) and no native handles. */
    public static final BackendOptions DEFAULT = new BackendOptions(Map.of(), Map.of());

    /** Copies the maps. */
    public BackendOptions {
        settings = Map.copyOf(settings);
        handles = Map.copyOf(handles);
    }

    /**
     * Settings without native handles.
     *
     * @param settings by key
     */
    public BackendOptions(Map<String, String> settings) {
        this(settings, Map.of());
    }

    /**
     * These options with one more setting.
     *
     * @param key   the setting, such as {@code device} or {@code decodeKernel}
     * @param value its value
     * @return new options
     */
    public BackendOptions with(String key, String value) {
        Map<String, String> m = new HashMap<>(settings);
        m.put(key, value);
        return new BackendOptions(m, handles);
    }

    /**
     * These options with one more native handle ({@code stream}, {@code queue}).
     *
     * @param key    the handle's key
     * @param handle the native handle, kept alive by the caller until the backend is closed
     * @return new options
     */
    public BackendOptions withHandle(String key, long handle) {
        Map<String, Long> m = new HashMap<>(handles);
        m.put(key, handle);
        return new BackendOptions(settings, m);
    }

    /**
     * The value of {@code key} for backend {@code backendId}: the setting, else the system property
     * {@code attn4j.<backendId>.<key>}.
     *
     * @param backendId the backend reading it
     * @param key       the setting
     * @return the value, or null when neither gives one
     */
    public String get(String backendId, String key) {
        String v = settings.get(key);
        return v != null ? v : System.getProperty("attn4j." + backendId + "." + key);
    }

    /**
     * The native handle of {@code key}.
     *
     * @param key the handle's key
     * @return the handle, or null
     */
    public Long handle(String key) {
        return handles.get(key);
    }
}
