package org.attn4j.kv;

import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A page table whose arrays live in device memory as I32 tensors, so that an engine, or a
 * captured CUDA graph replayed step after step, changes page ids and lengths by writing the same
 * buffers instead of planning again. The layout is {@link PageTable}'s: request {@code b} owns
 * pages {@code indices[indptr[b] .. indptr[b+1])} and its last page holds {@code lastPageLen[b]}
 * tokens.
 *
 * <p>The host cannot read the values, so plans schedule for {@link #maxKvLen} keys per request
 * and kernels read the actual lengths. The values are checked on the device at every use: an
 * indptr that decreases or passes {@code indices}' length, a {@code lastPageLen} outside
 * {@code [1, pageSize]}, a length over {@code maxKvLen} or a page id outside the cache make the
 * kernel treat the request as empty (or skip the token) rather than touch memory outside the
 * cache, and record a fault that the session's next {@code synchronize()} or {@code download}
 * reports as a {@link org.attn4j.error.BackendException}.
 *
 * <p>Immutable and thread-safe as a record; the device values it names change as the caller
 * writes them.
 *
 * @param indptr      I32 {@code [B + 1]}, contiguous
 * @param indices     I32 {@code [capacity]}, contiguous: page ids
 * @param lastPageLen I32 {@code [B]}, contiguous
 * @param pageSize    tokens per page
 * @param maxKvLen    the most keys any request has while this table is in use
 */
public record DevicePageTable(Tensor indptr, Tensor indices, Tensor lastPageLen, int pageSize, int maxKvLen) {
    /**
     * Checks the tensors' dtype, rank and lengths (their values are checked on the device).
     *
     * @throws InvalidArgumentException when a tensor is missing, not a contiguous I32 vector of the
     *         right length, or {@code indices} cannot hold one request of {@code maxKvLen}
     */
    public DevicePageTable {
        Args.notNull(indptr, "indptr");
        Args.notNull(indices, "indices");
        Args.notNull(lastPageLen, "lastPageLen");
        requireI32Vector(indptr, "indptr");
        requireI32Vector(indices, "indices");
        requireI32Vector(lastPageLen, "lastPageLen");
        if (indptr.dim(0) < 1) {
            throw InvalidArgumentException.expected("indptr.shape[0]", ">= 1 (B + 1)", indptr.dim(0));
        }
        if (lastPageLen.dim(0) != indptr.dim(0) - 1) {
            throw InvalidArgumentException.expected("lastPageLen.shape[0]", "B = " + (indptr.dim(0) - 1),
                    lastPageLen.dim(0));
        }
        if (indptr.dim(0) - 1 > Integer.MAX_VALUE - 1 || indices.dim(0) > Integer.MAX_VALUE) {
            throw new InvalidArgumentException("indptr", "batch and page capacity must fit 32-bit indices");
        }
        Args.inRange(pageSize, 1, Integer.MAX_VALUE, "pageSize");
        Args.inRange(maxKvLen, 0, Integer.MAX_VALUE, "maxKvLen");
        long pagesNeeded = (maxKvLen + (long) pageSize - 1) / pageSize;
        if (maxKvLen > 0 && pagesNeeded > indices.dim(0)) {
            throw new InvalidArgumentException("indices", "holds " + indices.dim(0) + " page ids, fewer than the "
                    + pagesNeeded + " one request of maxKvLen " + maxKvLen + " needs");
        }
    }

    private static void requireI32Vector(Tensor t, String name) {
        if (t.dtype() != DType.I32) {
            throw InvalidArgumentException.expected(name + ".dtype", DType.I32, t.dtype());
        }
        if (t.rank() != 1) {
            throw InvalidArgumentException.expected(name + ".shape", "rank 1", java.util.Arrays.toString(t.shape()));
        }
        if (!t.isContiguous()) {
            throw new InvalidArgumentException(name, "must be contiguous");
        }
    }

    /**
     * The number of requests.
     *
     * @return B, one less than {@code indptr}'s length
     */
    public int batchSize() {
        return (int) (indptr.dim(0) - 1);
    }

    /**
     * Page ids the {@code indices} tensor holds.
     *
     * @return its length
     */
    public int capacity() {
        return (int) indices.dim(0);
    }
}
