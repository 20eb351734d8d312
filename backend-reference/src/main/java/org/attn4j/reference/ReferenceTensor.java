package org.attn4j.reference;

import org.attn4j.spi.AbstractTensor;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * A reference tensor: a {@link HostTensor}, either owned (freed on close) or a view of the
 * caller's memory ({@link ReferenceSession#wrapHost}), which close leaves alone.
 */
final class ReferenceTensor extends AbstractTensor {
    private final HostTensor host;
    private final boolean owned;

    ReferenceTensor(HostTensor host, boolean owned) {
        super(host.dtype(), host.shape());
        this.host = host;
        this.owned = owned;
    }

    /** The host memory behind {@code t}, which validation has already shown to be a reference tensor. */
    static HostTensor host(Tensor t) {
        return ((ReferenceTensor) t).host;
    }

    HostTensor host() {
        return host;
    }

    @Override
    public String backendId() {
        return ReferenceBackendProvider.ID;
    }

    @Override
    protected void release() {
        if (owned) {
            host.close();
        }
    }
}
