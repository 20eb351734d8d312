package org.attn4j.bench;

import java.util.Arrays;
import org.attn4j.kv.KvLayout;
import org.attn4j.options.HeadConfig;
import org.attn4j.spi.Capabilities;
import org.attn4j.spi.Feature;
import org.attn4j.tensor.DType;

/**
 * One benchmark shape. Request {@code b} has {@code qoLens[b]} query rows over {@code kvLens[b]}
 * keys; a cascade adds a {@code sharedPrefix} every request reads before its own keys.
 *
 * <p>The length arrays are copied in, but {@code qoLens()} and {@code kvLens()} hand out the
 * copies themselves: leave what they return unchanged; then a workload is immutable and
 * thread-safe.
 *
 * @param name         row label ({@code decode-llama8b}, or a description of an ad-hoc shape)
 * @param op           decode, prefill (paged) or cascade (decode over a shared prefix)
 * @param qoLens       query rows per request (all 1 for decode and cascade)
 * @param kvLens       keys per request (a cascade: each request's own keys after the prefix)
 * @param sharedPrefix cascade only: tokens of the prefix shared by all requests (0 otherwise)
 * @param heads        head counts and dim
 * @param pageSize     tokens per KV page
 * @param qDtype       q dtype, and o's but for an FP8 q ({@link #outputDtype()})
 * @param kvDtype      KV cache dtype
 * @param layout       KV page layout
 * @param causal       whether the causal mask applies (prefill)
 * @param scale        the factor lengths were shrunk by (1: as named or typed)
 * @param adHoc        typed on the command line: its lengths are the user's, never shrunk for CPUs
 */
