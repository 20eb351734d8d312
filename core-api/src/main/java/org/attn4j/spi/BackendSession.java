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
 *
 * <p>Implementations must be safe for concurrent use: the front door forwards calls from any
 * thread, and calls {@link #close()} once, after every call in flight has returned.
 */
public interface BackendSession extends AutoCloseable {
    /**
     * The provider's id.
     *
     * @return such as {@code cuda}
     */
    String backendId();

    /**
     * What this session supports; the front door rejects everything else before calling it.
     *
     * @return the capabilities
     */
    Capabilities capabilities();

    /**
     * The device this session runs on, in words.
     *
     * @return its name and properties
     */
    String device();

    // ---- memory

    /**
     * A zero-filled, contiguous tensor ({@link BackendTensor#root}).
     *
     * @param dtype element type
     * @param shape dimensions, whose byte size fits a {@code long}
     * @return the tensor, owning its memory
     */
    Tensor allocate(DType dtype, long[] shape);

    /**
     * A contiguous tensor over caller memory of a kind in {@link Capabilities#externalMemory()}.
     * Validation has checked the kind, that the shape fits the stated capacity and that device memory
     * starts on a whole element; the backend checks what only its driver can of the handle (that it
     * is memory of its context, and at least as large as stated) and throws
     * {@link org.attn4j.error.InvalidArgumentException} naming {@code memory} when it is not.
     *
     * @param memory the caller's memory
     * @param dtype  element type
     * @param shape  dimensions
     * @return a borrowed tensor over the memory
     */
    Tensor wrap(ExternalMemory memory, DType dtype, long[] shape);

    /**
     * Copies into a contiguous tensor; returns once the copy is done.
     *
     * @param src the host values, dst's dtype and shape
     * @param dst a contiguous tensor of this session
     */
    void copyFromHost(HostTensor src, Tensor dst);

    /**
     * Queues a copy into a contiguous tensor without waiting: the bytes are taken from
     * {@code src} before this returns (into staging memory), so the caller may change or free
     * {@code src} at once; the device copy runs in stream order.
     *
     * @param src the host values, dst's dtype and shape
     * @param dst a contiguous tensor of this session
     */
    void copyFromHostAsync(HostTensor src, Tensor dst);

    /**
     * Copies a contiguous tensor out; waits for queued work first, and reports a recorded fault as
     * {@link #synchronize} does.
     *
     * @param src a contiguous tensor of this session
     * @param dst a host tensor of src's dtype and shape
     */
    void copyToHost(Tensor src, HostTensor dst);

    /**
     * Whether {@code t} was made by this session (or is memory it can address).
     *
     * @param t a tensor
     * @return true when this session may be given it
     */
    boolean owns(Tensor t);

    /**
     * Waits for all queued work, then reports a fault a kernel recorded while checking
     * device-resident values since the last report, as a {@link org.attn4j.error.BackendException}.
     */
    void synchronize();

    /**
     * A timer of work on this session's stream or queue.
     *
     * @return a new timer
     */
    DeviceTimer newTimer();

    /**
     * Device allocations this session has made since it opened (a diagnostic; plans reuse memory).
     *
     * @return the count
     */
    long deviceAllocations();

    /**
     * The native handles an engine needs to share this session's device work: e.g. {@code stream}
     * and {@code context} (CUDA), {@code context}, {@code queue} and {@code device} (OpenCL).
     *
     * @return handles by key
     */
    Map<String, Long> nativeHandles();

    // ---- attention

    /**
     * Bytes of caller workspace a plan of {@code problem} needs ({@link org.attn4j.options.PlanOptions#workspace}).
     *
     * @param problem a problem with its dtypes
     * @return the bytes
     */
    long workspaceBytes(AttentionProblem problem);

    /**
     * Plans {@code problem}: everything decided and uploaded here (asynchronously, without a host
     * wait where the backend can), into the problem's workspace when it has one.
     *
     * @param problem a validated problem with its dtypes and alignment
     * @return the plan, whose runs only launch
     */
    KernelPlan plan(AttentionProblem problem);

    /**
     * Plans multi-head latent attention (spec §13); only with {@link Feature#MLA}, whose absence
     * makes the front door reject the call before this is reached.
     *
     * @param problem a validated problem with its dtypes
     * @return the plan, whose runs only launch
     */
    default MlaKernelPlan planMla(MlaProblem problem) {
        throw new UnsupportedOperationException(backendId() + " has no multi-head latent attention");
    }

    // ---- states

    /**
     * {@code (o, s) = merge((oA, sA), (oB, sB))}; o [rows, Hq, D], s [rows, Hq] F32.
     *
     * @param oA the first state's output
     * @param sA the first state's log-sum-exp
     * @param oB the second state's output
     * @param sB the second state's log-sum-exp
     * @param o  the merged output
     * @param s  the merged log-sum-exp
     */
    void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s);

    /**
     * {@code (o, s) = merge((o, s), (oOther, sOther))} for rows whose mask is true (all when null).
     *
     * @param o       the state's output, updated
     * @param s       the state's log-sum-exp, updated
     * @param oOther  the other state's output
     * @param sOther  the other state's log-sum-exp
     * @param rowMask one flag per row (the session's own copy), or null
     */
    void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask);

    /**
     * v [rows, n, Hq, D], s [rows, n, Hq] to o [rows, Hq, D], sOut [rows, Hq].
     *
     * @param v    the states' outputs
     * @param s    the states' log-sum-exps
     * @param o    the merged output
     * @param sOut the merged log-sum-exp
     */
    void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut);

    // ---- KV and positions

    /**
     * k, v [n, Hkv, D] (views: token and head strides); token t to request batchIndices[t] at positions[t].
     *
     * @param k            the new tokens' keys
     * @param v            the new tokens' values
     * @param batchIndices each token's request, in range
     * @param positions    each token's position, in range
     * @param cache        the cache written
     * @param table        the page table, counting the new tokens
     */
    void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache, PageTable table);

    /**
     * As above with I32 device tensors for the indices and positions and a device page table;
     * only with {@link Feature#DEVICE_METADATA}. Tokens whose request or position is out of range
     * are skipped and recorded as a fault.
     *
     * @param k            the new tokens' keys
     * @param v            the new tokens' values
     * @param batchIndices each token's request, I32 on the device
     * @param positions    each token's position, I32 on the device
     * @param cache        the cache written
     * @param table        the device page table
     */
    default void appendPagedKv(Tensor k, Tensor v, Tensor batchIndices, Tensor positions, PagedKvCache cache,
                               DevicePageTable table) {
        throw new UnsupportedOperationException(backendId() + " has no device-resident metadata");
    }

    /**
     * In place: q [n, Hq, D], k [n, Hkv, D] (k may be null; views allowed), row t rotated at positions[t].
     *
     * @param q         query rows
     * @param k         key rows, or null
     * @param positions each row's position, non-negative
     * @param rope      the rotary embedding's parameters
     */
    void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope);

    /**
     * As above with an I32 device tensor of positions; only with {@link Feature#DEVICE_METADATA}.
     *
     * @param q         query rows
     * @param k         key rows, or null
     * @param positions each row's position, I32 on the device
     * @param rope      the rotary embedding's parameters
     */
    default void applyRope(Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        throw new UnsupportedOperationException(backendId() + " has no device-resident metadata");
    }

    // ---- graphs

    /**
     * Starts recording the work queued from this thread into a graph; only with
     * {@link Feature#GRAPH_CAPTURE}.
     *
     * @return the recorder, ended or aborted by the front door
     */
    default GraphRecorder beginCapture() {
        throw new UnsupportedOperationException(backendId() + " cannot capture graphs");
    }

    /** Frees the session's memory, stream or queue; called once, after every call in flight. */
    @Override
    void close();
}
