package org.attn4j.internal;

import java.util.Arrays;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.internal.check.Args;
import org.attn4j.kv.AppendPositions;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.RopeOptions;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The complete argument checks of the front door's memory, state, append and RoPE calls (spec
 * §7), one method per call. Each takes the call's {@link CallScope}, which validates and holds
 * every tensor it names, and throws {@link InvalidArgumentException} before any device work.
 * Stateless.
 */
public final class CallChecks {
    private CallChecks() {}

    /** A shape whose element and byte counts are exact. */
    public static void allocation(DType dtype, long[] shape) {
        Args.notNull(dtype, "dtype");
        Args.multiply(Args.elementCount(shape, "shape"), dtype.byteSize(), "shape");
    }

    /**
     * Caller memory of a kind the backend takes, large enough for the shape; device memory starts
     * on a whole element (host memory is read unaligned).
     */
    public static void wrap(CallScope c, ExternalMemory memory, DType dtype, long[] shape) {
        Args.notNull(memory, "memory");
        Args.notNull(dtype, "dtype");
        Capabilities caps = c.session().capabilities();
        if (!caps.externalMemory().contains(memory.kind())) {
            throw InvalidArgumentException.expected("memory", "one of " + caps.externalMemory()
                    + " on backend '" + c.session().backendId() + "'", memory.kind());
        }
        if (memory instanceof ExternalMemory.HostSegment h) {
            Validation.hostMemory("memory.segment", h.segment());
        }
        long bytes = Args.multiply(Args.elementCount(shape, "shape"), dtype.byteSize(), "shape");
        if (bytes > memory.capacityBytes()) {
            throw InvalidArgumentException.expected("shape", "at most the memory's " + memory.capacityBytes()
                    + " bytes", bytes + " bytes for " + dtype + " " + Arrays.toString(shape));
        }
        int element = dtype.byteSize();
        switch (memory) {
            case ExternalMemory.CudaDevicePointer p when p.address() % element != 0 ->
                    throw InvalidArgumentException.expected("memory.address", "a multiple of " + element
                            + " (one " + dtype + ")", "0x" + Long.toHexString(p.address()));
            case ExternalMemory.OpenClBuffer b when b.byteOffset() % element != 0 ->
                    throw InvalidArgumentException.expected("memory.byteOffset", "a multiple of " + element
                            + " bytes (one " + dtype + ")", b.byteOffset());
            default -> { }
        }
    }

    /** A host-to-device copy: {@code dst} contiguous, of the host tensor's dtype and shape. */
    public static void upload(CallScope c, HostTensor host, Tensor dst) {
        Args.notNull(host, "host");
        Validation.hostMemory("host", host.segment());
        c.tensor("dst", dst);
        Validation.dtype("dst", dst, host.dtype());
        Validation.shape("dst", dst, host.shape());
        Validation.contiguous("dst", dst);
    }

    /** A device-to-host copy: {@code src} contiguous, {@code dst} of its dtype and shape. */
    public static void download(CallScope c, Tensor src, HostTensor dst) {
        c.tensor("src", src);
        Validation.contiguous("src", src);
        Args.notNull(dst, "dst");
        Validation.hostMemory("dst", dst.segment());
        if (dst.dtype() != src.dtype() || !Arrays.equals(dst.shape(), src.shape())) {
            throw InvalidArgumentException.expected("dst", src.dtype() + " " + Arrays.toString(src.shape()),
                    dst.dtype() + " " + Arrays.toString(dst.shape()));
        }
    }

    /** Two states merged into a third, all alike. */
    public static void mergeState(CallScope c, Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        feature(c, Feature.MERGE, "mergeState");
        state(c, oA, sA, "oA", "sA", null);
        state(c, oB, sB, "oB", "sB", oA);
        state(c, o, s, "o", "s", oA);
    }

    /**
     * A state merged into another, for the rows a mask selects (all when null).
     *
     * @param capturing whether a graph is being captured (a row mask comes from the host, so not then)
     */
    public static void mergeStateInPlace(CallScope c, Tensor o, Tensor s, Tensor oOther, Tensor sOther,
                                         boolean[] rowMask, boolean capturing) {
        feature(c, Feature.MERGE, "mergeStateInPlace");
        state(c, o, s, "o", "s", null);
        state(c, oOther, sOther, "oOther", "sOther", o);
        if (rowMask != null) {
            Capture.reject(capturing, "mergeStateInPlace with a row mask");
            if (rowMask.length != o.dim(0)) {
                throw InvalidArgumentException.expected("rowMask.length", "rows = " + o.dim(0), rowMask.length);
            }
        }
    }

