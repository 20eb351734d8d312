package org.attn4j.options;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * How a plan schedules its work and what it may assume about the tensors its runs receive.
 * Immutable and thread-safe (a workspace tensor is referred to, not copied); change with the
 * {@code with*} methods.
 *
 * <p>A plan given {@link #qDtype} and {@link #kvDtype} decides everything when it is made (kernel,
 * split, workspace) and its runs only launch: this is the form for a hot path and for CUDA graph
 * capture. Without them, the plan is made for the dtypes (and alignment) of its first run with
 * each dtype pair, which allocates and uploads on that run; convenient for one-off calls.
 *
 * @param deterministic fix the KV split so a request's result is bitwise independent of the
 *                      other requests in the batch
 * @param maxSplitChunk a cap on keys per split chunk; 0 lets the backend choose
 * @param qDtype        the dtype of q (and of o, but for an FP8 q, whose o is F32, F16 or BF16 as each run
 *                      gives it) every run will bring, or null (decided per run)
 * @param kvDtype       the KV cache dtype every run will bring, or null (decided per run)
 * @param alignment     bytes every q, o and K/V view of a run starts on and strides by (a power
 *                      of two from 1 to 256, default 16); kernels that read 16-byte vectors are
 *                      chosen only when this allows them, and runs whose tensors break it are
 *                      rejected. Plans without dtypes take the alignment of their first run.
 * @param workspace     device memory the plan writes its schedule and split-KV partial states
 *                      into instead of the session's own, or null. A workspace holds one plan at
 *                      a time: making a plan in it retires the plan made in it before (whose runs
 *                      are then rejected). Size it with {@code AttentionBackend.workspaceBytes}.
 */
public record PlanOptions(boolean deterministic, int maxSplitChunk, DType qDtype, DType kvDtype, int alignment,
                          Tensor workspace) {
    /** The alignment plans assume unless told: what contiguous tensors keep (see {@link #alignment}). */
    public static final int NATURAL_ALIGNMENT = 0;
    /** The most alignment a natural row counts (the widest vector kernels read). */
    public static final int DEFAULT_ALIGNMENT = 16;
    /** The backend splits as it sees fit; dtypes decided per run; natural alignment; no workspace. */
    public static final PlanOptions DEFAULT = new PlanOptions(false, 0);
    /**
     * As {@link #DEFAULT} with a fixed split: results independent of the rest of the batch.
     */
    public static final PlanOptions DETERMINISTIC = new PlanOptions(true, 0);

    /**
     * Checks the values.
     *
     * @throws InvalidArgumentException when the chunk is negative, the alignment not 0 or a power of
     *         two up to 256, one dtype given without the other, or a dtype not one q or K/V can have
     */
    public PlanOptions {
        if (maxSplitChunk < 0) {
            throw InvalidArgumentException.expected("maxSplitChunk", ">= 0", maxSplitChunk);
        }
        if (alignment != NATURAL_ALIGNMENT && (alignment < 1 || alignment > 256 || Integer.bitCount(alignment) != 1)) {
            throw InvalidArgumentException.expected("alignment", "0 (natural) or a power of two in [1, 256]", alignment);
        }
        if ((qDtype == null) != (kvDtype == null)) {
            throw new InvalidArgumentException(qDtype == null ? "qDtype" : "kvDtype",
                    "give both dtypes or neither, actual q " + qDtype + ", kv " + kvDtype);
        }
        if (qDtype != null && !qDtype.isFloatingPoint()) {
            throw InvalidArgumentException.expected("qDtype", "a floating-point dtype (FP8 where the backend has "
                    + "FP8_QUERY)", qDtype);
        }
        if (kvDtype != null && !kvDtype.isFloatingPoint()) {
            throw InvalidArgumentException.expected("kvDtype", "a floating-point dtype", kvDtype);
        }
    }

    /**
     * Options without dtypes, at natural alignment, without a workspace.
     *
     * @param deterministic fix the KV split
     * @param maxSplitChunk a cap on keys per split chunk; 0 lets the backend choose
     */
    public PlanOptions(boolean deterministic, int maxSplitChunk) {
        this(deterministic, maxSplitChunk, null, null, NATURAL_ALIGNMENT, null);
    }

    /**
     * These options with the split fixed or not.
     *
     * @param value whether results are independent of the rest of the batch
     * @return new options
     */
    public PlanOptions withDeterministic(boolean value) {
        return new PlanOptions(value, maxSplitChunk, qDtype, kvDtype, alignment, workspace);
    }

    /**
     * These options with another cap on keys per split chunk.
     *
     * @param value the cap; 0 lets the backend choose
     * @return new options
     */
    public PlanOptions withMaxSplitChunk(int value) {
        return new PlanOptions(deterministic, value, qDtype, kvDtype, alignment, workspace);
    }

    /**
     * Plans ahead for q (and o) of {@code q} and a KV cache of {@code kv}.
     *
     * @param q  the dtype of q and o every run brings
     * @param kv the KV cache dtype every run brings
     * @return new options
     */
    public PlanOptions withDtypes(DType q, DType kv) {
        return new PlanOptions(deterministic, maxSplitChunk, q, kv, alignment, workspace);
    }

    /**
     * These options assuming another alignment of every run's views.
     *
     * @param bytes a power of two from 1 to 256, or {@link #NATURAL_ALIGNMENT}
     * @return new options
     */
    public PlanOptions withAlignment(int bytes) {
        return new PlanOptions(deterministic, maxSplitChunk, qDtype, kvDtype, bytes, workspace);
    }

    /**
     * These options with a caller workspace, or none.
     *
     * @param value device memory of the backend, contiguous and large enough, or null
     * @return new options
     */
    public PlanOptions withWorkspace(Tensor value) {
        return new PlanOptions(deterministic, maxSplitChunk, qDtype, kvDtype, alignment, value);
    }

    /**
     * The alignment to plan for: {@link #alignment} when given, else what contiguous rows of
     * {@code headDim} elements of both dtypes keep (at most {@link #DEFAULT_ALIGNMENT}).
     *
     * @param headDim {@code D}
     * @return bytes, a power of two
     */
    public int resolvedAlignment(int headDim) {
        return resolvedAlignment(headDim, headDim);
    }

    /**
     * The alignment to plan for: {@link #alignment} when given, else what contiguous rows of q and
     * k ({@code Dqk} elements) and of v and o ({@code Dvo}) keep (at most {@link #DEFAULT_ALIGNMENT}).
     *
     * @param headDimQk {@code Dqk}
     * @param headDimVo {@code Dvo}
     * @return bytes, a power of two
     */
    public int resolvedAlignment(int headDimQk, int headDimVo) {
        if (alignment != NATURAL_ALIGNMENT || qDtype == null) {
            return alignment == NATURAL_ALIGNMENT ? DEFAULT_ALIGNMENT : alignment;
        }
        long q = Long.lowestOneBit((long) headDimQk * qDtype.byteSize())
                | Long.lowestOneBit((long) headDimVo * qDtype.byteSize());
        long kv = Long.lowestOneBit((long) headDimQk * kvDtype.byteSize())
                | Long.lowestOneBit((long) headDimVo * kvDtype.byteSize());
        return (int) Math.min(DEFAULT_ALIGNMENT, Math.min(Long.lowestOneBit(q), Long.lowestOneBit(kv)));
    }

    /**
     * Whether the dtypes are fixed at planning.
     *
     * @return true when q's and the cache's dtypes are given
     */
    public boolean hasDtypes() {
        return qDtype != null;
    }
}
