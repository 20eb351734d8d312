package org.attn4j;

import org.attn4j.error.BackendUnavailableException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import org.attn4j.spi.BackendOptions;
import org.attn4j.spi.BackendProvider;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Probe;

/**
 * Finds backends with {@link ServiceLoader} and picks one. Selection: the system property
 * {@code attn4j.backend} or the environment variable {@code ATTN4J_BACKEND} (a list such as
 * {@code cuda,opencl}) when set, else every provider by priority; the first available wins.
 *
 * <p>Thread-safe: static methods only; providers' probes are cached once per provider class.
 */
public final class Backends {
    /**
     * The system property naming the backends to use, in order ({@code cuda,opencl}).
     */
    public static final String PROPERTY = "attn4j.backend";
    /**
     * The environment variable naming the backends to use when {@link #PROPERTY} is unset.
     */
    public static final String ENVIRONMENT = "ATTN4J_BACKEND";
    private static final System.Logger LOG = System.getLogger(Backends.class.getName());

    private Backends() {}

    /**
     * Every provider on the class or module path, highest priority first.
     *
     * @return the providers, found afresh
     */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).forEach(list::add);
        if (list.isEmpty()) {
            ServiceLoader.load(BackendProvider.class).forEach(list::add);
        }
        list.sort(Comparator.comparingInt(BackendProvider::priority).reversed().thenComparing(BackendProvider::id));
        return list;
    }

    /**
     * The provider with this id, available or not.
     *
     * @param id the provider id
     * @return the provider, or empty when none has the id
     */
    public static Optional<BackendProvider> find(String id) {
        return providers().stream().filter(p -> p.id().equals(id)).findFirst();
    }

    /**
     * The provider with this id; throws when absent or unavailable, with its reasons.
     *
     * @param id the provider id
     * @return the available provider
     * @throws org.attn4j.error.BackendUnavailableException when no provider has the id or its probe says unavailable
     */
    public static BackendProvider get(String id) {
        BackendProvider p = find(id).orElseThrow(() -> new BackendUnavailableException(
                "no backend '" + id + "' on the class path; found: " + ids() + "\n" + describe()));
        Probe probe = p.probe();
        if (!probe.available()) {
            throw new BackendUnavailableException("backend '" + id + "' is unavailable: "
                    + String.join("; ", probe.reasons()) + "\n" + describe());
        }
        return p;
    }

    /**
     * The selected provider: the override list if set, else the best available by priority.
     *
     * @return the first available provider of the override list, or of all by priority
     * @throws org.attn4j.error.BackendUnavailableException when none is available
     */
    public static BackendProvider best() {
        String override = System.getProperty(PROPERTY);
        if (override == null || override.isBlank()) {
            override = System.getenv(ENVIRONMENT);
        }
        if (override != null && !override.isBlank()) {
            List<String> wanted = List.of(override.trim().split("\\s*,\\s*"));
            for (String id : wanted) {
                Optional<BackendProvider> p = find(id);
                if (p.isPresent() && p.get().probe().available()) {
                    return p.get();
                }
            }
            throw new BackendUnavailableException("none of the backends named by " + PROPERTY + "/" + ENVIRONMENT
                    + " " + wanted + " is available\n" + describe());
        }
        for (BackendProvider p : providers()) {
            if (p.probe().available()) {
                LOG.log(System.Logger.Level.DEBUG, "selected backend {0}", p.id());
                return p;
            }
        }
        throw new BackendUnavailableException("no attn4j backend is available\n" + describe());
    }

    /**
     * Opens the selected backend ({@link #best()}) with default options.
     *
     * @return the open backend, closed by the caller
     */
    public static AttentionBackend openBest() {
        return AttentionBackend.of(best().open(BackendOptions.DEFAULT));
    }

    /**
     * Opens the backend with this id and default options.
     *
     * @param id the provider id
     * @return the open backend, closed by the caller
     * @throws org.attn4j.error.BackendUnavailableException when it is absent or unavailable
     */
    public static AttentionBackend open(String id) {
        return open(id, BackendOptions.DEFAULT);
    }

    /**
     * Opens the backend with this id and these options (device, kernel settings, native handles: spec §8).
     *
     * @param id      the provider id
     * @param options settings and native handles
     * @return the open backend, closed by the caller
     * @throws org.attn4j.error.BackendUnavailableException when it is absent or unavailable
     * @throws IllegalArgumentException when a setting has a value the backend does not know
     */
    public static AttentionBackend open(String id, BackendOptions options) {
        return AttentionBackend.of(get(id).open(options));
    }

    /**
     * The {@code device} setting of each device a provider's probe lists, in its order: the
     * number an entry starts with ({@code "0: NVIDIA H100 ..."}, CUDA's ordinal) or else the
     * entry's index in the list. Empty when the provider is unavailable.
     *
     * @param id the provider id
     * @return one {@code device} value per device
     * @throws org.attn4j.error.BackendUnavailableException when no provider has this id
     */
    public static List<String> deviceSettings(String id) {
        Probe probe = get(id).probe();
        List<String> out = new ArrayList<>();
        if (!probe.available()) {
            return out;
        }
        List<String> devices = probe.devices();
        for (int i = 0; i < devices.size(); i++) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("^\\s*(\\d+)\\s*:").matcher(devices.get(i));
            out.add(m.find() ? m.group(1) : Integer.toString(i));
        }
        return out;
    }

    /**
     * Opens one backend of this id on each of its devices ({@link #deviceSettings}), in order:
     * one session per device in one process, as context-parallel attention across devices needs
     * (spec §8, §12). The settings of {@code options} apply to every device; its {@code device}
     * setting is replaced. If one fails to open, those opened already are closed and the
     * failure is thrown.
     *
     * @param id      the provider id
     * @param options settings for every device; native handles belong to one device and are rejected
     * @return one open backend per device, closed by the caller
     * @throws org.attn4j.error.BackendUnavailableException when the provider is absent or unavailable
     */
    public static List<AttentionBackend> openPerDevice(String id, BackendOptions options) {
        BackendOptions base = options == null ? BackendOptions.DEFAULT : options;
        if (!base.handles().isEmpty()) {
            throw new org.attn4j.error.InvalidArgumentException("options.handles", "native handles belong to one "
                    + "device; open each backend with Backends.open(id, options) to pass them, actual "
                    + base.handles().keySet());
        }
        List<String> devices = deviceSettings(id);
        if (devices.isEmpty()) {
            throw new BackendUnavailableException(id + " is unavailable: "
                    + String.join("; ", get(id).probe().reasons()));
        }
        List<AttentionBackend> opened = new ArrayList<>();
        try {
            for (String d : devices) {
                opened.add(open(id, base.with("device", d)));
            }
        } catch (RuntimeException e) {
            for (AttentionBackend b : opened) {
                try {
                    b.close();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        return List.copyOf(opened);
    }

    private static List<String> ids() {
        return providers().stream().map(BackendProvider::id).toList();
    }

    /**
     * Every provider, its probe (available, or the reasons), devices.
     *
     * @return one block of lines per provider
     */
    public static String describe() {
        StringBuilder sb = new StringBuilder();
        for (BackendProvider p : providers()) {
            Probe probe = p.probe();
            sb.append(String.format("%-10s priority %3d  %s%n", p.id(), p.priority(),
                    probe.available() ? "available" : "unavailable"));
            for (String r : probe.reasons()) {
                sb.append("    reason: ").append(r).append('\n');
            }
            for (String d : probe.devices()) {
                sb.append("    device: ").append(d).append('\n');
            }
        }
        return sb.toString();
    }

    /**
     * {@link #describe()} plus each available backend's capabilities (each is opened to ask).
     *
     * @return the description
     */
    public static String describeWithCapabilities() {
        StringBuilder sb = new StringBuilder(describe());
        for (BackendProvider p : providers()) {
            if (!p.probe().available()) {
                continue;
            }
            try (AttentionBackend b = AttentionBackend.of(p.open(BackendOptions.DEFAULT))) {
                Capabilities c = b.capabilities();
                sb.append(p.id()).append(" on ").append(b.device()).append('\n')
                        .append("    q dtypes:  ").append(sortedNames(c.qDtypes())).append('\n')
                        .append("    kv dtypes: ").append(sortedNames(c.kvDtypes())).append('\n')
                        .append("    head dims: ").append(c.headDimsDescription()).append('\n')
                        .append("    layouts:   ").append(sortedNames(c.layouts())).append('\n')
                        .append("    features:  ").append(sortedNames(c.features())).append('\n');
            } catch (RuntimeException e) {
                sb.append(p.id()).append(": open failed: ").append(e.getMessage()).append('\n');
            }
        }
        return sb.toString();
    }

    private static String sortedNames(java.util.Set<? extends Enum<?>> set) {
        return set.stream().sorted(Comparator.comparingInt(Enum::ordinal)).map(Enum::name).toList().toString();
    }
}
