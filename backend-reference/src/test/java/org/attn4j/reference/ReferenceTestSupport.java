package org.attn4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.attn4j.AttentionBackend;
import org.attn4j.Backends;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/** Small helpers shared by the reference tests: the backend, tensors from literals, reads. */
final class ReferenceTestSupport {
    static final double E = Math.E;

    private ReferenceTestSupport() {}

    static AttentionBackend open() {
        return Backends.open("reference");
    }

    static Tensor tensor(AttentionBackend attn, DType dtype, float[] values, long... shape) {
        try (HostTensor host = HostTensor.of(dtype, values, shape)) {
            return attn.upload(host);
        }
    }

    static Tensor f32(AttentionBackend attn, float[] values, long... shape) {
        return tensor(attn, DType.F32, values, shape);
    }

    /** A tensor whose every byte is {@code sentinel}, to see whether a call wrote it. */
    static Tensor filled(AttentionBackend attn, DType dtype, byte sentinel, long... shape) {
        try (HostTensor host = HostTensor.allocate(dtype, shape)) {
            host.fillBytes(sentinel);
            return attn.upload(host);
        }
    }

    static float[] read(AttentionBackend attn, Tensor t) {
        try (HostTensor host = attn.download(t)) {
            return host.toFloatArray();
        }
    }

    static byte[] bytes(AttentionBackend attn, Tensor t) {
        try (HostTensor host = attn.download(t)) {
            return host.segment().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    static void assertClose(double[] expected, float[] actual, double tolerance) {
        assertEquals(expected.length, actual.length, "length");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tolerance * (1 + Math.abs(expected[i])), "element " + i);
        }
    }
}
