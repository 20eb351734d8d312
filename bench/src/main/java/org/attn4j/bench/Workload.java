package org.attn4j.bench;

import java.util.Arrays;
import org.attn4j.options.HeadConfig;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;

/**
 * One benchmark shape. Request {@code b} has {@code qoLens[b]} query rows over {@code kvLens[b]}
 * keys; a cascade adds a {@code sharedPrefix} every request reads before its own keys.
 *
 * @param name         row label ({@code decode-llama8b}, or a description of an ad-hoc shape)
 * @param op           decode, prefill (paged) or cascade (decode over a shared prefix)
 * @param qoLens       query rows per request (all 1 for decode and cascade)
 * @param kvLens       keys per request (a cascade: each request's own keys after the prefix)
 * @param sharedPrefix cascade only: tokens of the prefix shared by all requests (0 otherwise)
 * @param scale        the factor lengths were shrunk by (1: as named or typed)
 * @param adHoc        typed on the command line: its lengths are the user's, never shrunk for CPUs
 */
public record Workload(String name, Op op, int[] qoLens, int[] kvLens, int sharedPrefix, HeadConfig heads,
                       int pageSize, DType qDtype, DType kvDtype, KvLayout layout, boolean causal, double scale,
                       boolean adHoc) {

    public enum Op {
        DECODE, PREFILL, CASCADE;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public Workload {
        qoLens = qoLens.clone();
        kvLens = kvLens.clone();
    }

    public int batch() {
        return kvLens.length;
    }

    public int totalQ() {
        return Arrays.stream(qoLens).sum();
    }

    /** Keys per request as attention sees them (prefix plus own for a cascade). */
    public int kvLen(int b) {
        return sharedPrefix + kvLens[b];
    }

    /** Tokens actually stored (the prefix once). */
    public long storedKvTokens() {
        return sharedPrefix + Arrays.stream(kvLens).asLongStream().sum();
    }

    public boolean isDecodeLike() {
        return op != Op.PREFILL;
    }

    /** Same shape with every length multiplied by {@code factor} (at least 1; a prefix stays whole pages). */
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

    public Workload withDtypes(DType q, DType kv) {
        return new Workload(name, op, qoLens, kvLens, sharedPrefix, heads, pageSize, q, kv, layout, causal, scale,
                adHoc);
    }

    public Workload withLayout(KvLayout l) {
        return new Workload(name, op, qoLens, kvLens, sharedPrefix, heads, pageSize, qDtype, kvDtype, l, causal,
                scale, adHoc);
    }

    public Workload withName(String n) {
        return new Workload(n, op, qoLens, kvLens, sharedPrefix, heads, pageSize, qDtype, kvDtype, layout, causal,
                scale, adHoc);
    }

    /**
     * The row name: the workload's name, its q dtype, KV dtype and layout, and the factor its
     * lengths were scaled by when not 1, e.g. {@code decode-llama8b[bf16/fp8_e4m3/HND] x0.03125}.
     */
    public String label() {
        String s = name + "[" + dtype(qDtype) + "/" + dtype(kvDtype) + "/" + layout + "]";
        return scale == 1.0 ? s : s + " x" + BenchRow.num(scale);
    }

    /** The part of a row name before its bracket: rows of one workload share it, peers' rows too. */
    public static String baseName(String label) {
        int b = label.indexOf('[');
        return (b < 0 ? label : label.substring(0, b)).strip();
    }

    private static String dtype(DType d) {
        return d.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Lengths in words: "kv 4096" or "kv 512..4096 (mean 2301)". */
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
