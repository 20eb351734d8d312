package org.attn4j.conformance;

import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.DisplayNameGenerator;

/**
 * Display names carrying the backend: {@code [opencl] batch decode (paged) ≈ oracle}, so test
 * reports list each backend's conformance properties by name. {@link AttentionConformanceSuite}
 * names it in its {@code @DisplayNameGeneration}, so JUnit makes it; a suite subclass does not
 * use it directly. The backend id comes from a fresh instance of the test class, kept per class.
 *
 * <p>Thread-safe.
 */
public final class BackendDisplayNames implements DisplayNameGenerator {
    private static final ConcurrentHashMap<Class<?>, String> IDS = new ConcurrentHashMap<>();

    /** The generator JUnit makes for {@link AttentionConformanceSuite}'s subclasses. */
    public BackendDisplayNames() {}

    static String backendOf(Class<?> testClass) {
        return IDS.computeIfAbsent(testClass, c -> {
            try {
                Constructor<?> ctor = c.getDeclaredConstructor();
                ctor.setAccessible(true);
                Object suite = ctor.newInstance();
                return suite instanceof AttentionConformanceSuite s ? s.backendId() : c.getSimpleName();
            } catch (ReflectiveOperationException | RuntimeException e) {
                return c.getSimpleName();
            }
        });
    }

    @Override
    public String generateDisplayNameForClass(Class<?> testClass) {
        return "attn4j conformance [" + backendOf(testClass) + "]";
    }

    @Override
    public String generateDisplayNameForNestedClass(List<Class<?>> enclosing, Class<?> nested) {
        return nested.getSimpleName();
    }

    @Override
    public String generateDisplayNameForMethod(List<Class<?>> enclosing, Class<?> testClass, Method method) {
        String description = AttentionConformanceSuite.DESCRIPTIONS.getOrDefault(method.getName(), method.getName());
        return "[" + backendOf(testClass) + "] " + method.getName() + ": " + description;
    }
}
