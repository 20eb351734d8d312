package org.attn4j.conformance.ops;

import java.util.ArrayList;
import java.util.List;
import org.attn4j.AttentionBackend;
import org.attn4j.conformance.cases.PagedPool;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Backend tensors made for one check, all closed together: every tensor the scope uploads or
 * allocates, or is given with {@link #own}, is closed by {@link #close()}, the newest first.
 *
 * <p>Not thread-safe: confine a scope to one thread.
 */
public final class DeviceScope implements AutoCloseable {
    private final AttentionBackend backend;
    private final List<AutoCloseable> owned = new ArrayList<>();

    /**
     * An empty scope.
     *
     * @param backend the backend its tensors are made on; the scope does not close it
     */
    public DeviceScope(AttentionBackend backend) {
        this.backend = backend;
    }

    /**
     * The backend the scope's tensors are made on.
     *
     * @return the backend
     */
    public AttentionBackend backend() {
        return backend;
    }

    /**
     * Uploads a host tensor; the scope owns the copy.
     *
     * @param host the values; the caller keeps and closes it
     * @return the backend's copy
     */
    public Tensor upload(HostTensor host) {
        Tensor t = backend.upload(host);
        owned.add(t);
        return t;
    }

    /**
     * Uploads and closes the host copy, even when the upload fails.
     *
     * @param host the values, which this call closes
     * @return the backend's copy, owned by the scope
     */
    public Tensor uploadOnce(HostTensor host) {
        try (host) {
            return upload(host);
        }
    }

    /**
     * {@code values} stored in {@code dtype} by the suite's own formats ({@link SpecFormats}): the
     * bits a backend reads are the ones the oracle's values stand for.
     *
     * @param dtype  the tensor's dtype
     * @param values every element, row-major; each is rounded to {@code dtype}
     * @param shape  the tensor's shape, of {@code values.length} elements
     * @return the backend's tensor, owned by the scope
     * @throws IllegalArgumentException if the shape does not hold exactly {@code values.length} elements
     */
    public Tensor upload(DType dtype, float[] values, long... shape) {
        return uploadOnce(host(dtype, values, shape));
    }

    /**
     * A host tensor holding {@code values} encoded by {@link SpecFormats}.
     *
     * @param dtype  the tensor's dtype
     * @param values every element, row-major; each is rounded to {@code dtype}
     * @param shape  the tensor's shape, of {@code values.length} elements
     * @return a new host tensor, which the caller closes
     * @throws IllegalArgumentException if the shape does not hold exactly {@code values.length} elements
     */
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

    /**
     * A tensor holding exactly the given bit patterns (in the low bits of each int).
     *
     * @param dtype the tensor's dtype
     * @param bits  the first elements' codes, row-major; any further elements are zero
     * @param shape the tensor's shape, of at least {@code bits.length} elements
     * @return the backend's tensor, owned by the scope
     */
    public Tensor uploadBits(DType dtype, int[] bits, long... shape) {
        HostTensor h = HostTensor.allocate(dtype, shape);
        for (int i = 0; i < bits.length; i++) {
            h.setBits(i, bits[i]);
        }
        return uploadOnce(h);
    }

    /**
     * Closes a tensor made elsewhere (one the backend allocated or wrapped directly) with the scope.
     *
     * @param t the tensor
     * @return {@code t}
     */
    public Tensor own(Tensor t) {
        owned.add(t);
        return t;
    }

    /**
     * Allocates a backend tensor, its contents undefined.
     *
     * @param dtype the dtype
     * @param shape the shape
     * @return the tensor, owned by the scope
     */
    public Tensor allocate(DType dtype, long... shape) {
        Tensor t = backend.allocate(dtype, shape);
        owned.add(t);
        return t;
    }

    /**
     * A tensor filled with a recognisable byte pattern ({@code 0x5A}), to see whether anything was written.
     *
     * @param dtype the dtype
     * @param shape the shape
     * @return the tensor, owned by the scope
     */
    public Tensor sentinel(DType dtype, long... shape) {
        try (HostTensor h = HostTensor.allocate(dtype, shape)) {
            h.fillBytes((byte) 0x5A);
            return upload(h);
        }
    }

    /**
     * Uploads a pool's K and V pages.
     *
     * @param pool the pool; the caller keeps and closes it
     * @return the cache a call takes, over tensors the scope owns, with the pool's layout and scales
     */
    public PagedKvCache cache(PagedPool pool) {
        KvScales scales = scales(pool);
        Tensor k = upload(pool.k());
        if (pool.combined()) {
            return PagedKvCache.combined(k, pool.layout(), scales);
        }
        Tensor v = upload(pool.v());
        return PagedKvCache.separate(k, v, pool.layout(), scales);
    }

    /**
     * A pool's scales as a call takes them: the scalar ones, or its per-head or per-token
     * tensors uploaded.
     *
     * @param pool the pool
     * @return the scales, over tensors the scope owns
     */
    public KvScales scales(PagedPool pool) {
        PagedPool.TensorScales t = pool.tensorScales();
        if (t == null) {
            return pool.scales();
        }
        Tensor ks = upload(t.k());
        Tensor vs = upload(t.v());
        return t.mode() == KvScaleMode.PER_HEAD ? KvScales.perHead(ks, vs) : KvScales.perToken(ks, vs);
    }

    /**
     * The values of every element, decoded by {@link SpecFormats}.
     *
     * @param t a tensor of this scope's backend
     * @return its elements, row-major
     */
    public float[] floats(Tensor t) {
        try (HostTensor h = backend.download(t)) {
            return values(h);
        }
    }

    /**
     * The values of every element of a host tensor, decoded by {@link SpecFormats}.
     *
     * @param h a host tensor of a floating-point dtype
     * @return its elements, row-major
     */
    public static float[] values(HostTensor h) {
        float[] out = new float[Math.toIntExact(h.elementCount())];
        for (int i = 0; i < out.length; i++) {
            out[i] = SpecFormats.value(h.dtype(), h.getBits(i));
        }
        return out;
    }

    /**
     * Raw bit patterns of every element.
     *
     * @param t a tensor of this scope's backend
     * @return each element's code, in the low bits, row-major
     */
    public int[] bits(Tensor t) {
        try (HostTensor h = backend.download(t)) {
            int[] out = new int[Math.toIntExact(h.elementCount())];
            for (int i = 0; i < out.length; i++) {
                out[i] = h.getBits(i);
            }
            return out;
        }
    }

    /**
     * Closes every owned tensor, the newest first; a failure does not stop the others.
     *
     * @throws IllegalStateException after all were tried, if closing one failed (the first failure as its cause)
     */
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
