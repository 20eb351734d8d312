package org.attn4j.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.attn4j.cuda.driver.DeviceContext;
import org.attn4j.cuda.driver.KernelFunction;
import org.attn4j.cuda.driver.KernelModule;

/**
 * The fatbin nvcc built at package time, loaded once per session, and its functions by name.
 * Functions are looked up lazily: the module holds about a hundred specialisations.
 */
final class CudaKernels implements AutoCloseable {
    /** Class-path resource of the fatbin; absent when the build had no nvcc. */
    static final String RESOURCE = "/org/attn4j/cuda/attn4j-kernels.fatbin";

    private final KernelModule module;
    private final Map<String, KernelFunction> functions = new ConcurrentHashMap<>();
    private final Map<String, Integer> sharedLimits = new ConcurrentHashMap<>();

    CudaKernels(DeviceContext context) {
        this.module = context.loadModule(image());
    }

    static boolean present() {
        return CudaKernels.class.getResource(RESOURCE) != null;
    }

    static byte[] image() {
        try (InputStream in = CudaKernels.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the CUDA backend was built without kernels (no nvcc): "
                        + RESOURCE + " is missing");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE, e);
        }
    }

    KernelFunction get(String name) {
        return functions.computeIfAbsent(name, module::function);
    }

    /** The function, allowed {@code sharedBytes} of dynamic shared memory. */
    KernelFunction get(String name, int sharedBytes) {
        KernelFunction f = get(name);
        if (sharedBytes > 48 * 1024) {
            sharedLimits.compute(name, (k, old) -> {
                if (old == null || old < sharedBytes) {
                    f.setMaxDynamicSharedMemory(sharedBytes);
                    return sharedBytes;
                }
                return old;
            });
        }
        return f;
    }

    @Override
    public void close() {
        module.close();
    }
}
