package org.attn4j.cuda.driver;

import java.lang.reflect.Field;
import jcuda.NativePointerObject;

/**
 * Raw handles of JCuda objects and JCuda objects for raw handles (a caller's stream from another
 * library): JCuda keeps the native pointer protected, so its field is read and set directly.
 * Stateless and thread-safe.
 */
public final class JCudaHandles {
    private static final Field NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredField("nativePointer");
            NATIVE_POINTER.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError("JCuda's NativePointerObject has no accessible nativePointer: " + e);
        }
    }

    private JCudaHandles() {}

    /**
     * The native pointer of a JCuda object.
     *
     * @param o the object
     * @return its handle
     */
    public static long handle(NativePointerObject o) {
        try {
            return NATIVE_POINTER.getLong(o);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Points a fresh JCuda object at a native handle.
     *
     * @param <T>    the object's type
     * @param object a new, unset object
     * @param handle the native handle
     * @return {@code object}
     */
    public static <T extends NativePointerObject> T wrap(T object, long handle) {
        try {
            NATIVE_POINTER.setLong(object, handle);
            return object;
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
