package org.attn4j.conformance.cases;

import java.util.SplittableRandom;
import org.attn4j.options.CustomMask;
import org.attn4j.conformance.cases.AttentionCase.DataKind;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.conformance.cases.AttentionCase.MaskKind;
import org.attn4j.tensor.DType;

/**
 * The logical values of a case, drawn from its seed: q {@code [totalQ, Hq, D]}, each request's
 * K and V {@code [kvLen, Hkv, D]} as stored values (already rounded or quantised; real value =
 * stored x scale) and each request's mask. Tensors in any paging or layout are built from these.
 *
 * <p>Never modified after it is made, so safe to read from several threads. The arrays are shared,
 * not copied, between instances and with callers of {@link #q()}, {@link #k(int)} and
 * {@link #v(int)}: treat them as read-only.
 */
public final class CaseData {
    private final AttentionCase c;
    private final float[] q;
    private final float[][] k;
    private final float[][] v;
    private final boolean[][] mask;
    private final float[][] kScales;
    private final float[][] vScales;

    private CaseData(AttentionCase c, float[] q, float[][] k, float[][] v, boolean[][] mask, float[][] kScales,
                     float[][] vScales) {
        this.c = c;
        this.q = q;
        this.k = k;
        this.v = v;
        this.kScales = kScales;
        this.vScales = vScales;
        this.mask = mask;
    }

    /**
     * Draws the values of a case from its seed: q, K and V per {@link AttentionCase#data()}
     * (rounded to the case's dtypes, K and V divided by their scales, scalar, per head or per
     * token), and with a custom mask each request's bits at a random density, one row of a
     * multi-row request masked off entirely.
     *
     * @param c the case
     * @return its values; the same case always gives the same values
     */
    public static CaseData of(AttentionCase c) {
        SplittableRandom rng = new SplittableRandom(c.seed());
        int hq = c.numQoHeads();
        int hkv = c.numKvHeads();
        int d = c.headDimQk();
        int dv = c.headDimVo();
        boolean large = c.data() == DataKind.LARGE_LOGITS;
        float[] q = new float[c.totalQ() * hq * d];
        int[] qoIndptr = c.qoIndptr();
        for (int row = 0; row < c.totalQ(); row++) {
            float sign = rng.nextBoolean() ? 1f : -1f; // LARGE_LOGITS: rows near +1e4 and near -1e4
            for (int h = 0; h < hq; h++) {
                for (int i = 0; i < d; i++) {
                    int at = (row * hq + h) * d + i;
                    q[at] = large ? (i < d / 2 ? sign : dyadic(rng)) : SpecFormats.round(c.qDtype(), uniform(rng, 2));
                }
            }
        }
        int batch = c.batchSize();
        float[][] k = new float[batch][];
        float[][] v = new float[batch][];
        float[][] kScales = c.scaleTables(false);
        float[][] vScales = c.scaleTables(true);
        for (int b = 0; b < batch; b++) {
            int n = c.kvLen(b) * hkv * d;
            int nv = c.kvLen(b) * hkv * dv;
            k[b] = new float[n];
            v[b] = new float[nv];
            // K and V drawn in turn, so cases with one head dim keep the values they always had.
            for (int at = 0; at < Math.max(n, nv); at++) {
                if (at < n) {
                    int i = at % d;
                    float kReal = large ? (i < d / 2 ? 0.75f + 0.125f * rng.nextInt(3) : dyadic(rng))
                            : uniform(rng, 2);
                    k[b][at] = store(c.kvDtype(), kReal / kScales[b][at / d]);
                }
                if (at < nv) {
                    v[b][at] = store(c.kvDtype(), uniform(rng, 1) / vScales[b][at / dv]);
                }
            }
        }
        boolean[][] mask = null;
        if (c.mask() != MaskKind.NONE) {
            mask = new boolean[batch][];
            for (int b = 0; b < batch; b++) {
                mask[b] = new boolean[c.qoLen(b) * c.kvLen(b)];
                double density = 0.3 + 0.6 * rng.nextDouble();
                for (int i = 0; i < mask[b].length; i++) {
                    mask[b][i] = rng.nextDouble() < density;
                }
                if (c.qoLen(b) > 1 && c.kvLen(b) > 0) {
                    // one row with no allowed key: o = 0, lse = -inf
                    int row = rng.nextInt(c.qoLen(b));
                    java.util.Arrays.fill(mask[b], row * c.kvLen(b), (row + 1) * c.kvLen(b), false);
                }
            }
        }
        assert qoIndptr.length == batch + 1;
        return new CaseData(c, q, k, v, mask, kScales, vScales);
    }

