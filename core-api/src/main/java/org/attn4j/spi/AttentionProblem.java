package org.attn4j.spi;

import org.attn4j.options.PlanOptions;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.CustomMask;
import org.attn4j.options.HeadConfig;
import org.attn4j.kv.PageTable;

/**
 * A validated batch attention over a paged KV view, what a backend plans and runs. Single,
 * decode, paged and ragged prefill all reduce to this (see {@link org.attn4j.kv.PagedKvCache}).
 *
 * @param heads         head counts and dim
 * @param qoIndptr      request {@code b} owns query rows {@code qoIndptr[b] .. qoIndptr[b+1])}
 * @param pageTable     request {@code b}'s keys
 * @param options       causal, window, soft cap, RoPE; {@code smScale} already resolved
 * @param mask          custom mask or null
 * @param maskOffsets   per-request bit offsets into {@code mask} (null without a mask)
 * @param decode        every request has exactly one query row
 * @param plan          scheduling options
 */
public record AttentionProblem(HeadConfig heads, int[] qoIndptr, PageTable pageTable, AttentionOptions options,
                               CustomMask mask, long[] maskOffsets, boolean decode, org.attn4j.options.PlanOptions plan) {
    public AttentionProblem {
        // Plans keep their problem and hand it out (BatchAttentionPlan#problem); copies keep it immutable.
        qoIndptr = qoIndptr.clone();
        maskOffsets = maskOffsets == null ? null : maskOffsets.clone();
    }

    /** A copy; use {@link #qoStart} and {@link #qoLen} in loops. */
    @Override
    public int[] qoIndptr() {
        return qoIndptr.clone();
    }

    /** A copy, or null without a mask. */
    @Override
    public long[] maskOffsets() {
        return maskOffsets == null ? null : maskOffsets.clone();
    }

    /** Bit offset of request {@code b}'s mask matrix (only with a mask). */
    public long maskOffset(int b) {
        return maskOffsets[b];
    }

    /** First query row of request {@code b}. */
    public int qoStart(int b) {
        return qoIndptr[b];
    }

    public int batchSize() {
        return qoIndptr.length - 1;
    }

    public int qoLen(int b) {
        return qoIndptr[b + 1] - qoIndptr[b];
    }

    public int totalQ() {
        return qoIndptr[qoIndptr.length - 1];
    }

    public float smScale() {
        return options.resolvedSmScale(heads.headDim());
    }
}
