package org.attn4j.spi;

import java.util.Map;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.RopeOptions;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * An opened backend on one device, as a backend implements it. Users reach it through
 * {@link org.attn4j.AttentionBackend}, which validates every argument first and holds the
 * tensors and plans it passes open for the call: methods here may assume valid, open tensors of
 * this session with matching shapes, dtypes and strides, and need not check them again.
 *
 * <p>Ordering: work is queued in order on one stream or queue (the session's own, or the one the
 * caller opened it on). Only {@link #copyToHost}, {@link #copyFromHost}, {@link #synchronize} and
 * timers wait on the host; everything else returns once its work is queued.
 */
public interface BackendSession extends AutoCloseable {
    String backendId();

    Capabilities capabilities();

    /** The device this session runs on, in words. */
    String device();

    // ---- memory

    /** A zero-filled, contiguous tensor ({@link BackendTensor#root}). */
    Tensor allocate(DType dtype, long[] shape);

    /**
     * A contiguous tensor over caller memory of a kind in {@link Capabilities#externalMemory()}.
     * Validation has checked the kind and that the shape fits the stated capacity; the backend
     * checks what it can of the handle itself (that it is memory of its context, and at least as
     * large as stated) and throws {@link org.attn4j.error.InvalidArgumentException} naming
     * {@code memory} when it is not.
     */
    Tensor wrap(ExternalMemory memory, DType dtype, long[] shape);

    /** Copies into a contiguous tensor; returns once the copy is done. */
    void copyFromHost(HostTensor src, Tensor dst);

    /**
     * Queues a copy into a contiguous tensor without waiting: the bytes are taken from
     * {@code src} before this returns (into staging memory), so the caller may change or free
     * {@code src} at once; the device copy runs in stream order.
     */
    void copyFromHostAsync(HostTensor src, Tensor dst);

    /** Copies a contiguous tensor out; waits for queued work first. */
    void copyToHost(Tensor src, HostTensor dst);

    /** Whether {@code t} was made by this session (or is memory it can address). */
    boolean owns(Tensor t);

    /**
     * Waits for all queued work, then reports a fault a kernel recorded while checking
     * device-resident values since the last report, as a {@link org.attn4j.error.BackendException}.
     */
    void synchronize();

    DeviceTimer newTimer();

    /** Device allocations this session has made since it opened (a diagnostic; plans reuse memory). */
    long deviceAllocations();

    /**
     * The native handles an engine needs to share this session's device work: e.g. {@code stream}
     * and {@code context} (CUDA), {@code context}, {@code queue} and {@code device} (OpenCL).
     */
    Map<String, Long> nativeHandles();

    // ---- attention

    /** Bytes of caller workspace a plan of {@code problem} needs ({@link org.attn4j.options.PlanOptions#workspace}). */
    long workspaceBytes(AttentionProblem problem);

    /**
     * Plans {@code problem}: everything decided and uploaded here (asynchronously, without a host
     * wait where the backend can), into the problem's workspace when it has one.
     */
    KernelPlan plan(AttentionProblem problem);

    // ---- states

    /** {@code (o, s) = merge((oA, sA), (oB, sB))}; o [rows, Hq, D], s [rows, Hq] F32. */
    void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s);

    /** {@code (o, s) = merge((o, s), (oOther, sOther))} for rows whose mask is true (all when null). */
    void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask);

    /** v [rows, n, Hq, D], s [rows, n, Hq] to o [rows, Hq, D], sOut [rows, Hq]. */
    void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut);

    // ---- KV and positions

    /** k, v [n, Hkv, D] (views: token and head strides); token t to request batchIndices[t] at positions[t]. */
    void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache, PageTable table);

    /**
     * As above with I32 device tensors for the indices and positions and a device page table;
     * only with {@link Feature#DEVICE_METADATA}. Tokens whose request or position is out of range
     * are skipped and recorded as a fault.
     */
    default void appendPagedKv(Tensor k, Tensor v, Tensor batchIndices, Tensor positions, PagedKvCache cache,
                               DevicePageTable table) {
        throw new UnsupportedOperationException(backendId() + " has no device-resident metadata");
    }

    /** In place: q [n, Hq, D], k [n, Hkv, D] (k may be null; views allowed), row t rotated at positions[t]. */
    void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope);

    /** As above with an I32 device tensor of positions; only with {@link Feature#DEVICE_METADATA}. */
    default void applyRope(Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        throw new UnsupportedOperationException(backendId() + " has no device-resident metadata");
    }

    // ---- graphs

    /**
     * Starts recording the work queued from this thread into a graph; only with
     * {@link Feature#GRAPH_CAPTURE}.
     */
    default GraphRecorder beginCapture() {
        throw new UnsupportedOperationException(backendId() + " cannot capture graphs");
    }

    @Override
    void close();
}
