package org.attn4j.kv;

import java.util.Objects;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.tensor.Tensor;

/**
 * Dequantisation scales of a KV cache (spec §1): real value = stored value x scale, where the
 * scale is one float for all of K (and one for V), one per KV head, or one per token slot and KV
 * head, as {@link #mode()} says.
 *
 * <ul>
 *   <li>{@link KvScaleMode#SCALAR}: {@code new KvScales(k, v)}; {@link #ONE} is no scaling.
 *   <li>{@link KvScaleMode#PER_HEAD}: {@link #perHead}, F32 {@code [Hkv]} tensors, the scale of
 *       KV head {@code h} at element {@code h}.
 *   <li>{@link KvScaleMode#PER_TOKEN}: {@link #perToken}, F32 scale pools shaped like the paged
 *       cache without the head dim: {@code [numPages, pageSize, Hkv]} (NHD) or
 *       {@code [numPages, Hkv, pageSize]} (HND). Append computes and writes them (spec §5).
 * </ul>
 *
 * <p>Tensors are checked against the cache that carries them when a call uses it (dtype, shape,
 * session, feature); their values live on the device and are not read by the checks.
 *
 * <p>Immutable and thread-safe (tensors are referred to, not copied).
 */
public final class KvScales {
    /** No scaling: the stored values are the real ones. */
    public static final KvScales ONE = new KvScales(1f, 1f);

    private final KvScaleMode mode;
    private final float k;
    private final float v;
    private final Tensor kTensor;
    private final Tensor vTensor;

    /**
     * Scalar scales, one for K and one for V.
     *
     * @param k the keys' scale, finite and positive
     * @param v the values' scale, finite and positive
     * @throws InvalidArgumentException when a scale is not finite and positive
     */
    public KvScales(float k, float v) {
        if (!(k > 0) || !Float.isFinite(k)) {
            throw InvalidArgumentException.expected("kScale", "a finite value > 0", k);
        }
        if (!(v > 0) || !Float.isFinite(v)) {
            throw InvalidArgumentException.expected("vScale", "a finite value > 0", v);
        }
        this.mode = KvScaleMode.SCALAR;
        this.k = k;
        this.v = v;
        this.kTensor = null;
        this.vTensor = null;
    }

    private KvScales(KvScaleMode mode, Tensor kTensor, Tensor vTensor) {
        String what = mode == KvScaleMode.PER_HEAD ? "per-head" : "per-token";
        if (kTensor == null || vTensor == null) {
            throw new InvalidArgumentException(kTensor == null ? "kScales" : "vScales",
                    "tensor is null (" + what + " scales need one F32 tensor for K and one for V)");
        }
        this.mode = mode;
        this.k = 1f;
        this.v = 1f;
        this.kTensor = kTensor;
        this.vTensor = vTensor;
    }

    /**
     * One scale per KV head: dequantised value = code x {@code k[h]} (V: {@code v[h]}) for KV head
     * {@code h}; append divides by the same scale (spec §5).
     *
     * @param k F32 {@code [Hkv]}, contiguous, the keys' scale per KV head
     * @param v F32 {@code [Hkv]}, contiguous, the values' scale per KV head (may be {@code k})
     * @return the scales
     * @throws InvalidArgumentException when a tensor is null
     */
    public static KvScales perHead(Tensor k, Tensor v) {
        return new KvScales(KvScaleMode.PER_HEAD, k, v);
    }

    /**
     * One scale per token slot and KV head, in scale pools beside a paged FP8 cache:
     * dequantised value = code x {@code k[page, slot, h]} (V likewise). Append computes each
     * appended row's scale from its absolute maximum and writes it (spec §5).
     *
     * @param k F32 {@code [numPages, pageSize, Hkv]} (NHD) or {@code [numPages, Hkv, pageSize]}
     *          (HND), contiguous: the keys' scale pool
     * @param v the values' scale pool, k's shape; a tensor of its own, since append writes both
     * @return the scales
     * @throws InvalidArgumentException when a tensor is null or both are the same tensor
     */
    public static KvScales perToken(Tensor k, Tensor v) {
        if (k != null && k == v) {
            throw new InvalidArgumentException("vScales", "is the same tensor as kScales; per-token scale pools "
                    + "need one tensor each, since append writes K's and V's scales");
        }
        return new KvScales(KvScaleMode.PER_TOKEN, k, v);
    }

    /**
     * How the scales vary.
     *
     * @return scalar, per head or per token
     */
    public KvScaleMode mode() {
        return mode;
    }

    /**
     * Whether these are scalar scales.
     *
     * @return true for {@link KvScaleMode#SCALAR}
     */
    public boolean isScalar() {
        return mode == KvScaleMode.SCALAR;
    }

    /**
     * The keys' scalar scale.
     *
     * @return the scale
     * @throws IllegalStateException when the scales are per head or per token (see {@link #kTensor()})
     */
    public float k() {
        requireScalar();
        return k;
    }

    /**
     * The values' scalar scale.
     *
     * @return the scale
     * @throws IllegalStateException when the scales are per head or per token (see {@link #vTensor()})
     */
    public float v() {
        requireScalar();
        return v;
    }

    /**
     * The keys' scales per head or per token.
     *
     * @return the F32 tensor, or null for scalar scales
     */
    public Tensor kTensor() {
        return kTensor;
    }

    /**
     * The values' scales per head or per token.
     *
     * @return the F32 tensor, or null for scalar scales
     */
    public Tensor vTensor() {
        return vTensor;
    }

    // A backend that reads the scalar of tensor scales would silently dequantise with 1.
    private void requireScalar() {
        if (mode != KvScaleMode.SCALAR) {
            throw new IllegalStateException("the KV scales are " + mode + ": read them from kTensor() and vTensor()");
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KvScales s && mode == s.mode && Float.compare(k, s.k) == 0 && Float.compare(v, s.v) == 0
                && kTensor == s.kTensor && vTensor == s.vTensor;
    }

    @Override
    public int hashCode() {
        return Objects.hash(mode, k, v, System.identityHashCode(kTensor), System.identityHashCode(vTensor));
    }

    @Override
    public String toString() {
        return mode == KvScaleMode.SCALAR ? "KvScales[k=" + k + ", v=" + v + "]"
                : "KvScales[" + mode + ", k=" + kTensor + ", v=" + vTensor + "]";
    }
}
