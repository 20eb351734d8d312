package org.attn4j.spi;

/**
 * The memory behind a backend's tensors: an allocation the backend made (freed when the tensor
 * that made it is closed, or by the {@link LeakGuard} backstop) or memory the caller lends, which
 * attn4j never frees. Views share their base tensor's memory. Backends subclass it with what
 * their kernels need to address it (a device pointer, a buffer handle, a memory segment).
 *
 * <p>Thread-safe: closing waits, through its {@link ResourceGuard}, for calls that are using it.
 */
public abstract class TensorMemory {
    private final long byteSize;
    private final boolean borrowed;
    private final ResourceGuard guard = new ResourceGuard();
    private LeakGuard.Registration free;

    /**
     * Memory of {@code byteSize} bytes.
     *
     * @param byteSize bytes addressable from the memory's start
     * @param borrowed whether the caller owns it (closing then frees nothing)
     */
    protected TensorMemory(long byteSize, boolean borrowed) {
        this.byteSize = byteSize;
        this.borrowed = borrowed;
    }

    /**
     * Bytes addressable from byte 0.
     *
     * @return the size
     */
    public final long byteSize() {
        return byteSize;
    }

    /**
     * Whether the caller owns this memory and attn4j never frees it.
     *
     * @return true for borrowed memory
     */
    public final boolean isBorrowed() {
        return borrowed;
    }

    /**
     * Counts the calls using this memory.
     *
     * @return the guard
     */
    public final ResourceGuard guard() {
        return guard;
    }

    /**
     * The backend whose kernels can address this memory.
     *
     * @return its id
     */
    public abstract String backendId();

    /**
     * The largest power of two, at most 256, that divides the device address of byte 0.
     *
     * @return bytes
     */
    public abstract int baseAlignment();

    /**
     * Registers the action that runs once when this memory closes (or, as a backstop, after it
     * becomes unreachable unclosed): freeing an owned allocation, or dropping the reference a
     * backend took on borrowed memory (never freeing the caller's memory itself). Subclasses call
     * it at most once, last in their constructor; {@code action} must not reference this object.
     *
     * @param what   what the memory is, for the leak log
     * @param action frees or releases it
     */
    protected final void onClose(String what, Runnable action) {
        this.free = LeakGuard.register(this, what, action);
    }

    /** Rejects new calls, waits for calls inside, then frees owned memory (once). */
    final void close() {
        if (guard.closeAndAwait() && free != null) {
            free.run();
        }
    }

    /**
     * Whether the memory has been closed.
     *
     * @return true once closing
     */
    public final boolean isClosed() {
        return guard.isClosed();
    }
}
