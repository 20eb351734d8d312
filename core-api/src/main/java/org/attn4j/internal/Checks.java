package org.attn4j.internal;

import java.util.Arrays;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * The single validation path (spec §7): every public operation calls these before any device
 * work, so a rejected call throws {@link InvalidArgumentException} and writes nothing.
 */
public final class Checks {
    private Checks() {}

    /** Non-null, open, and made by {@code session}. */
    public static void tensor(BackendSession session, String name, Tensor t) {
        if (t == null) {
            throw new InvalidArgumentException(name, "tensor is null");
        }
        if (t.isClosed()) {
            throw new InvalidArgumentException(name, "tensor is closed");
        }
        if (!session.owns(t)) {
            throw InvalidArgumentException.expected(name, "a tensor of backend '" + session.backendId() + "'",
                    "a tensor of backend '" + t.backendId() + "'");
        }
    }

    /** An argument that must be given: null is rejected by name, not by a NullPointerException later. */
    public static void notNull(Object value, String name) {
        org.attn4j.internal.check.Args.notNull(value, name);
    }

    /** Rejects use of a closed plan or resource named {@code name}. */
    public static void open(String name, boolean closed) {
        if (closed) {
            throw new InvalidArgumentException(name, "is closed");
        }
    }

    public static void shape(String name, Tensor t, long... expected) {
        long[] actual = t.shape();
        if (!Arrays.equals(actual, expected)) {
            throw InvalidArgumentException.expected(name + ".shape", Arrays.toString(expected), Arrays.toString(actual));
        }
    }

    public static void dtype(String name, Tensor t, DType expected) {
        if (t.dtype() != expected) {
            throw InvalidArgumentException.expected(name + ".dtype", expected, t.dtype());
        }
    }

    public static void qDtype(Capabilities caps, String backend, String name, Tensor t) {
        if (!caps.qDtypes().contains(t.dtype())) {
            throw InvalidArgumentException.expected(name + ".dtype", "one of " + sorted(caps.qDtypes().toArray())
                    + " on backend '" + backend + "'", t.dtype());
        }
    }

    public static void kvDtype(Capabilities caps, String backend, String name, DType dtype) {
        if (!caps.kvDtypes().contains(dtype)) {
            throw InvalidArgumentException.expected(name + ".dtype", "one of " + sorted(caps.kvDtypes().toArray())
                    + " on backend '" + backend + "'", dtype);
        }
    }

    public static void headDim(Capabilities caps, String backend, int d) {
        if (!caps.supportsHeadDim(d)) {
            throw InvalidArgumentException.expected("headDim", caps.headDimsDescription() + " on backend '" + backend
                    + "'", d);
        }
    }

    public static void feature(Capabilities caps, String backend, Feature f, String argument) {
        if (!caps.has(f)) {
            throw new InvalidArgumentException(argument, "backend '" + backend + "' does not support " + f);
        }
    }

    /** Options, against the backend's features and the head dim. */
    public static void options(Capabilities caps, String backend, AttentionOptions o, int headDim) {
        if (o == null) {
            throw new InvalidArgumentException("options", "is null");
        }
        if (o.windowLeft() < -1) {
            throw InvalidArgumentException.expected("windowLeft", "-1 (no window) or >= 0", o.windowLeft());
        }
        if (!(o.logitsSoftCap() >= 0) || !Float.isFinite(o.logitsSoftCap())) {
            throw InvalidArgumentException.expected("logitsSoftCap", "0 (off) or a finite value > 0", o.logitsSoftCap());
        }
        if (!Float.isNaN(o.smScale()) && (!(o.smScale() > 0) || !Float.isFinite(o.smScale()))) {
            throw InvalidArgumentException.expected("smScale", "NaN (default 1/sqrt(D)) or a finite value > 0",
                    o.smScale());
        }
        if (o.causal()) {
            feature(caps, backend, Feature.CAUSAL, "causal");
        }
        if (o.windowLeft() >= 0) {
            feature(caps, backend, Feature.SLIDING_WINDOW, "windowLeft");
        }
        if (o.logitsSoftCap() > 0) {
            feature(caps, backend, Feature.SOFT_CAP, "logitsSoftCap");
        }
        if (o.rope() != null) {
            feature(caps, backend, Feature.ROPE, "rope");
            if (headDim % 2 != 0) {
                throw InvalidArgumentException.expected("headDim", "an even head dim with RoPE", headDim);
            }
        }
    }

