package org.attn4j.bench.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;

/**
 * One case's inputs on the host, uploaded unchanged to the baseline's and the candidate's
 * backend. Every element is drawn on its own (no tiled block as in {@code attn4j bench}), so a
 * kernel that reads a wrong page or row cannot match the baseline by accident.
 */
final class KernelInputs implements AutoCloseable {
    private static final ValueLayout.OfShort BITS = ValueLayout.JAVA_SHORT_UNALIGNED;

    final HostTensor q;
    final HostTensor k;
    final HostTensor v;

    KernelInputs(KernelCase c) {
        DType dtype = c.shape().qDtype();
        this.q = random(dtype, c.qShape(), 3, 4f);
        this.k = random(dtype, c.kvShape(), 1, 1f);
        this.v = random(dtype, c.kvShape(), 2, 1f);
    }

    /**
     * Uniform values in [-amplitude, amplitude), rounded down to the 16-bit type, drawn in
     * parallel chunks of xorshift64.
     */
    static HostTensor random(DType dtype, long[] shape, long seed, float amplitude) {
        if (dtype != DType.BF16 && dtype != DType.F16) {
            throw new IllegalArgumentException("kernel benches fill 16-bit tensors only, not " + dtype);
        }
        HostTensor host = HostTensor.allocate(dtype, shape);
        MemorySegment seg = host.segment();
        long n = host.elementCount();
        int chunks = (int) Math.min(1024, Math.max(1, n >> 16));
        boolean bf16 = dtype == DType.BF16;
        IntStream.range(0, chunks).parallel().forEach(c -> {
            long from = n * c / chunks;
            long to = n * (c + 1) / chunks;
            long x = seed * 0x9E3779B97F4A7C15L + c * 0xBF58476D1CE4E5B9L + 1;
            for (long i = from; i < to; i++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                float f = (Float.intBitsToFloat(0x3F800000 | (int) (x >>> 41)) * 2f - 3f) * amplitude;
                short bits = bf16 ? (short) (Float.floatToRawIntBits(f) >>> 16) : Float.floatToFloat16(f);
                seg.set(BITS, 2 * i, bits);
            }
        });
        return host;
    }

    @Override
    public void close() {
        q.close();
        k.close();
        v.close();
    }
}
