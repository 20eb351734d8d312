package org.attn4j.internal;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.BackendTensor;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * The session-aware half of validation (spec §7): tensors against the session that owns them,
 * caches against their page tables, options against the backend's capabilities. Every public
 * operation calls these before any device work, so a rejected call throws
 * {@link InvalidArgumentException} and writes nothing. Sizes, offsets and strides are computed
 * with exact arithmetic ({@link Args}): a value that would overflow is rejected by name.
 */
public final class Validation {
    private Validation() {}

    /** Non-null, open, and made by {@code session}; the backend's tensor type. */
    public static BackendTensor tensor(BackendSession session, String name, Tensor t) {
        if (t == null) {
            throw new InvalidArgumentException(name, "tensor is null");
        }
        if (t.isClosed()) {
            throw new InvalidArgumentException(name, "tensor is closed");
        }
        if (!(t instanceof BackendTensor bt) || !session.owns(t)) {
            throw InvalidArgumentException.expected(name, "a tensor of backend '" + session.backendId() + "'",
                    "a tensor of backend '" + t.backendId() + "'");
        }
        return bt;
    }

    /** The tensor's strides are row-major (an offset into larger memory is fine). */
    public static void contiguous(String name, Tensor t) {
        if (!t.isContiguous()) {
            throw InvalidArgumentException.expected(name + ".strides", "contiguous "
                    + Arrays.toString(org.attn4j.tensor.Shapes.contiguousStrides(t.shape())), Arrays.toString(t.strides()));
        }
    }

    /**
     * A token-by-head tensor {@code [rows, heads, d]} that may be a view: any token and head
     * stride, the head dim contiguous; written ones ({@code output}) must not overlap themselves.
     */
    public static void rows(String name, Tensor t, long rows, long heads, long d, boolean output) {
        shape(name, t, rows, heads, d);
        headDimContiguous(name, t);
        if (output && !((BackendTensor) t).isNonOverlapping()) {
            throw new InvalidArgumentException(name, "strides " + Arrays.toString(t.strides()) + " make elements of "
                    + "shape " + Arrays.toString(t.shape()) + " overlap; an output needs distinct elements");
        }
    }

    /**
     * An output must not share memory with an input of the same call: kernels read the input
     * while other blocks already write the output. Decided where it is cheap and certain: both
     * views of one memory and dense (their elements fill their byte ranges), so ranges that meet
     * share elements. Strided views whose ranges interleave are left alone, as are distinct
     * wraps of one caller buffer.
     *
     * @param outName the output's argument name
     * @param out     the output, a tensor of the call's backend
     * @param inName  the input's argument name
     * @param in      the input, a tensor of the call's backend, or null
     */
    public static void disjoint(String outName, Tensor out, String inName, Tensor in) {
        if (in == null || !(out instanceof BackendTensor o) || !(in instanceof BackendTensor i)
                || o.memory() != i.memory() || !dense(o) || !dense(i)) {
            return;
        }
        long oStart = o.elementOffset() * o.dtype().byteSize();
        long oEnd = oStart + o.elementCount() * o.dtype().byteSize();
        long iStart = i.elementOffset() * i.dtype().byteSize();
        long iEnd = iStart + i.elementCount() * i.dtype().byteSize();
        if (oStart < iEnd && iStart < oEnd) {
            throw new InvalidArgumentException(outName, "shares memory with " + inName + " (bytes [" + oStart + ", "
                    + oEnd + ") and [" + iStart + ", " + iEnd + ") of one tensor); an output needs memory of its own");
        }
    }

    /**
     * Host memory a call reads or writes: still allocated, and open to this thread. Backends copy
     * through its native address, where a freed segment is no longer checked.
     *
     * @param name    the argument's name
     * @param segment its memory
     */
    public static void hostMemory(String name, java.lang.foreign.MemorySegment segment) {
        if (!segment.scope().isAlive()) {
            throw new InvalidArgumentException(name, "its memory is freed (its arena is closed)");
        }
        if (!segment.isAccessibleBy(Thread.currentThread())) {
            throw new InvalidArgumentException(name, "its memory is confined to another thread (a confined "
                    + "arena's); use a shared or global arena to hand it to attn4j from this thread");
        }
    }

