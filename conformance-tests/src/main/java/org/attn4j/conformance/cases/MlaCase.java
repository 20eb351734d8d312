package org.attn4j.conformance.cases;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.conformance.check.SpecFormats;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.tensor.DType;

/**
 * One multi-head latent attention case (spec §13): heads and dims, page size, dtypes, decode or
 * prefill, causal, each request's query rows and keys, the caller's scale and the FP8 cache's two
 * scales. The values follow from the seed ({@link #data()}); every array is copied in and out.
 *
 * <p>Immutable and thread-safe.
 *
 * @param seed       seeds the values and the page placement
 * @param heads      query heads {@code H}
 * @param dCkv       the latent's dim
 * @param dKpe       the rotary part's dim
 * @param pageSize   tokens per page
 * @param qDtype     dtype of qNope, qPe and o
 * @param kvDtype    dtype of the latent cache
 * @param decode     one row per request, planned with {@code planMlaDecode}
 * @param causal     causal prefill (decode: false)
 * @param qoLens     each request's query rows
 * @param kvLens     each request's keys
 * @param smScale    the caller's logit scale
 * @param ckvScale   the latent's dequantisation scale (1 unless FP8)
 * @param kpeScale   the rotary part's dequantisation scale (1 unless FP8)
 */
public record MlaCase(long seed, int heads, int dCkv, int dKpe, int pageSize, DType qDtype, DType kvDtype,
                      boolean decode, boolean causal, int[] qoLens, int[] kvLens, float smScale, float ckvScale,
                      float kpeScale) {
    /** Copies the arrays. */
    public MlaCase {
        qoLens = qoLens.clone();
        kvLens = kvLens.clone();
    }

    @Override
    public int[] qoLens() {
        return qoLens.clone();
    }

    @Override
    public int[] kvLens() {
        return kvLens.clone();
    }

    /**
     * The number of requests.
     *
     * @return B
     */
    public int batchSize() {
        return kvLens.length;
    }

    /**
     * All query rows.
     *
     * @return the rows of qNope, qPe and o
     */
    public int totalQ() {
        return Arrays.stream(qoLens).sum();
    }

    /**
     * Request b's first row, and one past the last.
     *
     * @return the indptr, {@code B + 1} entries
     */
    public int[] qoIndptr() {
        int[] p = new int[kvLens.length + 1];
        for (int b = 0; b < kvLens.length; b++) {
            p[b + 1] = p[b] + qoLens[b];
        }
        return p;
    }

    /**
     * This case with other dtypes.
     *
     * @param q  the dtype of q and o
     * @param kv the cache's dtype
     * @return the case, FP8 scales kept only for FP8 caches
     */
    public MlaCase withDtypes(DType q, DType kv) {
        boolean fp8 = kv == DType.FP8_E4M3 || kv == DType.FP8_E5M2;
        return new MlaCase(seed, heads, dCkv, dKpe, pageSize, q, kv, decode, causal, qoLens, kvLens, smScale,
                fp8 ? ckvScale : 1f, fp8 ? kpeScale : 1f);
    }

    /**
     * This case with one scale for both parts (the expanded attention has one K scale).
     *
     * @return the case
     */
    public MlaCase withEqualScales() {
        return new MlaCase(seed, heads, dCkv, dKpe, pageSize, qDtype, kvDtype, decode, causal, qoLens, kvLens,
                smScale, ckvScale, ckvScale);
    }

    /**
     * This case with another page size.
     *
     * @param ps tokens per page
     * @return the case
     */
    public MlaCase withPageSize(int ps) {
        return new MlaCase(seed, heads, dCkv, dKpe, ps, qDtype, kvDtype, decode, causal, qoLens, kvLens, smScale,
                ckvScale, kpeScale);
    }

    // ------------------------------------------------------------------ generation

    private static final DType[] Q = {DType.F32, DType.F16, DType.BF16};

    /**
     * spec §9's edge cases for MLA: no keys, one key, page size ± 1, a page exactly full,
     * {@code qoLen = kvLen}, page size 1, and DeepSeek's shape (128 heads, 512/64, bf16, page 64).
     *
     * @param rng the property's random source
     * @param decode decode or prefill cases
     * @return the cases
     */
    public static List<MlaCase> edgeCases(SplittableRandom rng, boolean decode) {
        List<MlaCase> out = new ArrayList<>();
        float s = (float) (1 / Math.sqrt(48));
        int[] one = decode ? new int[] {1, 1, 1} : new int[] {3, 1, 4};
        out.add(new MlaCase(rng.nextLong(), 4, 32, 16, 4, DType.F32, DType.F32, decode, false, one,
                new int[] {0, 1, 5}, s, 1f, 1f));
        out.add(new MlaCase(rng.nextLong(), 3, 64, 8, 5, DType.F16, DType.F16, decode, !decode, one,
                new int[] {4, 5, 6}, s, 1f, 1f));
        out.add(new MlaCase(rng.nextLong(), 2, 32, 32, 1, DType.BF16, DType.FP8_E4M3, decode, !decode, one,
                new int[] {7, 4, 9}, s, 0.75f, 1.25f));
        out.add(new MlaCase(rng.nextLong(), 8, 48, 16, 7, DType.F32, DType.BF16, decode, !decode,
                decode ? one : new int[] {7, 1, 14}, new int[] {7, 1, 14}, s, 1f, 1f));
        // DeepSeek-V3's absorbed decode shape: 128 heads over 512 + 64, bf16, pages of 64
        out.add(new MlaCase(rng.nextLong(), 128, 512, 64, 64, DType.BF16, DType.BF16, decode, !decode,
                decode ? one : new int[] {1, 1, 3}, new int[] {1, 65, 130}, (float) (1 / Math.sqrt(192)), 1f, 1f));
        return out;
    }

    /**
     * A random case of small dims (dCkv 32-128, dKpe 8-64) or, one in six, DeepSeek's (512, 64); any
     * page size.
     *
     * @param rng    the random source
     * @param decode decode or prefill
     * @return the case
     */
    public static MlaCase random(SplittableRandom rng, boolean decode) {
        int heads = new int[] {1, 2, 3, 4, 8, 16}[rng.nextInt(6)];
        // One case in six has DeepSeek's dims, the shape backends build dedicated kernels for.
        boolean deepSeek = rng.nextInt(6) == 0;
        int dCkv = deepSeek ? MlaHeadConfig.DEEPSEEK_CKV : new int[] {32, 48, 64, 96, 128}[rng.nextInt(5)];
        int dKpe = deepSeek ? MlaHeadConfig.DEEPSEEK_KPE : new int[] {8, 16, 32, 64}[rng.nextInt(4)];
        int pageSize = new int[] {1, 2, 3, 7, 8, 16, 32, 64, 128}[rng.nextInt(9)];
        DType q = Q[rng.nextInt(3)];
        int kvPick = rng.nextInt(4);
        DType kv = kvPick == 0 ? DType.FP8_E4M3 : kvPick == 1 ? DType.FP8_E5M2 : q;
        boolean fp8 = kvPick < 2;
        int batch = 1 + rng.nextInt(4);
        boolean causal = !decode && rng.nextBoolean();
        int[] qo = new int[batch];
        int[] kvl = new int[batch];
        for (int b = 0; b < batch; b++) {
            kvl[b] = rng.nextInt(8) == 0 ? 0 : 1 + rng.nextInt(100);
            qo[b] = decode ? 1 : causal ? rng.nextInt(Math.min(kvl[b], 12) + 1) : rng.nextInt(13);
        }
        float smScale = rng.nextBoolean() ? (float) (1 / Math.sqrt(dCkv / 4 + dKpe))
                : (float) (0.05 + 0.3 * rng.nextDouble());
        float[] scales = {0.5f, 0.75f, 1.25f, 2f};
        return new MlaCase(rng.nextLong(), heads, dCkv, dKpe, pageSize, q, kv, decode, causal, qo, kvl, smScale,
                fp8 ? scales[rng.nextInt(4)] : 1f, fp8 ? scales[rng.nextInt(4)] : 1f);
    }

    /**
     * Smaller cases: fewer requests, then fewer keys.
     *
     * @return candidates, each smaller than this case
     */
    public List<MlaCase> shrink() {
        List<MlaCase> out = new ArrayList<>();
        if (kvLens.length > 1) {
            out.add(new MlaCase(seed, heads, dCkv, dKpe, pageSize, qDtype, kvDtype, decode, causal,
                    Arrays.copyOf(qoLens, 1), Arrays.copyOf(kvLens, 1), smScale, ckvScale, kpeScale));
        }
        if (heads > 1) {
            out.add(new MlaCase(seed, 1, dCkv, dKpe, pageSize, qDtype, kvDtype, decode, causal, qoLens, kvLens,
                    smScale, ckvScale, kpeScale));
        }
        return out;
    }

    /**
     * This case as Java source, to replay it.
     *
     * @return a constructor call
     */
    public String toJava() {
        return "new MlaCase(" + seed + "L, " + heads + ", " + dCkv + ", " + dKpe + ", " + pageSize + ", DType."
                + qDtype + ", DType." + kvDtype + ", " + decode + ", " + causal + ", new int[] "
                + Arrays.toString(qoLens).replace('[', '{').replace(']', '}') + ", new int[] "
                + Arrays.toString(kvLens).replace('[', '{').replace(']', '}') + ", " + smScale + "f, " + ckvScale
                + "f, " + kpeScale + "f)";
    }

    // ------------------------------------------------------------------ values

    /**
     * The case's values, as stored (already rounded to their dtypes), and where each request's keys live.
     *
     * @param qNope    {@code [totalQ, H, dCkv]}
     * @param qPe      {@code [totalQ, H, dKpe]}
     * @param ckv      per request its latent rows {@code [kvLen, dCkv]}, stored values (before the scale)
     * @param kpe      per request its rotary rows {@code [kvLen, dKpe]}, stored values
     * @param pages    per request its page ids, in order
     * @param numPages pages of the pools (some referenced by no request)
     */
    public record Data(float[] qNope, float[] qPe, float[][] ckv, float[][] kpe, int[][] pages, int numPages) {
        /**
         * The latent pool {@code [numPages, pageSize, dCkv]}: each request's rows in its pages, NaN
         * in every slot no request owns (which must never matter, spec §2).
         *
         * @param c the case
         * @return the pool's values
         */
        public float[] ckvPool(MlaCase c) {
            return pool(c, ckv, c.dCkv);
        }

        /**
         * The rotary pool {@code [numPages, pageSize, dKpe]}, NaN likewise.
         *
         * @param c the case
         * @return the pool's values
         */
        public float[] kpePool(MlaCase c) {
            return pool(c, kpe, c.dKpe);
        }

        private float[] pool(MlaCase c, float[][] rows, int d) {
            float[] out = new float[numPages * c.pageSize * d];
            Arrays.fill(out, Float.NaN);
            for (int b = 0; b < rows.length; b++) {
                for (int j = 0; j < c.kvLens[b]; j++) {
                    int page = pages[b][j / c.pageSize];
                    System.arraycopy(rows[b], j * d, out, (page * c.pageSize + j % c.pageSize) * d, d);
                }
            }
            return out;
        }
    }

    /**
     * The values of this case, drawn from its seed: q in [-2, 2], ckv and kpe in [-1, 1] (stored
     * values of the cache's dtype), pages shuffled with two unreferenced pages among them.
     *
     * @return the values
     */
    public Data data() {
        SplittableRandom r = new SplittableRandom(seed);
        int t = totalQ();
        float[] qn = draw(r, t * heads * dCkv, 2, qDtype);
        float[] qp = draw(r, t * heads * dKpe, 2, qDtype);
        int batch = kvLens.length;
        float[][] ckv = new float[batch][];
        float[][] kpe = new float[batch][];
        int total = 0;
        for (int b = 0; b < batch; b++) {
            ckv[b] = draw(r, kvLens[b] * dCkv, 1, kvDtype);
            kpe[b] = draw(r, kvLens[b] * dKpe, 1, kvDtype);
            total += (kvLens[b] + pageSize - 1) / pageSize;
        }
        int numPages = total + 2;
        int[] perm = new int[numPages];
        for (int i = 0; i < numPages; i++) {
            perm[i] = i;
        }
        for (int i = numPages - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        int[][] pages = new int[batch][];
        int next = 0;
        for (int b = 0; b < batch; b++) {
            pages[b] = new int[(kvLens[b] + pageSize - 1) / pageSize];
            for (int i = 0; i < pages[b].length; i++) {
                pages[b][i] = perm[next++];
            }
        }
        return new Data(qn, qp, ckv, kpe, pages, numPages);
    }

    private static float[] draw(SplittableRandom r, int n, double range, DType dtype) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = SpecFormats.round(dtype, (r.nextDouble() * 2 - 1) * range);
        }
        return out;
    }

    @Override
    public String toString() {
        return "MlaCase[H " + heads + ", dCkv " + dCkv + ", dKpe " + dKpe + ", page " + pageSize + ", q " + qDtype
                + ", kv " + kvDtype + (decode ? ", decode" : causal ? ", causal prefill" : ", prefill") + ", qoLens "
                + Arrays.toString(qoLens) + ", kvLens " + Arrays.toString(kvLens) + ", smScale " + smScale
                + ", scales " + ckvScale + "/" + kpeScale + ", seed " + seed + "]";
    }
}
