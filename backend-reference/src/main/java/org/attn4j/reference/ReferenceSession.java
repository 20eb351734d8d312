package org.attn4j.reference;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.attn4j.error.BackendException;
import org.attn4j.kv.DevicePageTable;
import org.attn4j.spi.BackendTensor;
import org.attn4j.tensor.ExternalMemory;
import org.attn4j.tensor.Shapes;
import java.util.EnumSet;
import java.util.Set;
import org.attn4j.options.RopeOptions;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.Feature;
import org.attn4j.spi.KernelPlan;
import org.attn4j.spi.MlaKernelPlan;
import org.attn4j.spi.MlaProblem;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * The reference backend on the host CPU. Everything runs synchronously on the calling thread
 * (fanning out to the common fork-join pool), so {@link #synchronize()} has nothing to wait for.
 */
final class ReferenceSession implements BackendSession {
    private static final System.Logger LOG = System.getLogger(ReferenceSession.class.getName());

    static final Capabilities CAPABILITIES = new Capabilities(
            Set.of(DType.F32, DType.F16, DType.BF16),
            Set.of(DType.F32, DType.F16, DType.BF16, DType.FP8_E4M3, DType.FP8_E5M2),
            1, 1024, 1,
            EnumSet.allOf(KvLayout.class),
            EnumSet.complementOf(EnumSet.of(Feature.GRAPH_CAPTURE)),
            Set.of(ExternalMemory.Kind.HOST_SEGMENT));

    private final AtomicLong allocations = new AtomicLong();
    private final AtomicReference<String> firstFault = new AtomicReference<>();

    ReferenceSession() {
        LOG.log(System.Logger.Level.DEBUG, "opened reference backend on {0}", describeDevice());
    }

    static String describeDevice() {
        return "host CPU, " + Runtime.getRuntime().availableProcessors() + " threads";
    }

    @Override
    public String backendId() {
        return ReferenceBackendProvider.ID;
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public String device() {
        return describeDevice();
    }

    // ---- memory

    @Override
    public Tensor allocate(DType dtype, long[] shape) {
        long bytes = Math.multiplyExact(Shapes.elementCount(shape), (long) dtype.byteSize());
        ReferenceMemory m;
        try {
            m = ReferenceMemory.allocate(bytes);
        } catch (OutOfMemoryError | IllegalArgumentException e) {
            throw new BackendException(backendId(), "cannot allocate " + bytes + " bytes of host memory for "
                    + dtype + " " + java.util.Arrays.toString(shape) + ": " + e.getMessage(), e);
        }
        allocations.incrementAndGet();
        return BackendTensor.root(m, dtype, shape);
    }

    @Override
    public Tensor wrap(ExternalMemory memory, DType dtype, long[] shape) {
        ExternalMemory.HostSegment host = (ExternalMemory.HostSegment) memory;
        return BackendTensor.root(ReferenceMemory.borrow(host.segment()), dtype, shape);
    }

    @Override
    public void copyFromHost(HostTensor src, Tensor dst) {
        HostTensor d = ReferenceMemory.contiguous(dst);
        MemorySegment.copy(src.segment(), 0, d.segment(), 0, d.byteSize());
    }

    @Override
    public void copyFromHostAsync(HostTensor src, Tensor dst) {
        copyFromHost(src, dst); // the host is the device: the copy is done when this returns
    }

    @Override
    public void copyToHost(Tensor src, HostTensor dst) {
        reportFault();
        HostTensor s = ReferenceMemory.contiguous(src);
        MemorySegment.copy(s.segment(), 0, dst.segment(), 0, s.byteSize());
    }

    /** Any reference tensor: they are all plain host memory, usable from every reference session. */
    @Override
    public boolean owns(Tensor t) {
        return t instanceof BackendTensor bt && bt.memory() instanceof ReferenceMemory;
    }

    @Override
    public void synchronize() {
        // Work is synchronous; only faults found in device-resident values are left to report.
        reportFault();
    }

    @Override
    public DeviceTimer newTimer() {
        return new ReferenceTimer();
    }

    @Override
    public long deviceAllocations() {
        return allocations.get();
    }

    @Override
    public Map<String, Long> nativeHandles() {
        return Map.of();
    }

    // ---- attention

    @Override
    public long workspaceBytes(AttentionProblem problem) {
        return 0; // the schedule stays on the host
    }

    @Override
    public KernelPlan plan(AttentionProblem problem) {
        return new ReferenceAttention(this, problem);
    }

    @Override
    public MlaKernelPlan planMla(MlaProblem problem) {
        return new ReferenceMla(problem);
    }

    // ---- states

    @Override
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        ReferenceStates.merge(host(oA), host(sA), host(oB), host(sB), host(o), host(s), null);
    }

    @Override
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        HostTensor oh = host(o);
        HostTensor sh = host(s);
        ReferenceStates.merge(oh, sh, host(oOther), host(sOther), oh, sh, rowMask);
    }

    @Override
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        ReferenceStates.mergeMany(host(v), host(s), host(o), host(sOut));
    }

    private static HostTensor host(Tensor t) {
        return ReferenceMemory.contiguous(t);
    }

    // ---- KV and positions

    @Override
    public void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache,
                              PageTable table) {
        ReferenceKvAppend.append(ReferenceMemory.flat(k), k.strides(), ReferenceMemory.flat(v), v.strides(),
                batchIndices, positions, null, cache, table);
    }

    @Override
    public void appendPagedKv(Tensor k, Tensor v, Tensor batchIndices, Tensor positions, PagedKvCache cache,
                              DevicePageTable table) {
        PageTable t = readDeviceTable(table, cache.numPages());
        int[] bi = ints(batchIndices);
        int[] pos = ints(positions);
        boolean[] skip = new boolean[bi.length];
        for (int i = 0; i < bi.length; i++) {
            if (bi[i] < 0 || bi[i] >= t.batchSize()) {
                fault("batchIndices[" + i + "] = " + bi[i] + " is outside [0, " + t.batchSize() + ")");
                skip[i] = true;
            } else if (pos[i] < 0 || pos[i] >= t.kvLen(bi[i])) {
                fault("positions[" + i + "] = " + pos[i] + " is outside [0, " + t.kvLen(bi[i]) + ") of request "
                        + bi[i]);
                skip[i] = true;
            }
        }
        ReferenceKvAppend.append(ReferenceMemory.flat(k), k.strides(), ReferenceMemory.flat(v), v.strides(), bi, pos,
                skip, cache, t);
    }

    @Override
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        int headDim = Math.toIntExact(q.dim(2));
        ReferenceRope rotation = new ReferenceRope(rope, headDim);
        rotateRows(q, positions, rotation, headDim);
        if (k != null) {
            rotateRows(k, positions, rotation, headDim);
        }
    }

    @Override
    public void applyRope(Tensor q, Tensor k, Tensor positions, RopeOptions rope) {
        int[] pos = ints(positions);
        for (int t = 0; t < pos.length; t++) {
            if (pos[t] < 0) {
                fault("positions[" + t + "] = " + pos[t] + " is negative");
                pos[t] = -1;
            }
        }
        applyRope(q, k, pos, rope);
    }

    /** Rotates every head of row t of {@code x [n, H, D]} to {@code positions[t]} (skipping -1), rounding once. */
    private static void rotateRows(Tensor x, int[] positions, ReferenceRope rotation, int headDim) {
        HostTensor data = ReferenceMemory.flat(x);
        long[] st = x.strides();
        long heads = x.dim(1);
        double[] vec = new double[headDim];
        for (int t = 0; t < positions.length; t++) {
            if (positions[t] < 0) {
                continue;
            }
            for (long h = 0; h < heads; h++) {
                long base = t * st[0] + h * st[1];
                for (int d = 0; d < headDim; d++) {
                    vec[d] = data.getFloat(base + d);
                }
                rotation.rotate(vec, 0, positions[t]);
                for (int d = 0; d < headDim; d++) {
                    ReferenceRounding.store(data, base + d, vec[d]);
                }
            }
        }
    }

    // ---- device-resident values

    private static int[] ints(Tensor t) {
        HostTensor h = ReferenceMemory.contiguous(t);
        int[] out = new int[Math.toIntExact(h.elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = h.getInt(i);
        }
        return out;
    }

    /**
     * The page table a device table holds now, checked as a GPU kernel checks it: a request whose
     * indptr, last page length or page ids are out of range becomes empty, and a fault is recorded.
     */
    PageTable readDeviceTable(DevicePageTable table, int numPages) {
        int[] indptr = ints(table.indptr());
        int[] indices = ints(table.indices());
        int[] last = ints(table.lastPageLen());
        int batch = table.batchSize();
        int[][] pages = new int[batch][];
        int[] lens = new int[batch];
        for (int b = 0; b < batch; b++) {
            String bad = deviceRequestFault(indptr, indices, last, b, table, numPages);
            if (bad != null) {
                fault(bad);
                pages[b] = new int[0];
                continue;
            }
            pages[b] = java.util.Arrays.copyOfRange(indices, indptr[b], indptr[b + 1]);
            lens[b] = pages[b].length == 0 ? 0 : (pages[b].length - 1) * table.pageSize() + last[b];
        }
        return PageTable.of(table.pageSize(), pages, lens);
    }

    private static String deviceRequestFault(int[] indptr, int[] indices, int[] last, int b, DevicePageTable table,
                                             int numPages) {
        int start = indptr[b];
        int end = indptr[b + 1];
        if (start < 0 || end < start || end > indices.length) {
            return "pageTable.indptr[" + b + ".." + (b + 1) + "] = " + start + ", " + end + " is not a range inside [0, "
                    + indices.length + "]";
        }
        if (end == start) {
            return null;
        }
        if (last[b] < 1 || last[b] > table.pageSize()) {
            return "pageTable.lastPageLen[" + b + "] = " + last[b] + " is outside [1, " + table.pageSize() + "]";
        }
        long len = (long) (end - start - 1) * table.pageSize() + last[b];
        if (len > table.maxKvLen()) {
            return "request " + b + " has " + len + " keys, more than the table's maxKvLen " + table.maxKvLen();
        }
        for (int i = start; i < end; i++) {
            if (indices[i] < 0 || indices[i] >= numPages) {
                return "pageTable.indices[" + i + "] = " + indices[i] + " is outside [0, " + numPages + ")";
            }
        }
        return null;
    }

    /** Records the first fault found in device-resident values until the next report. */
    void fault(String what) {
        firstFault.compareAndSet(null, what);
    }

    private void reportFault() {
        String f = firstFault.getAndSet(null);
        if (f != null) {
            throw new BackendException(backendId(), "a device-resident value was out of range (the work that read it "
                    + "skipped it): " + f);
        }
    }

    @Override
    public void close() {
        // Tensors free their own memory; the session holds nothing.
    }

    @Override
    public String toString() {
        return "reference backend on " + device();
    }
}
