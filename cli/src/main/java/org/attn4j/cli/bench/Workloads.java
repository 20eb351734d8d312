package org.attn4j.cli.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.attn4j.options.HeadConfig;
import org.attn4j.kv.KvLayout;
import org.attn4j.tensor.DType;

/** The named workloads of spec §10; every one bf16, page 16, NHD, Hq 32, D 128. */
public final class Workloads {
    /** Seed of the drawn lengths of {@code prefill-batch-paged}: the peers script draws the same ones. */
    public static final long LENGTH_SEED = 20260101L;

    private Workloads() {}

    public static Map<String, Workload> named() {
        Map<String, Workload> m = new LinkedHashMap<>();
        HeadConfig gqa = new HeadConfig(32, 8, 128);
        m.put("decode-llama8b", decode("decode-llama8b", 64, 4096, gqa));
        m.put("decode-mha", decode("decode-mha", 128, 1024, new HeadConfig(32, 32, 128)));
        m.put("decode-long", decode("decode-long", 4, 131072, gqa));
        m.put("prefill-causal-8k", prefill("prefill-causal-8k", new int[] {8192}, gqa));
        m.put("prefill-batch-paged", prefill("prefill-batch-paged", drawLengths(16, 512, 4096, LENGTH_SEED), gqa));
        int[] own = new int[64];
        Arrays.fill(own, 256);
        m.put("cascade-shared-prefix", new Workload("cascade-shared-prefix", Workload.Op.CASCADE, ones(64), own, 32768,
                gqa, 16, DType.BF16, DType.BF16, KvLayout.NHD, false, 1.0, false));
        return m;
    }

    public static Workload decode(String name, int batch, int kvLen, HeadConfig heads) {
        int[] kv = new int[batch];
        Arrays.fill(kv, kvLen);
        return new Workload(name, Workload.Op.DECODE, ones(batch), kv, 0, heads, 16, DType.BF16, DType.BF16,
                KvLayout.NHD, false, 1.0, false);
    }

    public static Workload prefill(String name, int[] lens, HeadConfig heads) {
        return new Workload(name, Workload.Op.PREFILL, lens, lens, 0, heads, 16, DType.BF16, DType.BF16,
                KvLayout.NHD, true, 1.0, false);
    }

    /**
     * Lengths uniform in {@code [lo, hi]} from a small linear congruential generator that the
     * Python peers script reproduces exactly (Java's SplittableRandom has no Python twin).
     */
    public static int[] drawLengths(int n, int lo, int hi, long seed) {
        int[] out = new int[n];
        long state = seed;
        for (int i = 0; i < n; i++) {
            state = (state * 6364136223846793005L + 1442695040888963407L);
            long r = (state >>> 33) % (hi - lo + 1);
            out[i] = (int) (lo + r);
        }
        return out;
    }

    static int[] ones(int n) {
        int[] a = new int[n];
        Arrays.fill(a, 1);
        return a;
    }

    /** Every name, for help texts. */
    public static List<String> names() {
        return new ArrayList<>(named().keySet());
    }

    /** Random lengths for an ad-hoc range {@code lo..hi}. */
    static int[] range(int n, int lo, int hi, SplittableRandom rnd) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = lo == hi ? lo : lo + rnd.nextInt(hi - lo + 1);
        }
        return out;
    }
}