    /** Indptr over rows: starts at 0, never decreases, has {@code batch + 1} entries when batch >= 0. */
    public static void indptr(String name, int[] indptr, int batch) {
        if (indptr == null) {
            throw new InvalidArgumentException(name, "is null");
        }
        if (batch >= 0 && indptr.length != batch + 1) {
            throw InvalidArgumentException.expected(name + ".length", "B + 1 = " + (batch + 1), indptr.length);
        }
        if (indptr.length < 1) {
            throw InvalidArgumentException.expected(name + ".length", ">= 1", indptr.length);
        }
        if (indptr[0] != 0) {
            throw InvalidArgumentException.expected(name + "[0]", 0, indptr[0]);
        }
        for (int i = 1; i < indptr.length; i++) {
            if (indptr[i] < indptr[i - 1]) {
                throw new InvalidArgumentException(name + "[" + i + "]", name + " must not decrease: " + name + "[" + i
                        + "] = " + indptr[i] + " < " + name + "[" + (i - 1) + "] = " + indptr[i - 1]);
            }
        }
    }

    /** Causal attention needs {@code qoLen <= kvLen} for every request. */
    public static void causalLengths(boolean causal, int[] qoLens, int[] kvLens) {
        if (!causal) {
            return;
        }
        for (int b = 0; b < qoLens.length; b++) {
            if (qoLens[b] > kvLens[b]) {
                throw new InvalidArgumentException("qoLen[" + b + "]", "causal attention needs qoLen <= kvLen, request "
                        + b + " has qoLen " + qoLens[b] + " > kvLen " + kvLens[b]);
            }
        }
    }

    /** The cache matches the heads, the table's page size and page ids, and the backend. */
    public static void cache(BackendSession session, PagedKvCache cache, PageTable table, HeadConfig heads) {
        Capabilities caps = session.capabilities();
        String backend = session.backendId();
        tensor(session, "cache.k", cache.k());
        tensor(session, "cache.v", cache.v());
        kvDtype(caps, backend, "cache", cache.dtype());
        if (!caps.layouts().contains(cache.layout())) {
            throw InvalidArgumentException.expected("cache.layout", "one of " + caps.layouts() + " on backend '"
                    + backend + "'", cache.layout());
        }
        if (cache.numKvHeads() != heads.numKvHeads()) {
            throw InvalidArgumentException.expected("cache.numKvHeads", heads.numKvHeads(), cache.numKvHeads());
        }
        if (cache.headDim() != heads.headDim()) {
            throw InvalidArgumentException.expected("cache.headDim", heads.headDim(), cache.headDim());
        }
        if (cache.pageSize() != table.pageSize()) {
            throw InvalidArgumentException.expected("cache.pageSize", "the page table's " + table.pageSize(),
                    cache.pageSize());
        }
        long pageExtent = (long) cache.pageSize() * cache.numKvHeads() * cache.headDim();
        if (cache.numPages() > 0) {
            long kEnd = cache.kOffset() + (cache.numPages() - 1L) * cache.pageStride() + pageExtent;
            long vEnd = cache.vOffset() + (cache.numPages() - 1L) * cache.pageStride() + pageExtent;
            if (cache.kOffset() < 0 || kEnd > cache.k().elementCount()) {
                throw InvalidArgumentException.expected("cache.k", "at least " + kEnd + " elements for "
                        + cache.numPages() + " pages", cache.k().elementCount());
            }
            if (cache.vOffset() < 0 || vEnd > cache.v().elementCount()) {
                throw InvalidArgumentException.expected("cache.v", "at least " + vEnd + " elements for "
                        + cache.numPages() + " pages", cache.v().elementCount());
            }
        }
        pageIds(table, cache.numPages());
    }

    public static void pageIds(PageTable table, int numPages) {
        int[] indices = table.indices();
        for (int i = 0; i < indices.length; i++) {
            if (indices[i] < 0 || indices[i] >= numPages) {
                throw InvalidArgumentException.outside("kvIndices[" + i + "]", indices[i], 0, numPages);
            }
        }
    }

    private static String sorted(Object[] values) {
        String[] s = Arrays.stream(values).map(String::valueOf).sorted().toArray(String[]::new);
        return Arrays.toString(s);
    }
}
