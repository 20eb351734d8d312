package org.attn4j.cli.run;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import org.attn4j.cli.CliException;
import org.attn4j.cli.Names;
import org.attn4j.cli.npy.Npy;
import org.attn4j.cli.npy.NpyException;
import org.attn4j.kv.KvLayout;
import org.attn4j.kv.KvScales;
import org.attn4j.kv.PagedKvCache;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * Where a call's K and V come from: two files {@code "k"} and {@code "v"}, or (paged caches only)
 * one combined file {@code "kv"} {@code [pages, 2, ...]}, K first; their dtype
 * ({@code "kv_dtype"}, needed for raw bf16 and FP8 bits), layout and dequantisation scales.
 */
record KvSource(Path k, Path v, Path kv, DType declared, KvLayout layout, KvScales scales) {
    static final Set<String> KEYS = Set.of("k", "v", "kv", "kv_dtype", "layout", "k_scale", "v_scale");

    static KvSource read(SpecReader r, boolean combinedAllowed) {
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
        KvScales scales = new KvScales((float) r.number("k_scale", 1), (float) r.number("v_scale", 1));
        return new KvSource(k, v, kv, dtype, layout, scales);
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
        return combined() ? PagedKvCache.combined(kvPair[0], layout, scales)
                : PagedKvCache.separate(kvPair[0], kvPair[1], layout, scales);
    }
}
