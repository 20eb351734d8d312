package org.attn4j.opencl;

import java.lang.reflect.Field;
import org.jocl.NativePointerObject;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_mem;

/**
 * JOCL objects for native handles that came from elsewhere (another binding, a native library,
 * {@link org.attn4j.tensor.ExternalMemory.OpenClBuffer}): JOCL can hand out a handle
 * ({@code getNativePointer()}) but has no public way to wrap one, so its field is set directly.
 */
final class JoclHandles {
    private static final Field NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredField("nativePointer");
            NATIVE_POINTER.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new ExceptionInInitializerError("JOCL's NativePointerObject has no accessible nativePointer: " + e);
        }
    }

    private JoclHandles() {}

    private static <T extends NativePointerObject> T wrap(T object, long handle) {
        try {
            NATIVE_POINTER.setLong(object, handle);
            return object;
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot wrap an OpenCL handle in JOCL: " + e.getMessage(), e);
        }
    }

    static cl_mem mem(long handle) {
        return wrap(new cl_mem(), handle);
    }

    static cl_command_queue queue(long handle) {
        return wrap(new cl_command_queue(), handle);
    }

    static cl_context context(long handle) {
        return wrap(new cl_context(), handle);
    }

    static cl_device_id device(long handle) {
        return wrap(new cl_device_id(), handle);
    }
}