public record Workload(String name, Op op, int[] qoLens, int[] kvLens, int sharedPrefix, HeadConfig heads,
                       int pageSize, DType qDtype, DType kvDtype, KvLayout layout, boolean causal, double scale,
                       boolean adHoc) {

    /** The operation a workload times. */
    public enum Op {
        /** Batch decode over a paged cache: one query row per request. */
        DECODE,
        /** Batch prefill over a paged cache. */
        PREFILL,
        /** Two-level cascade decode: a prefix all requests share, then each request's own keys. */
        CASCADE;

        /**
         * The name rows and the command line use.
         *
         * @return the constant's name in lower case
         */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * Copies the length arrays.
     *
     * @throws IllegalArgumentException when q/k and v/o head dims differ (spec §10's workloads,
     *         and the rows and charts of a run, have one head dim)
     */
    public Workload {
        if (heads != null && !heads.sameHeadDims()) {
            throw new IllegalArgumentException("heads: a workload has one head dim, expected headDimVo = headDimQk = "
                    + heads.headDimQk() + ", actual " + heads.headDimVo());
        }
        qoLens = qoLens.clone();
        kvLens = kvLens.clone();
    }

    /**
     * The number of requests.
     *
     * @return the length of {@code kvLens}
     */
    public int batch() {
        return kvLens.length;
    }

    /**
     * Query rows of all requests.
     *
     * @return the sum of {@code qoLens}
     */
    public int totalQ() {
        return Arrays.stream(qoLens).sum();
    }

    /**
     * Keys per request as attention sees them (prefix plus own for a cascade).
     *
     * @param b a request
     * @return its keys
     */
    public int kvLen(int b) {
        return sharedPrefix + kvLens[b];
    }

    /**
     * Tokens actually stored (the prefix once).
     *
     * @return the prefix plus every request's own keys
     */
    public long storedKvTokens() {
        return sharedPrefix + Arrays.stream(kvLens).asLongStream().sum();
    }

    /**
     * Whether the operation is measured by bytes moved rather than FLOPs.
     *
     * @return true for decode and cascade
     */
    public boolean isDecodeLike() {
        return op != Op.PREFILL;
    }

    /**
     * Same shape with every length multiplied by {@code factor} (at least 1; a prefix stays whole pages).
     *
     * @param factor the length factor, such as 1/32 for CPU backends
     * @return the scaled workload, its {@link #scale} multiplied by {@code factor}; this one when
     *         {@code factor} is 1
     */
    public Workload scaled(double factor) {
        if (factor == 1.0) {
            return this;
        }
        int[] qo = qoLens.clone();
        int[] kv = kvLens.clone();
        for (int b = 0; b < kv.length; b++) {
            int newKv = Math.max(1, (int) Math.round(kv[b] * factor));
            if (op == Op.PREFILL) {
                // keep the row count relative to the keys so causal stays valid (qo <= kv)
                qo[b] = Math.max(1, Math.min(newKv, (int) Math.round(qo[b] * factor)));
            }
            kv[b] = newKv;
        }
        int prefix = sharedPrefix;
        if (prefix > 0) {
            prefix = Math.max(pageSize, (int) Math.round(prefix * factor / pageSize) * pageSize);
        }
        return new Workload(name, op, qo, kv, prefix, heads, pageSize, qDtype, kvDtype, layout, causal,
                scale * factor, adHoc);
    }

    /**
     * The same workload with other dtypes.
     *
     * @param q  q and o dtype
     * @param kv KV cache dtype
     * @return a new workload
     */
    public Workload withDtypes(DType q, DType kv) {
        return new Workload(name, op, qoLens, kvLens, sharedPrefix, heads, pageSize, q, kv, layout, causal, scale,
                adHoc);
    }

    /**
     * The same workload with another KV layout.
     *
     * @param l the layout
     * @return a new workload
     */
    public Workload withLayout(KvLayout l) {
        return new Workload(name, op, qoLens, kvLens, sharedPrefix, heads, pageSize, qDtype, kvDtype, l, causal,
                scale, adHoc);
    }

    /**
     * The same workload under another name.
     *
     * @param n the name
     * @return a new workload
     */
    public Workload withName(String n) {
        return new Workload(n, op, qoLens, kvLens, sharedPrefix, heads, pageSize, qDtype, kvDtype, layout, causal,
                scale, adHoc);
    }

    /**
     * Why a backend with these capabilities does not offer this workload at all, or null when it
     * does: a q or KV dtype it does not take (an FP8 q needs {@link Feature#FP8_QUERY}) or a head
     * dim outside its range. Such a row is skipped, not failed: the backend's own capabilities say
     * so, as spec §1 has every backend reject these before any device work.
     *
     * @param caps the backend's capabilities
     * @return the reason, or null
     */
    public String unsupportedBy(Capabilities caps) {
        if (qDtype.isFp8() ? !caps.qDtypes().contains(qDtype) && !caps.has(Feature.FP8_QUERY)
                : !caps.qDtypes().contains(qDtype)) {
            return "q " + dtype(qDtype) + " is not offered" + (qDtype.isFp8() ? " (FP8 q needs feature "
                    + Feature.FP8_QUERY + ")" : "");
        }
        if (!caps.kvDtypes().contains(kvDtype)) {
            return "K/V " + dtype(kvDtype) + " is not offered";
        }
        if (heads != null && !caps.supportsHeadDim(heads.headDimQk())) {
            return "head dim " + heads.headDimQk() + " is not offered (" + caps.headDimsDescription() + ")";
        }
        return null;
    }

    /**
     * The dtype of o: q's, or BF16 for an FP8 q (spec §1 allows F32, F16 or BF16 there; BF16 is
     * what an engine on FP8 attention keeps its activations in).
     *
     * @return o's dtype
     */
    public DType outputDtype() {
        return qDtype.isFp8() ? DType.BF16 : qDtype;
    }

    /**
     * The row name: the workload's name, its q dtype, KV dtype and layout, and the factor its
     * lengths were scaled by when not 1, e.g. {@code decode-llama8b[bf16/fp8_e4m3/HND] x0.03125}.
     *
     * @return the label
     */
    public String label() {
        String s = name + "[" + dtype(qDtype) + "/" + dtype(kvDtype) + "/" + layout + "]";
        return scale == 1.0 ? s : s + " x" + BenchRow.num(scale);
    }

    /**
     * The part of a row name before its bracket: rows of one workload share it, peers' rows too.
     *
     * @param label a row name
     * @return the name before {@code [}, stripped; the whole name without a bracket
     */
    public static String baseName(String label) {
        int b = label.indexOf('[');
        return (b < 0 ? label : label.substring(0, b)).strip();
    }

    private static String dtype(DType d) {
        return d.name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * Lengths in words: "kv 4096" or "kv 512..4096 (mean 2301)"; a cascade's as "prefix 2048 +
     * own ..."; a prefill's query rows too where they differ from the keys.
     *
     * @return the description
     */
    public String lengthsDescription() {
        IntSummary kv = IntSummary.of(kvLens);
        String s = (sharedPrefix > 0 ? "prefix " + sharedPrefix + " + own " : "kv ") + kv;
        if (op == Op.PREFILL && !Arrays.equals(qoLens, kvLens)) {
            s += ", qo " + IntSummary.of(qoLens);
        }
        return s;
    }

    private record IntSummary(int min, int max, double mean) {
        static IntSummary of(int[] v) {
            return new IntSummary(Arrays.stream(v).min().orElse(0), Arrays.stream(v).max().orElse(0),
                    Arrays.stream(v).average().orElse(0));
        }

        @Override
        public String toString() {
            return min == max ? Integer.toString(min) : min + ".." + max + " (mean " + Math.round(mean) + ")";
        }
    }
}