    /**
     * Given values instead of drawn ones, for hand-written checks.
     *
     * @param c    the case the values belong to
     * @param q    stored q values, {@code [totalQ, Hq, D]}
     * @param k    stored K values per request, {@code [kvLen, Hkv, D]} each
     * @param v    stored V values per request, {@code [kvLen, Hkv, D]} each
     * @param mask per request, row-major {@code [qoLen, kvLen]} bits (true: key allowed); null for none
     * @return the values; only the outer arrays of {@code q}, {@code k} and {@code v} are copied
     */
    public static CaseData explicit(AttentionCase c, float[] q, float[][] k, float[][] v, boolean[][] mask) {
        return new CaseData(c, q.clone(), k.clone(), v.clone(), mask, c.scaleTables(false), c.scaleTables(true));
    }

    /** A multiple of 1/8 in [-1, 1]: exact in every dtype, so dot products are exact in float. */
    private static float dyadic(SplittableRandom rng) {
        return (rng.nextInt(17) - 8) / 8f;
    }

    private static float uniform(SplittableRandom rng, double range) {
        return (float) ((rng.nextDouble() * 2 - 1) * range);
    }

    private static float store(DType dtype, float x) {
        return SpecFormats.round(dtype, x);
    }

    /**
     * The same case, K and V with other q values (an FP8 q's values, say).
     *
     * @param newQ stored q values, {@code [totalQ, Hq, D]} (not copied)
     * @return new data
     */
    public CaseData withQ(float[] newQ) {
        return new CaseData(c, newQ, k, v, mask, kScales, vScales);
    }

    /**
     * The same case and q with other K and V (used to share prefixes).
     *
     * @param newK stored K values per request, {@code [kvLen, Hkv, D]} each (not copied)
     * @param newV stored V values per request, {@code [kvLen, Hkv, D]} each (not copied)
     * @return new data
     */
    public CaseData withKv(float[][] newK, float[][] newV) {
        return new CaseData(c, q, newK, newV, mask, kScales, vScales);
    }

    /**
     * The same values under a case of the same shapes with other options (lse, causal, mask form).
     *
     * @param other a case of the same lengths, heads and head dim
     * @return new data; without a mask when {@code other} has none
     */
    public CaseData withCase(AttentionCase other) {
        return new CaseData(other, q, k, v, other.mask() == MaskKind.NONE ? null : mask, kScales, vScales);
    }

    /**
     * The same values with these per-request masks, handed over as {@code kind}.
     *
     * @param newMask per request, row-major {@code [qoLen, kvLen]} bits (true: key allowed; not copied)
     * @param kind    the mask form of the new case
     * @return new data under the case with {@code kind}
     */
    public CaseData withMask(boolean[][] newMask, MaskKind kind) {
        AttentionCase.Builder b = c.toBuilder();
        b.mask = kind;
        return new CaseData(b.build(), q, k, v, newMask, kScales, vScales);
    }

    /**
     * Only the given requests, in the given order.
     *
     * @param requests indices of requests of this case; one may repeat
     * @return new data under a case of just those lengths
     */
    public CaseData select(int... requests) {
        int hqd = c.numQoHeads() * c.headDimQk(); // rows of q
        int[] qoIndptr = c.qoIndptr();
        int[] qo = new int[requests.length];
        int[] kv = new int[requests.length];
        float[][] nk = new float[requests.length][];
        float[][] nv = new float[requests.length][];
        float[][] nks = new float[requests.length][];
        float[][] nvs = new float[requests.length][];
        boolean[][] nm = mask == null ? null : new boolean[requests.length][];
        int rows = 0;
        for (int i = 0; i < requests.length; i++) {
            qo[i] = c.qoLen(requests[i]);
            kv[i] = c.kvLen(requests[i]);
            rows += qo[i];
            nk[i] = k[requests[i]];
            nv[i] = v[requests[i]];
            nks[i] = kScales[requests[i]];
            nvs[i] = vScales[requests[i]];
            if (nm != null) {
                nm[i] = mask[requests[i]];
            }
        }
        float[] nq = new float[rows * hqd];
        int at = 0;
        for (int r : requests) {
            int n = (qoIndptr[r + 1] - qoIndptr[r]) * hqd;
            System.arraycopy(q, qoIndptr[r] * hqd, nq, at, n);
            at += n;
        }
        return new CaseData(c.toBuilder().lengths(qo, kv).build(), nq, nk, nv, nm, nks, nvs);
    }

