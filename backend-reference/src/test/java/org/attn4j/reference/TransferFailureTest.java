package org.attn4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** A copy that fails on the device must not leave behind the tensor made for it, which the caller never gets. */
class TransferFailureTest {
    /** Copies fail, as a device error would; every tensor made is remembered. */
    private static final class FailingCopySession extends DelegatingSession {
        final List<Tensor> made = new ArrayList<>();

        @Override
        public Tensor allocate(DType dtype, long[] shape) {
            Tensor t = super.allocate(dtype, shape);
            made.add(t);
            return t;
        }

        @Override
        public void copyFromHost(HostTensor src, Tensor dst) {
            throw new IllegalStateException("device copy failed");
        }
    }

    @Test
    void failedUploadClosesTheTensorItAllocated() {
        FailingCopySession session = new FailingCopySession();
        try (AttentionBackend attn = AttentionBackend.of(session);
             HostTensor host = HostTensor.allocate(DType.F32, 2, 3)) {
            assertThrows(IllegalStateException.class, () -> attn.upload(host));
            assertEquals(1, session.made.size());
            assertTrue(session.made.get(0).isClosed(), "the allocated tensor leaked");
        }
    }

    @Test
    void nullHostTensorsAreRejectedByName() {
        try (AttentionBackend attn = AttentionBackend.of(new DelegatingSession())) {
            InvalidArgumentException e = assertThrows(InvalidArgumentException.class, () -> attn.upload(null));
            assertTrue(e.getMessage().startsWith("host: is null"), e.getMessage());
        }
    }
}
