package org.attn4j.conformance.ops;

import java.util.ArrayList;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/** Backend tensors made for one check, all closed together. */
public final class DeviceScope implements AutoCloseable {
    private final AttentionBackend backend;
    private final List<AutoCloseable> owned = new ArrayList<>();

    public DeviceScope(AttentionBackend backend) {
        this.backend = backend;
    }

    public AttentionBackend backend() {
        return backend;
    }

    public Tensor upload(HostTensor host) {
        Tensor t = backend.upload(host);
        owned.add(t);
        return t;
    }

    /** Uploads and closes the host copy. */
    public Tensor uploadOnce(HostTensor host) {
        try (host) {
            return upload(host);
        }
    }

    /**
     * {@code values} stored in {@code dtype} by the suite's own formats ({@link SpecFormats}): the
     * bits a backend reads are the ones the oracle's values stand for.
     */
    public Tensor upload(DType dtype, float[] values, long... shape) {
        return uploadOnce(host(dtype, values, shape));
    }

    /** A host tensor holding {@code values} encoded by {@link SpecFormats}. */
    public static HostTensor host(DType dtype, float[] values, long... shape) {
        HostTensor h = HostTensor.allocate(dtype, shape);
        if (h.elementCount() != values.length) {
            h.close();
            throw new IllegalArgumentException(values.length + " values for a tensor of " + h.elementCount());
        }
        for (int i = 0; i < values.length; i++) {
            h.setBits(i, SpecFormats.encode(dtype, values[i]));
        }
        return h;
    }

    /** A tensor holding exactly the given bit patterns (in the low bits of each int). */
    public Tensor uploadBits(DType dtype, int[] bits, long... shape) {
        HostTensor h = HostTensor.allocate(dtype, shape);
        for (int i = 0; i < bits.length; i++) {
            h.setBits(i, bits[i]);
        }
        return uploadOnce(h);
    }

    /** Closes {@code t} with the scope. */
    public Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    public Tensor allocate(DType dtype, long... shape) {
        Tensor t = backend.allocate(dtype, shape);
        owned.add(t);
        return t;
    }

    /** A tensor filled with a recognisable byte pattern, to see whether anything was written. */
    public Tensor sentinel(DType dtype, long... shape) {
        try (HostTensor h = HostTensor.allocate(dtype, shape)) {
            h.fillBytes((byte) 0x5A);
            return upload(h);
        }
    }

    public PagedKvCache cache(PagedPool pool) {
        Tensor k = upload(pool.k());
        if (pool.combined()) {
            return PagedKvCache.combined(k, pool.layout(), pool.scales());
        }
        Tensor v = upload(pool.v());
        return PagedKvCache.separate(k, v, pool.layout(), pool.scales());
    }

    /** The values of every element, decoded by {@link SpecFormats}. */
    public float[] floats(Tensor t) {
        try (HostTensor h = backend.download(t)) {
            return values(h);
        }
    }

    /** The values of every element of a host tensor, decoded by {@link SpecFormats}. */
    public static float[] values(HostTensor h) {
        float[] out = new float[Math.toIntExact(h.elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = SpecFormats.value(h.dtype(), h.getBits(i));
        }
        return out;
    }

    /** Raw bit patterns of every element. */
    public int[] bits(Tensor t) {
        try (HostTensor h = backend.download(t)) {
            int[] out = new int[Math.toIntExact(h.elementCount())];
            for (int i = 0; i < out.length; i++) {
                out[i] = h.getBits(i);
            }
            return out;
        }
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = new IllegalStateException("closing a tensor failed", e);
                }
            }
        }
        owned.clear();
        if (first != null) {
            throw first;
        }
    }
}