    /**
     * The case these values belong to.
     *
     * @return the case
     */
    public AttentionCase kase() {
        return c;
    }

    /**
     * Stored q values.
     *
     * @return {@code [totalQ, Hq, D]}, not copied
     */
    public float[] q() {
        return q;
    }

    /**
     * Stored K values of one request (real value = stored x {@code kScale}).
     *
     * @param b a request
     * @return {@code [kvLen, Hkv, D]}, not copied
     */
    public float[] k(int b) {
        return k[b];
    }

    /**
     * Stored V values of one request (real value = stored x {@code vScale}).
     *
     * @param b a request
     * @return {@code [kvLen, Hkv, D]}, not copied
     */
    public float[] v(int b) {
        return v[b];
    }

    /**
     * The dequantisation scale of every key and KV head of one request's K (spec §1): real value
     * = stored x scale.
     *
     * @param b a request
     * @return {@code [kvLen, Hkv]}, not copied
     */
    public float[] kScales(int b) {
        return kScales[b];
    }

    /**
     * The dequantisation scale of every key and KV head of one request's V.
     *
     * @param b a request
     * @return {@code [kvLen, Hkv]}, not copied
     */
    public float[] vScales(int b) {
        return vScales[b];
    }

    /**
     * Stored K values of every request.
     *
     * @return a deep copy, {@code [kvLen, Hkv, D]} per request
     */
    public float[][] allK() {
        float[][] out = new float[k.length][];
        for (int b = 0; b < k.length; b++) {
            out[b] = k[b].clone();
        }
        return out;
    }

    /**
     * Stored V values of every request.
     *
     * @return a deep copy, {@code [kvLen, Hkv, D]} per request
     */
    public float[][] allV() {
        float[][] out = new float[v.length][];
        for (int b = 0; b < v.length; b++) {
            out[b] = v[b].clone();
        }
        return out;
    }

    /**
     * Whether the custom mask allows a key for a query row.
     *
     * @param b a request
     * @param i a query row of the request, from 0
     * @param j a key of the request, from 0
     * @return the mask bit; true without a mask
     */
    public boolean maskBit(int b, int i, int j) {
        return mask == null || mask[b][i * c.kvLen(b) + j];
    }

    /**
     * The mask of every request in the case's {@link AttentionCase#mask() form}.
     *
     * @return the mask a batch call takes, or null without one
     */
    public CustomMask customMask() {
        if (mask == null) {
            return null;
        }
        return switch (c.mask()) {
            case NONE -> null;
            case BOOLEANS -> CustomMask.fromBooleans(concat());
            case PACKED -> {
                boolean[] all = concat();
                yield CustomMask.fromPacked(pack(all), all.length);
            }
            case PACKED_WITH_OFFSETS -> withOffsets();
        };
    }

    /**
     * The mask of one request alone, as booleans, for single-request calls.
     *
     * @param b a request
     * @return its mask, or null without one
     */
    public CustomMask customMask(int b) {
        return mask == null ? null : CustomMask.fromBooleans(mask[b].clone());
    }

    private boolean[] concat() {
        int n = 0;
        for (boolean[] m : mask) {
            n += m.length;
        }
        boolean[] all = new boolean[n];
        int at = 0;
        for (boolean[] m : mask) {
            System.arraycopy(m, 0, all, at, m.length);
            at += m.length;
        }
        return all;
    }

    /** Requests at given offsets with random filler bits between them. */
    private CustomMask withOffsets() {
        SplittableRandom rng = new SplittableRandom(c.seed() ^ 0x5EEDL);
        long[] offsets = new long[mask.length];
        long at = 0;
        for (int b = 0; b < mask.length; b++) {
            at += rng.nextInt(10);
            offsets[b] = at;
            at += mask[b].length;
        }
        at += rng.nextInt(10);
        boolean[] bits = new boolean[(int) at];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = rng.nextBoolean();
        }
        for (int b = 0; b < mask.length; b++) {
            System.arraycopy(mask[b], 0, bits, (int) offsets[b], mask[b].length);
        }
        return CustomMask.fromPacked(pack(bits), bits.length, offsets);
    }

    static byte[] pack(boolean[] bits) {
        byte[] packed = new byte[(bits.length + 7) / 8];
        for (int i = 0; i < bits.length; i++) {
            if (bits[i]) {
                packed[i >>> 3] |= (byte) (1 << (i & 7));
            }
        }
        return packed;
    }
}