    /** n states per row: v {@code [rows, n, Hq, D]}, s {@code [rows, n, Hq]}, into o and sOut. */
    public static void mergeStates(CallScope c, Tensor v, Tensor s, Tensor o, Tensor sOut) {
        feature(c, Feature.MERGE, "mergeStates");
        c.tensor("v", v);
        if (v.rank() != 4) {
            throw InvalidArgumentException.expected("v.shape", "[rows, n, Hq, D]", Arrays.toString(v.shape()));
        }
        qDtype(c, "v", v.dtype());
        long rows = v.dim(0);
        long n = v.dim(1);
        long hq = v.dim(2);
        long d = v.dim(3);
        contiguousOf(c, "s", s, DType.F32, rows, n, hq);
        contiguousOf(c, "o", o, v.dtype(), rows, hq, d);
        contiguousOf(c, "sOut", sOut, DType.F32, rows, hq);
        Validation.contiguous("v", v);
    }

    private static void contiguousOf(CallScope c, String name, Tensor t, DType dtype, long... shape) {
        c.tensor(name, t);
        Validation.dtype(name, t, dtype);
        Validation.shape(name, t, shape);
        Validation.contiguous(name, t);
    }

    /** One state (o, s): o {@code [rows, Hq, D]} of a q dtype (like {@code like}), s F32, both contiguous. */
    private static void state(CallScope c, Tensor o, Tensor s, String oName, String sName, Tensor like) {
        c.tensor(oName, o);
        if (like != null) {
            Validation.dtype(oName, o, like.dtype());
            Validation.shape(oName, o, like.shape());
        } else {
            if (o.rank() != 3) {
                throw InvalidArgumentException.expected(oName + ".shape", "[rows, Hq, D]", Arrays.toString(o.shape()));
            }
            qDtype(c, oName, o.dtype());
        }
        Validation.contiguous(oName, o);
        c.tensor(sName, s);
        Validation.dtype(sName, s, DType.F32);
        Validation.shape(sName, s, o.dim(0), o.dim(1));
        Validation.contiguous(sName, s);
    }

    /** New tokens appended at host positions through a host page table that already counts them. */
    public static void append(CallScope c, Tensor k, Tensor v, AppendPositions at, PagedKvCache cache,
                              PageTable table) {
        Args.notNull(at, "positions");
        Args.notNull(table, "pageTable");
        newTokens(c, k, v, at.size(), cache);
        Validation.cache(c.session(), cache, table.pageSize(), kvHeads(cache));
        Validation.pageIds(table, cache.numPages());
        int[] bi = at.batchIndices();
        int[] pos = at.positions();
        for (int t = 0; t < bi.length; t++) {
            if (bi[t] < 0 || bi[t] >= table.batchSize()) {
                throw InvalidArgumentException.outside("batchIndices[" + t + "]", bi[t], 0, table.batchSize());
            }
            int len = table.kvLen(bi[t]);
            if (pos[t] < 0 || pos[t] >= len) {
                throw InvalidArgumentException.outside("positions[" + t + "]", pos[t], 0, len);
            }
        }
    }

    /** New tokens appended at device positions through a device page table (values checked on the device). */
    public static void append(CallScope c, Tensor k, Tensor v, Tensor batchIndices, Tensor positions,
                              PagedKvCache cache, DevicePageTable table) {
        BackendSession session = c.session();
        Validation.deviceTable(session, table);
        long n = k == null ? 0 : k.dim(0);
        newTokens(c, k, v, n, cache);
        c.tensor("batchIndices", batchIndices);
        c.tensor("positions", positions);
        Validation.deviceInts(session, "batchIndices", batchIndices, n);
        Validation.deviceInts(session, "positions", positions, n);
        c.tensor("pageTable.indptr", table.indptr());
        c.tensor("pageTable.indices", table.indices());
        c.tensor("pageTable.lastPageLen", table.lastPageLen());
        Validation.cache(session, cache, table.pageSize(), kvHeads(cache));
    }

