package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Names;
import org.attn4j.cli.npy.Npy;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScaleMode;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.HostTensor;
import org.attn4j.tensor.Tensor;

/**
 * Where a call's K and V come from: two files {@code "k"} and {@code "v"}, or (paged caches only)
 * one combined file {@code "kv"} {@code [pages, 2, ...]}, K first; their dtype
 * ({@code "kv_dtype"}, needed for raw bf16 and FP8 bits), layout and dequantisation scales:
 * scalar {@code "k_scale"}, {@code "v_scale"}, or {@code "kv_scales"}
 * {@code {"mode": "per_head" | "per_token", "k": ..., "v": ...}} with F32 tensors (spec §1).
 *
 * @param scalar the scalar scales ({@link KvScales#ONE} when {@code tensorScales} is given)
 * @param tensorScales per-head or per-token scales, or null
 */
record KvSource(Path k, Path v, Path kv, DType declared, KvLayout layout, KvScales scalar,
                TensorScales tensorScales) {
    static final Set<String> KEYS = Set.of("k", "v", "kv", "kv_dtype", "layout", "k_scale", "v_scale", "kv_scales");

    /**
     * {@code "kv_scales"}: the mode and K's and V's scales, each a {@code <f4} .npy file, or for
     * per-head scales also an inline list of {@code Hkv} numbers.
     */
    record TensorScales(KvScaleMode mode, ScaleInput k, ScaleInput v) {
        static TensorScales read(SpecReader r) throws IOException {
            r.allowOnly(Set.of("mode", "k", "v"));
            KvScaleMode mode = switch (r.string("mode").trim().toLowerCase(Locale.ROOT)) {
                case "per_head" -> KvScaleMode.PER_HEAD;
                case "per_token" -> KvScaleMode.PER_TOKEN;
                default -> throw r.mismatch("mode", "\"per_head\" or \"per_token\"", r.raw("mode"));
            };
            return new TensorScales(mode, ScaleInput.read(r, "k", mode), ScaleInput.read(r, "v", mode));
        }

        /** The scales as F32 tensors on {@code in}'s backend. */
        KvScales load(Inputs in) throws IOException {
            Tensor tk = k.load(in);
            Tensor tv = v.load(in);
            return mode == KvScaleMode.PER_HEAD ? KvScales.perHead(tk, tv) : KvScales.perToken(tk, tv);
        }
    }

    /** One scale tensor: a {@code <f4} .npy file (its own shape), or inline numbers ({@code [n]}). */
    record ScaleInput(Path file, float[] inline) {
        static ScaleInput read(SpecReader r, String key, KvScaleMode mode) throws IOException {
            if (r.has(key) && r.raw(key) instanceof List<?>) {
                if (mode == KvScaleMode.PER_TOKEN) {
                    throw r.mismatch(key, "a '<f4' .npy file name (per-token scales are a scale pool, [pages, "
                            + "pageSize, Hkv] for NHD or [pages, Hkv, pageSize] for HND)", r.raw(key));
                }
                return new ScaleInput(null, r.floats(key));
            }
            return new ScaleInput(r.file(key), null);
        }

        Tensor load(Inputs in) throws IOException {
            if (file != null) {
                return in.device(file, DType.F32);
            }
            HostTensor h = in.keep(HostTensor.allocate(DType.F32, inline.length));
            for (int i = 0; i < inline.length; i++) {
                h.setFloat(i, inline[i]);
            }
            return in.upload(h);
        }
    }

    static KvSource read(SpecReader r, boolean combinedAllowed) throws IOException {
        Path k = null;
        Path v = null;
        Path kv = null;
        if (r.has("kv")) {
            if (!combinedAllowed) {
                throw new CliException(r.where() + ": \"kv\" (one combined file) is only for paged caches; give \"k\" "
                        + "and \"v\"");
            }
            if (r.has("k") || r.has("v")) {
                throw new CliException(r.where() + ": give either \"kv\" or \"k\" and \"v\", not both");
            }
            kv = r.file("kv");
        } else {
            k = r.file("k");
            v = r.file("v");
        }
        DType dtype = r.has("kv_dtype") ? Names.dtype(r.string("kv_dtype"), "\"kv_dtype\"") : null;
        KvLayout layout = Names.layout(r.string("layout", "NHD"), "\"layout\"");
        TensorScales tensorScales = null;
        if (r.has("kv_scales")) {
            if (r.has("k_scale") || r.has("v_scale")) {
                throw new CliException(r.where() + ": give scalar \"k_scale\" and \"v_scale\", or \"kv_scales\" "
                        + "(per head or per token), not both");
            }
            tensorScales = TensorScales.read(r.object("kv_scales"));
        }
        KvScales scalar = new KvScales((float) r.number("k_scale", 1), (float) r.number("v_scale", 1));
        return new KvSource(k, v, kv, dtype, layout, scalar, tensorScales);
    }

    /** The dequantisation scales: the scalar ones, or the per-head or per-token tensors loaded on {@code in}. */
    KvScales scales(Inputs in) throws IOException {
        return tensorScales == null ? scalar : tensorScales.load(in);
    }

    boolean combined() {
        return kv != null;
    }

    /** The declared dtype, else what the file holds, else {@code fallback} (q's dtype, for raw '<u2'). */
    DType dtype(DType fallback) throws IOException {
        if (declared != null) {
            return declared;
        }
        DType inferred = Npy.infer(Npy.header(combined() ? kv : k).descr());
        if (inferred != null) {
            return inferred;
        }
        if (fallback == null) {
            return Inputs.dtypeOf(combined() ? kv : k, null, "kv_dtype");
        }
        return fallback;
    }

    /**
     * The head dim of V's rows ({@code Dvo}), read from the file's header: the last dim of
     * {@code "v"}, or of the combined {@code "kv"} (which holds K and V of one head dim).
     */
    long vHeadDim() throws IOException {
        long[] shape = Npy.header(combined() ? kv : v).shape();
        if (shape.length == 0) {
            throw new NpyException((combined() ? kv : v) + ": V needs a head dim, found a scalar");
        }
        return shape[shape.length - 1];
    }

    /** K and V on the device, checked to have one shape but for V's head dim ({@code Dvo}, spec §2). */
    Tensor[] loadPair(Inputs in, DType dtype) throws IOException {
        if (combined()) {
            Tensor t = in.device(kv, dtype);
            return new Tensor[] {t, t};
        }
        var hk = in.host(k, dtype);
        var hv = in.host(v, dtype);
        long[] ks = hk.shape();
        long[] vs = hv.shape();
        if (ks.length != vs.length || ks.length == 0
                || !Arrays.equals(Arrays.copyOf(ks, ks.length - 1), Arrays.copyOf(vs, vs.length - 1))) {
            throw new NpyException(v + ": shape " + Arrays.toString(vs) + " differs from k's "
                    + Arrays.toString(ks) + " in more than the head dim");
        }
        return new Tensor[] {in.upload(hk), in.upload(hv)};
    }

    /** A paged cache: [pages, pageSize, Hkv, D] (NHD) or [pages, Hkv, pageSize, D] (HND), or combined. */
    PagedKvCache loadPaged(Inputs in, DType dtype) throws IOException {
        Tensor[] kvPair = loadPair(in, dtype);
        KvScales scales = scales(in);
        return combined() ? PagedKvCache.combined(kvPair[0], layout, scales)
                : PagedKvCache.separate(kvPair[0], kvPair[1], layout, scales);
    }
}
