package org.attn4j.conformance.harness;

import org.attn4j.AttentionBackend;
import org.attn4j.tensor.ExternalMemory;

/**
 * Memory of the kind a backend wraps, made the way an engine would make it (JCuda's
 * {@code cuMemAlloc}, JOCL's {@code clCreateBuffer} on the backend's context, a host arena), so
 * the suite can check that borrowed memory computes what owned memory does. A backend's suite
 * subclass provides one; without it the property is skipped with a reason.
 *
 * <p>The suite calls it from one thread at a time; an implementation need not be thread-safe.
 */
public interface ExternalAllocator {
    /**
     * Caller-owned memory that a backend can wrap.
     *
     * @param backend the backend under test, whose device or context the memory belongs to
     * @param bytes   the least size, in bytes
     * @return the memory, which the suite hands back to {@link #free}
     */
    ExternalMemory allocate(AttentionBackend backend, long bytes);

    /**
     * Frees memory from {@link #allocate}, after the tensors over it are closed and their work has run.
     *
     * @param memory what {@link #allocate} returned
     */
    void free(ExternalMemory memory);
}
