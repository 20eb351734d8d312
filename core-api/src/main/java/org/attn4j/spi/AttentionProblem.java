package org.attn4j.spi;

import java.util.Arrays;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.PageTable;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;

/**
 * A validated batch attention over a paged KV view, what a backend plans and runs. Single,
 * decode, paged and ragged prefill all reduce to this (see {@link org.attn4j.kv.PagedKvCache}).
 * Everything a backend needs to choose its kernels is here, so {@link KernelPlan#run} only
 * launches: the dtypes, the alignment the run's tensors keep, and the keys per request (exact
 * from a host page table, or bounded by a device page table's {@code maxKvLen}).
 *
 * <p>Immutable (arrays are copied in and out) and thread-safe.
 *
 * @param heads       head counts and dims
 * @param qoIndptr    request {@code b} owns query rows {@code qoIndptr[b] .. qoIndptr[b+1])}
 * @param pageTable   request {@code b}'s keys, host-resident; null with a device table
 * @param deviceTable request {@code b}'s keys, device-resident; null with a host table
 * @param options     causal, window, soft cap, RoPE
 * @param mask        custom mask or null
 * @param maskOffsets per-request bit offsets into {@code mask} (null without a mask)
 * @param decode      every request has exactly one query row
 * @param plan        scheduling options
 * @param qDtype      dtype of q in every run, and of o but for an FP8 q (spec §1: o then F32, F16 or BF16)
 * @param kvDtype     dtype of the KV cache in every run
 * @param alignment   bytes every run's q, o and K/V views start on and stride by
 */
public record AttentionProblem(HeadConfig heads, int[] qoIndptr, PageTable pageTable, DevicePageTable deviceTable,
                               AttentionOptions options, CustomMask mask, long[] maskOffsets, boolean decode,
                               PlanOptions plan, DType qDtype, DType kvDtype, int alignment) {
    /**
     * Copies the arrays.
     *
     * @throws IllegalArgumentException unless exactly one of the page tables is given
     */
    public AttentionProblem {
        // Plans keep their problem and hand it out; copies keep it immutable.
        qoIndptr = qoIndptr.clone();
        maskOffsets = maskOffsets == null ? null : maskOffsets.clone();
        if ((pageTable == null) == (deviceTable == null)) {
            throw new IllegalArgumentException("exactly one of pageTable and deviceTable");
        }
    }

    /**
     * Each request's first query row, and one past the last; use {@link #qoStart} and {@link #qoLen} in loops.
     *
     * @return a copy
     */
    @Override
    public int[] qoIndptr() {
        return qoIndptr.clone();
    }

    /**
     * Each request's first bit in the mask.
     *
     * @return a copy, or null without a mask
     */
    @Override
    public long[] maskOffsets() {
        return maskOffsets == null ? null : maskOffsets.clone();
    }

    /**
     * Bit offset of request {@code b}'s mask matrix (only with a mask).
     *
     * @param b a request
     * @return its first bit
     */
    public long maskOffset(int b) {
        return maskOffsets[b];
    }

    /**
     * First query row of request {@code b}.
     *
     * @param b a request
     * @return the row
     */
    public int qoStart(int b) {
        return qoIndptr[b];
    }

    /**
     * The number of requests.
     *
     * @return B
     */
    public int batchSize() {
        return qoIndptr.length - 1;
    }

    /**
     * Query rows of request {@code b}.
     *
     * @param b a request
     * @return its rows
     */
    public int qoLen(int b) {
        return qoIndptr[b + 1] - qoIndptr[b];
    }

    /**
     * Query rows of all requests.
     *
     * @return the rows of q and o
     */
    public int totalQ() {
        return qoIndptr[qoIndptr.length - 1];
    }

    /**
     * The logit scale: the options' scale, or {@code 1/sqrt(Dqk)} (the dot product runs over q's and k's dims).
     *
     * @return the scale
     */
    public float smScale() {
        return options.resolvedSmScale(heads.headDimQk());
    }

    /**
     * Tokens per page of the page table, host or device.
     *
     * @return the page size
     */
    public int pageSize() {
        return pageTable != null ? pageTable.pageSize() : deviceTable.pageSize();
    }

    /**
     * Whether the page table lives on the device (lengths known only as a bound).
     *
     * @return true with a device page table
     */
    public boolean deviceResident() {
        return deviceTable != null;
    }

    /**
     * Keys per request to schedule for: the exact lengths of a host table, or every request at
     * the device table's {@code maxKvLen} (kernels stop at the actual length).
     *
     * @return one length per request
     */
    public int[] kvLens() {
        if (pageTable != null) {
            return pageTable.kvLens();
        }
        int[] out = new int[batchSize()];
        Arrays.fill(out, deviceTable.maxKvLen());
        return out;
    }

    /**
     * This problem for other run dtypes and alignment (plans made at first run).
     *
     * @param q            the dtype of q and o
     * @param kv           the cache's dtype
     * @param runAlignment bytes the run's views keep
     * @return the problem
     */
    public AttentionProblem withRunTypes(DType q, DType kv, int runAlignment) {
        return new AttentionProblem(heads, qoIndptr, pageTable, deviceTable, options, mask, maskOffsets, decode, plan,
                q, kv, runAlignment);
    }
}