    /** Whether the tensor's elements fill the span from its first to its last, each once. */
    private static boolean dense(BackendTensor t) {
        long count = t.elementCount();
        if (count == 0 || !t.isNonOverlapping()) {
            return false;
        }
        long span = 0;
        for (int d = 0; d < t.rank(); d++) {
            span += (t.dim(d) - 1) * t.strides()[d];
        }
        return span + 1 == count;
    }

    /** The last dimension has stride 1 (kernels read a head's vector in one piece). */
    public static void headDimContiguous(String name, Tensor t) {
        if (t.rank() > 0 && t.dim(-1) > 1 && t.strides()[t.rank() - 1] != 1) {
            throw InvalidArgumentException.expected(name + ".strides[" + (t.rank() - 1) + "]", "1 (the head dim is "
                    + "contiguous)", t.strides()[t.rank() - 1]);
        }
    }

    /** A view's start and strides keep {@code bytes} alignment (what the plan's kernels assume). */
    public static void aligned(String name, Tensor t, int bytes) {
        int actual = ((BackendTensor) t).alignment();
        if (actual < bytes) {
            throw new InvalidArgumentException(name, "the plan assumes " + bytes + "-byte aligned rows "
                    + "(PlanOptions.alignment), but " + name + " starts or strides on " + actual
                    + "-byte boundaries; plan with withAlignment(" + actual + ")");
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

    public static void qDtype(Capabilities caps, String backend, String name, DType dtype) {
        if (!caps.qDtypes().contains(dtype)) {
            throw InvalidArgumentException.expected(name + ".dtype", "one of " + sorted(caps.qDtypes().toArray())
                    + " on backend '" + backend + "'", dtype);
        }
    }

    /**
     * An attention query's dtype: one of the backend's q dtypes, or FP8 on a backend with
     * {@link Feature#FP8_QUERY} (spec §1).
     */
    public static void queryDtype(Capabilities caps, String backend, String name, DType dtype) {
        if (dtype.isFp8() && !caps.qDtypes().contains(dtype)) {
            if (!caps.has(Feature.FP8_QUERY)) {
                throw InvalidArgumentException.expected(name + ".dtype", "one of " + sorted(caps.qDtypes().toArray())
                        + " on backend '" + backend + "' (FP8 q needs feature " + Feature.FP8_QUERY + ")", dtype);
            }
            return;
        }
        qDtype(caps, backend, name, dtype);
    }

    /**
     * An attention output's dtype for a query of {@code q}: q's own, or for an FP8 query F32, F16
     * or BF16 (spec §1).
     */
    public static void outputDtype(String name, Tensor o, DType q) {
        if (q.isFp8()) {
            if (o.dtype() != DType.F32 && o.dtype() != DType.F16 && o.dtype() != DType.BF16) {
                throw InvalidArgumentException.expected(name + ".dtype", "F32, F16 or BF16 for a " + q + " q",
                        o.dtype());
            }
        } else {
            dtype(name, o, q);
        }
    }

    public static void kvDtype(Capabilities caps, String backend, String name, DType dtype) {
        if (!caps.kvDtypes().contains(dtype)) {
            throw InvalidArgumentException.expected(name + ".dtype", "one of " + sorted(caps.kvDtypes().toArray())
                    + " on backend '" + backend + "'", dtype);
        }
    }

    /**
     * Both head dims are ones the backend supports, and they differ only on a backend with
     * {@link Feature#DISTINCT_VO_HEAD_DIM}.
     */
    public static void headDims(Capabilities caps, String backend, HeadConfig heads) {
        headDim(caps, backend, "headDimQk", heads.headDimQk());
        headDim(caps, backend, "headDimVo", heads.headDimVo());
        distinctHeadDims(caps, backend, "headDimVo", heads.headDimQk(), heads.headDimVo());
    }

    /** {@code dvo != dqk} only on a backend with {@link Feature#DISTINCT_VO_HEAD_DIM}. */
    public static void distinctHeadDims(Capabilities caps, String backend, String argument, int dqk, int dvo) {
        if (dqk != dvo && !caps.has(Feature.DISTINCT_VO_HEAD_DIM)) {
            throw new InvalidArgumentException(argument, "backend '" + backend + "' does not support "
                    + Feature.DISTINCT_VO_HEAD_DIM + ": expected the head dim of q and k, " + dqk + ", actual " + dvo);
        }
    }

    private static void headDim(Capabilities caps, String backend, String name, int d) {
        if (!caps.supportsHeadDim(d)) {
            throw InvalidArgumentException.expected(name, caps.headDimsDescription() + " on backend '" + backend
                    + "'", d);
        }
    }

    /** A plan's alignment is at least what the backend's kernels need ({@link Capabilities#minAlignment}). */
    public static void alignment(Capabilities caps, String backend, int alignment) {
        if (alignment < caps.minAlignment()) {
            throw new InvalidArgumentException("plan.alignment", "backend '" + backend + "' reads rows as "
                    + caps.minAlignment() + "-byte vectors, so q, o and K/V views must keep at least "
                    + caps.minAlignment() + "-byte alignment; actual " + alignment);
        }
    }

    public static void feature(Capabilities caps, String backend, Feature f, String argument) {
        if (!caps.has(f)) {
            throw new InvalidArgumentException(argument, "backend '" + backend + "' does not support " + f);
        }
    }

    /** Options, against the backend's features and the heads. */
    public static void options(Capabilities caps, String backend, AttentionOptions o, HeadConfig heads) {
        Args.notNull(o, "options");
        int headDimQk = heads.headDimQk();
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
            // RoPE rotates q and k only, so only their head dim must pair up.
            if (headDimQk % 2 != 0) {
                throw InvalidArgumentException.expected("headDimQk", "an even head dim with RoPE", headDimQk);
            }
            rotaryDim(o.rope(), headDimQk);
        }
        // The values themselves were checked (finite) when the sinks and slopes were made.
        if (o.sinks() != null) {
            feature(caps, backend, Feature.SINKS, "sinks");
            if (o.sinks().numHeads() != heads.numQoHeads()) {
                throw InvalidArgumentException.expected("sinks.length", "one logit per query head, Hq = "
                        + heads.numQoHeads(), o.sinks().numHeads());
            }
        }
        if (o.alibiSlopes() != null) {
            feature(caps, backend, Feature.ALIBI, "alibiSlopes");
            if (o.alibiSlopes().numHeads() != heads.numQoHeads()) {
                throw InvalidArgumentException.expected("alibiSlopes.length", "one slope per query head, Hq = "
                        + heads.numQoHeads(), o.alibiSlopes().numHeads());
            }
        }
    }

    /**
     * The RoPE options' rotary dim fits the head: at most {@code headDim} (its sign and parity were
     * checked when the options were made).
     */
    public static void rotaryDim(RopeOptions rope, int headDim) {
        if (rope.rotaryDim() > headDim) {
            throw InvalidArgumentException.expected("rope.rotaryDim",
                    "0 (the whole head) or an even value <= the head dim D = " + headDim, rope.rotaryDim());
        }
    }

    /** Indptr over rows: starts at 0, never decreases, has {@code batch + 1} entries when batch >= 0. */
    public static void indptr(String name, int[] indptr, int batch) {
        Args.notNull(indptr, name);
        if (batch >= 0 && indptr.length != (long) batch + 1) {
            throw InvalidArgumentException.expected(name + ".length", "B + 1 = " + ((long) batch + 1), indptr.length);
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

    /** The cache matches the heads and page size and lies inside its tensors; its page ids are in range. */
    public static void cache(BackendSession session, PagedKvCache cache, int pageSize, HeadConfig heads) {
        Args.notNull(cache, "cache");
        Capabilities caps = session.capabilities();
        String backend = session.backendId();
        tensor(session, "cache.k", cache.k());
        tensor(session, "cache.v", cache.v());
        contiguous("cache.k", cache.k());
        contiguous("cache.v", cache.v());
        kvDtype(caps, backend, "cache", cache.dtype());
        if (!caps.layouts().contains(cache.layout())) {
            throw InvalidArgumentException.expected("cache.layout", "one of " + caps.layouts() + " on backend '"
                    + backend + "'", cache.layout());
        }
        if (cache.numKvHeads() != heads.numKvHeads()) {
            throw InvalidArgumentException.expected("cache.numKvHeads", heads.numKvHeads(), cache.numKvHeads());
        }
        if (cache.kHeadDim() != heads.headDimQk()) {
            throw InvalidArgumentException.expected("cache.kHeadDim", "headDimQk = " + heads.headDimQk(),
                    cache.kHeadDim());
        }
        if (cache.vHeadDim() != heads.headDimVo()) {
            throw InvalidArgumentException.expected("cache.vHeadDim", "headDimVo = " + heads.headDimVo(),
                    cache.vHeadDim());
        }
        distinctHeadDims(caps, backend, "cache.vHeadDim", cache.kHeadDim(), cache.vHeadDim());
        // Backends without the feature address K and V pages with one set of strides.
        if (cache.kPageStride() != cache.vPageStride() && !caps.has(Feature.DISTINCT_VO_HEAD_DIM)) {
            throw new InvalidArgumentException("cache.vPageStride", "backend '" + backend + "' does not support "
                    + Feature.DISTINCT_VO_HEAD_DIM + ": expected K's page stride " + cache.kPageStride() + ", actual "
                    + cache.vPageStride());
        }
        if (cache.pageSize() != pageSize) {
            throw InvalidArgumentException.expected("cache.pageSize", "the page table's " + pageSize, cache.pageSize());
        }
        cacheExtent(cache);
        scales(session, cache);
    }

    /**
     * The cache's scales against the cache (spec §1, §2): scalar ones were checked when made;
     * per-head ones are F32 {@code [Hkv]}, per-token ones F32 pools shaped like the cache without
     * the head dim, on an FP8 cache; both contiguous tensors of the session, on a backend with
     * the feature. Their values live on the device and are not read here.
     */
    public static void scales(BackendSession session, PagedKvCache cache) {
        KvScales s = cache.scales();
        if (s.isScalar()) {
            return;
        }
        Capabilities caps = session.capabilities();
        String backend = session.backendId();
        long[] shape;
        if (s.mode() == KvScaleMode.PER_HEAD) {
            feature(caps, backend, Feature.KV_SCALES_PER_HEAD, "cache.scales");
            shape = new long[] {cache.numKvHeads()};
        } else {
            feature(caps, backend, Feature.KV_SCALES_PER_TOKEN, "cache.scales");
            if (!cache.dtype().isFp8()) {
                throw InvalidArgumentException.expected("cache.scales", "an FP8 cache for per-token scales (their "
                        + "scale is amax / the FP8 format's max)", "a " + cache.dtype() + " cache");
            }
            shape = cache.layout() == KvLayout.NHD
                    ? new long[] {cache.numPages(), cache.pageSize(), cache.numKvHeads()}
                    : new long[] {cache.numPages(), cache.numKvHeads(), cache.pageSize()};
        }
        String what = s.mode() == KvScaleMode.PER_HEAD ? " ([Hkv] for per-head scales)"
                : " ([numPages, " + (cache.layout() == KvLayout.NHD ? "pageSize, Hkv" : "Hkv, pageSize")
                + "] for per-token scales of a " + cache.layout() + " cache)";
        for (String name : new String[] {"cache.scales.k", "cache.scales.v"}) {
            Tensor t = name.endsWith("k") ? s.kTensor() : s.vTensor();
            tensor(session, name, t);
            dtype(name, t, DType.F32);
            if (!Arrays.equals(t.shape(), shape)) {
                throw InvalidArgumentException.expected(name + ".shape", Arrays.toString(shape) + what,
                        Arrays.toString(t.shape()));
            }
            contiguous(name, t);
        }
    }

    /** Contiguous and ragged K/V take scalar and per-head scales; per-token scales live beside a paged cache. */
    public static void notPerToken(String name, KvScales scales) {
        if (scales.mode() == KvScaleMode.PER_TOKEN) {
            throw InvalidArgumentException.expected(name, "scalar or per-head scales (per-token scales are a "
                    + "paged-cache feature, spec §2)", "per-token scales");
        }
    }

    /**
     * Every element the cache's addressing rule can reach lies inside its tensors: the last element
     * of the last page, slot and head, computed exactly.
     */
    public static void cacheExtent(PagedKvCache cache) {
        if (cache.numPages() == 0) {
            return;
        }
        long kEnd = Args.add(cache.kOffset(), lastElement(cache, "k", cache.kPageStride(), cache.kSlotStride(),
                cache.kHeadStride(), cache.kHeadDim()), "cache.kOffset");
        long vEnd = Args.add(cache.vOffset(), lastElement(cache, "v", cache.vPageStride(), cache.vSlotStride(),
                cache.vHeadStride(), cache.vHeadDim()), "cache.vOffset");
        if (kEnd > cache.k().elementCount()) {
            throw InvalidArgumentException.expected("cache.k", "at least " + kEnd + " elements for "
                    + cache.numPages() + " pages", cache.k().elementCount());
        }
        if (vEnd > cache.v().elementCount()) {
            throw InvalidArgumentException.expected("cache.v", "at least " + vEnd + " elements for "
                    + cache.numPages() + " pages", cache.v().elementCount());
        }
    }

    /** One past the last element of K or V (named {@code kv}) above its offset, exactly. */
    private static long lastElement(PagedKvCache cache, String kv, long pageStride, long slotStride, long headStride,
                                    int headDim) {
        String pageName = "cache." + kv + "PageStride";
        return Args.add(Args.add(Args.multiply(cache.numPages() - 1L, pageStride, pageName),
                Args.multiply(cache.pageSize() - 1L, slotStride, "cache.pageSize"), pageName),
                Args.add(Args.multiply(cache.numKvHeads() - 1L, headStride, "cache.numKvHeads"),
                        headDim, "cache." + kv + "HeadDim"), pageName);
    }

    public static void pageIds(PageTable table, int numPages) {
        int[] indices = table.indices();
        for (int i = 0; i < indices.length; i++) {
            if (indices[i] < 0 || indices[i] >= numPages) {
                throw InvalidArgumentException.outside("kvIndices[" + i + "]", indices[i], 0, numPages);
            }
        }
    }

    /** A device page table's tensors belong to the session (their values are checked on the device). */
    public static void deviceTable(BackendSession session, DevicePageTable table) {
        Args.notNull(table, "pageTable");
        feature(session.capabilities(), session.backendId(), Feature.DEVICE_METADATA, "pageTable");
        tensor(session, "pageTable.indptr", table.indptr());
        tensor(session, "pageTable.indices", table.indices());
        tensor(session, "pageTable.lastPageLen", table.lastPageLen());
    }

    /** An I32 vector of {@code length} on the device (positions, batch indices). */
    public static BackendTensor deviceInts(BackendSession session, String name, Tensor t, long length) {
        BackendTensor bt = tensor(session, name, t);
        dtype(name, t, DType.I32);
        shape(name, t, length);
        contiguous(name, t);
        return bt;
    }

    static String sorted(Object[] values) {
        String[] s = Arrays.stream(values).map(String::valueOf).sorted().toArray(String[]::new);
        return Arrays.toString(s);
    }
}
