package org.attn4j.reference;

import org.attn4j.options.RopeOptions;
import org.attn4j.kv.PageTable;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.BackendSession;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.DeviceTimer;
import org.attn4j.spi.KernelPlan;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/** A reference session to override piece by piece, for tests of what core-api does around a backend. */
class DelegatingSession implements BackendSession {
    final ReferenceSession delegate = new ReferenceSession();

    @Override
    public KernelPlan plan(AttentionProblem problem) {
        return delegate.plan(problem);
    }

    @Override
    public long workspaceBytes(AttentionProblem problem) {
        return delegate.workspaceBytes(problem);
    }

    @Override
    public Tensor wrap(org.attn4j.tensor.ExternalMemory memory, DType dtype, long[] shape) {
        return delegate.wrap(memory, dtype, shape);
    }

    @Override
    public long deviceAllocations() {
        return delegate.deviceAllocations();
    }

    @Override
    public java.util.Map<String, Long> nativeHandles() {
        return delegate.nativeHandles();
    }

    @Override
    public Capabilities capabilities() {
        return delegate.capabilities();
    }

    @Override
    public String backendId() {
        return delegate.backendId();
    }

    @Override
    public String device() {
        return delegate.device();
    }

    @Override
    public Tensor allocate(DType dtype, long[] shape) {
        return delegate.allocate(dtype, shape);
    }

    @Override
    public void copyFromHost(HostTensor src, Tensor dst) {
        delegate.copyFromHost(src, dst);
    }

    @Override
    public void copyFromHostAsync(HostTensor src, Tensor dst) {
        delegate.copyFromHostAsync(src, dst);
    }

    @Override
    public void copyToHost(Tensor src, HostTensor dst) {
        delegate.copyToHost(src, dst);
    }

    @Override
    public boolean owns(Tensor t) {
        return delegate.owns(t);
    }

    @Override
    public void synchronize() {
        delegate.synchronize();
    }

    @Override
    public DeviceTimer newTimer() {
        return delegate.newTimer();
    }

    @Override
    public void mergeState(Tensor oA, Tensor sA, Tensor oB, Tensor sB, Tensor o, Tensor s) {
        delegate.mergeState(oA, sA, oB, sB, o, s);
    }

    @Override
    public void mergeStateInPlace(Tensor o, Tensor s, Tensor oOther, Tensor sOther, boolean[] rowMask) {
        delegate.mergeStateInPlace(o, s, oOther, sOther, rowMask);
    }

    @Override
    public void mergeStates(Tensor v, Tensor s, Tensor o, Tensor sOut) {
        delegate.mergeStates(v, s, o, sOut);
    }

    @Override
    public void appendPagedKv(Tensor k, Tensor v, int[] batchIndices, int[] positions, PagedKvCache cache,
                              PageTable table) {
        delegate.appendPagedKv(k, v, batchIndices, positions, cache, table);
    }

    @Override
    public void applyRope(Tensor q, Tensor k, int[] positions, RopeOptions rope) {
        delegate.applyRope(q, k, positions, rope);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
