package org.attn4j.spi;

import java.util.List;
import org.attn4j.options.RopeOptions;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * An opened backend on one device, as a backend implements it. Users reach it through
 * {@link org.attn4j.AttentionBackend}, which validates every argument first: methods here may
 * assume valid, open tensors of this session with matching shapes and dtypes.
 */
public interface BackendSession extends AutoCloseable {
    String backendId();

    Capabilities capabilities();

    /** The device this session runs on, in words. */
    String device();

    // ---- memory

    /** A zero-filled tensor. */
    Tensor allocate(DType dtype, long[] shape);

    void copyFromHost(HostTensor src, Tensor dst);

    void copyToHost(Tensor src, HostTensor dst);

    /** Whether {@code t} was made by this session. */
    boolean owns(Tensor t);

    /** A tensor viewing {@code host} without a copy; only with {@link Feature#ZERO_COPY_HOST}. */
    default Tensor wrapHost(HostTensor host) {
        throw new UnsupportedOperationException(backendId() + " cannot view host memory without a copy");
    }

    /** Waits for all queued device work. */
    void synchronize();

    DeviceTimer newTimer();

    // ---- attention

    KernelPlan plan(AttentionProblem problem);

    // ---- states

    /** {@code (o, s) = merge((oA, sA), (oB, sB))}; o [rows, Hq, D], s [rows, Hq] F32. */
    void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s);

    /** {@code (o, s) = merge((o, s), (oOther, sOther))} for rows whose mask is true (all when null). */
    void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask);

    /** v [rows, n, Hq, D], s [rows, n, Hq] to o [rows, Hq, D], sOut [rows, Hq]. */
    void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut);

    // ---- KV and positions

    /** k, v [n, Hkv, D]; token t to request batchIndices[t] at positions[t]. */
    void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache, PageTable table);

    /** In place: q [n, Hq, D], k [n, Hkv, D] (k may be null), row t rotated at positions[t]. */
    void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope);

    @Override
    void close();
}