    private static HeadConfig kvHeads(PagedKvCache cache) {
        return new HeadConfig(cache.numKvHeads(), cache.numKvHeads(), cache.kHeadDim(), cache.vHeadDim());
    }

    private static void newTokens(CallScope c, Tensor k, Tensor v, long n, PagedKvCache cache) {
        feature(c, Feature.APPEND, "appendPagedKv");
        Args.notNull(cache, "cache");
        c.tensor("k", k);
        c.tensor("v", v);
        // New K rows are as long as the cache's K rows (Dqk), new V rows as its V rows (Dvo).
        Validation.rows("k", k, n, cache.numKvHeads(), cache.kHeadDim(), false);
        Validation.rows("v", v, n, cache.numKvHeads(), cache.vHeadDim(), false);
        Validation.dtype("v", v, k.dtype());
        if (k.dtype() != cache.dtype()) {
            // New tokens come from the model in a q dtype and are converted (quantised) on the way in.
            qDtype(c, "k", k.dtype());
        }
        c.tensor("cache.k", cache.k());
        c.tensor("cache.v", cache.v());
        PlanBinding.holdScales(c, cache);
        if (cache.scales().mode() == org.attn4j.kv.KvScaleMode.PER_TOKEN && k.dtype() == cache.dtype()) {
            // A same-type append copies codes, which leaves no row to take a per-token scale from.
            throw InvalidArgumentException.expected("k.dtype", "a dtype other than the cache's " + cache.dtype()
                    + " with per-token scales (append computes each row's scale from its values)", k.dtype());
        }
    }

    /** RoPE at host positions: one non-negative position per row of q. */
    public static void rope(CallScope c, Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        Args.notNull(positions, "positions");
        ropeInputs(c, q, k, rope);
        if (positions.length != q.dim(0)) {
            throw InvalidArgumentException.expected("positions.length", "n = " + q.dim(0), positions.length);
        }
        for (int t = 0; t < positions.length; t++) {
            if (positions[t] < 0) {
                throw InvalidArgumentException.expected("positions[" + t + "]", ">= 0", positions[t]);
            }
        }
    }

    /** RoPE at device positions (negative ones are skipped on the device and reported). */
    public static void rope(CallScope c, Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        feature(c, Feature.DEVICE_METADATA, "positions");
        ropeInputs(c, q, k, rope);
        c.tensor("positions", positions);
        Validation.deviceInts(c.session(), "positions", positions, q.dim(0));
    }

    private static void ropeInputs(CallScope c, Tensor q, Tensor k, RopeOptions rope) {
        feature(c, Feature.STANDALONE_ROPE, "applyRope");
        Args.notNull(rope, "rope");
        c.tensor("q", q);
        if (q.rank() != 3) {
            throw InvalidArgumentException.expected("q.shape", "[n, Hq, D]", Arrays.toString(q.shape()));
        }
        qDtype(c, "q", q.dtype());
        Validation.rows("q", q, q.dim(0), q.dim(1), q.dim(2), true);
        if (q.dim(2) % 2 != 0) {
            throw InvalidArgumentException.expected("q.shape[2]", "an even head dim", q.dim(2));
        }
        Validation.rotaryDim(rope, Math.toIntExact(q.dim(2)));
        if (k != null) {
            c.tensor("k", k);
            if (k.rank() != 3 || k.dim(0) != q.dim(0) || k.dim(2) != q.dim(2)) {
                throw InvalidArgumentException.expected("k.shape", "[" + q.dim(0) + ", Hkv, " + q.dim(2) + "]",
                        Arrays.toString(k.shape()));
            }
            qDtype(c, "k", k.dtype());
            Validation.rows("k", k, k.dim(0), k.dim(1), k.dim(2), true);
        }
    }

    /** The backend has {@code f}, else the call is rejected naming {@code argument}. */
    public static void feature(CallScope c, Feature f, String argument) {
        Validation.feature(c.session().capabilities(), c.session().backendId(), f, argument);
    }

    private static void qDtype(CallScope c, String name, DType dtype) {
        Validation.qDtype(c.session().capabilities(), c.session().backendId(), name, dtype);
    }
}
