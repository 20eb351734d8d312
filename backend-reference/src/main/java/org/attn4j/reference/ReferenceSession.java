package org.attn4j.reference;

import java.lang.foreign.MemorySegment;
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
            EnumSet.allOf(Feature.class));

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
        return new ReferenceTensor(HostTensor.allocate(dtype, shape), true);
    }

    @Override
    public void copyFromHost(HostTensor src, Tensor dst) {
        HostTensor d = ReferenceTensor.host(dst);
        MemorySegment.copy(src.segment(), 0, d.segment(), 0, d.byteSize());
    }

    @Override
    public void copyToHost(Tensor src, HostTensor dst) {
        HostTensor s = ReferenceTensor.host(src);
        MemorySegment.copy(s.segment(), 0, dst.segment(), 0, s.byteSize());
    }

    /** Any reference tensor: they are all plain host memory, usable from every reference session. */
    @Override
    public boolean owns(Tensor t) {
        return t instanceof ReferenceTensor;
    }

    @Override
    public Tensor wrapHost(HostTensor host) {
        return new ReferenceTensor(host, false);
    }

    @Override
    public void synchronize() {
        // Work is synchronous.
    }

    @Override
    public DeviceTimer newTimer() {
        return new ReferenceTimer();
    }

    // ---- attention

    @Override
    public KernelPlan plan(AttentionProblem problem) {
        return new ReferenceAttention(problem);
    }

    // ---- states

    @Override
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        ReferenceStates.merge(ReferenceTensor.host(oA), ReferenceTensor.host(sA), ReferenceTensor.host(oB),
                ReferenceTensor.host(sB), ReferenceTensor.host(o), ReferenceTensor.host(s), null);
    }

    @Override
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        HostTensor oh = ReferenceTensor.host(o);
        HostTensor sh = ReferenceTensor.host(s);
        ReferenceStates.merge(oh, sh, ReferenceTensor.host(oOther), ReferenceTensor.host(sOther), oh, sh, rowMask);
    }

    @Override
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        ReferenceStates.mergeMany(ReferenceTensor.host(v), ReferenceTensor.host(s), ReferenceTensor.host(o),
                ReferenceTensor.host(sOut));
    }

    // ---- KV and positions

    @Override
    public void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache,
                              PageTable table) {
        ReferenceKvAppend.append(ReferenceTensor.host(k), ReferenceTensor.host(v), batchIndices, positions, cache,
                table);
    }

    @Override
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        int headDim = Math.toIntExact(q.dim(2));
        ReferenceRope rotation = new ReferenceRope(rope, headDim);
        rotateRows(ReferenceTensor.host(q), positions, rotation, headDim);
        if (k != null) {
            rotateRows(ReferenceTensor.host(k), positions, rotation, headDim);
        }
    }

    /** Rotates every head of row t of {@code x [n, H, D]} to {@code positions[t]}, rounding once on store. */
    private static void rotateRows(HostTensor x, int[] positions, ReferenceRope rotation, int headDim) {
        long heads = x.dim(1);
        double[] vec = new double[headDim];
        for (int t = 0; t < positions.length; t++) {
            for (long h = 0; h < heads; h++) {
                long base = (t * heads + h) * headDim;
                for (int d = 0; d < headDim; d++) {
                    vec[d] = x.getFloat(base + d);
                }
                rotation.rotate(vec, 0, positions[t]);
                for (int d = 0; d < headDim; d++) {
                    ReferenceRounding.store(x, base + d, vec[d]);
                }
            }
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
