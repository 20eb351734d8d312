package org.attn4j.conformance.cases;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.attn4j.conformance.cases.AttentionCase.DataKind;
import org.attn4j.conformance.cases.AttentionCase.MaskKind;
import org.attn4j.conformance.cases.AttentionCase.RopeKind;
import org.attn4j.kv.KvLayout;
import org.attn4j.options.PlanOptions;
import org.attn4j.tensor.DType;

/**
 * An attention case whose KV lengths sit on the boundaries of the split-KV chunk a backend
 * uses: every request holds {@code k * chunk - 1}, {@code k * chunk} or {@code k * chunk + 1}
 * keys, and the plan is made with {@link #planOptions()}.
 *
 * <p>Which chunk a backend uses (read from their schedules):
 * <ul>
 *   <li>{@code maxSplitChunk > 0}, deterministic or not: OpenCL cuts requests longer than the cap
 *       into chunks of exactly the cap (its own automatic chunk is never below 256, so a cap of 256
 *       or less always wins). CUDA's decode and CUDA-core/Tensor Core schedules use the cap rounded
 *       up to a multiple of 32 (the same rule: a cap of 256 or less wins); its query-tiled prefill
 *       (not deterministic) rounds the cap down to a multiple of 128, at least 128. Caps of 128 and
 *       256 therefore land on a boundary on every kernel; 16, 32 and 64 on OpenCL and CUDA decode.
 *   <li>deterministic, no cap: a fixed chunk, 1024 keys on OpenCL and 2048 on CUDA (its query-tiled
 *       prefill does not split deterministic plans).
 *   <li>automatic, no cap: a split only when the grid is small. OpenCL then cuts requests longer
 *       than 512 keys into chunks of {@code max(256, ceil(maxKv / splits))} keys, splits being
 *       {@code ceil(4 * computeUnits / workGroups)}: one request of one or two KV heads, one query
 *       tile, at most 1024 keys gives chunks of 256 on any device of two compute units or more.
 *       CUDA's smallest chunk is also 256 (its query-tiled prefill: 512).
 * </ul>
 * The reference backend never splits; there the property checks the same lengths against the
 * spec oracle. Printed with {@link #toJava()} as a ready-to-paste reproduction.
 *
 * <p>Immutable and thread-safe.
 *
 * @param kase          the attention problem (lengths on the boundaries)
 * @param ragged        batch prefill over ragged K/V instead of the paged cache
 * @param deterministic the plan's deterministic option
 * @param maxSplitChunk the plan's cap on keys per chunk (0: the backend's choice)
 * @param chunk         the chunk the lengths are placed around
 */
public record SplitCase(AttentionCase kase, boolean ragged, boolean deterministic, int maxSplitChunk, int chunk) {
    /** Caps drawn for {@code maxSplitChunk}. */
    static final int[] CAPS = {16, 32, 64, 128, 256};
    /** Fixed chunks of deterministic plans without a cap (OpenCL, CUDA). */
    static final int[] DETERMINISTIC_CHUNKS = {1024, 2048};
    /** The smallest chunk of automatic splits (OpenCL, CUDA decode). */
    static final int AUTOMATIC_CHUNK = 256;
    private static final int[] PAGE_SIZES = {1, 3, 7, 8, 16, 17, 32};

    /**
     * The options the plan is made with.
     *
     * @return {@link #deterministic} and {@link #maxSplitChunk} as plan options
     */
    public PlanOptions planOptions() {
        return new PlanOptions(deterministic, maxSplitChunk);
    }

    /**
     * Multiple {@code k} and offset {@code delta} of request b's length: {@code k * chunk + delta}.
     *
     * @param b a request
     * @return {@code {k, delta}}, {@code k} at least 1 and {@code delta} the rest (-1, 0 or 1 for
     *         the lengths this class makes)
     */
    public int[] boundary(int b) {
        int len = kase.kvLen(b);
        int k = Math.max(1, Math.round((float) len / chunk));
        return new int[] {k, len - k * chunk};
    }

    private static int[] lengths(int chunk, int[] k, int[] delta) {
        int[] kv = new int[k.length];
        for (int b = 0; b < k.length; b++) {
            kv[b] = k[b] * chunk + delta[b];
        }
        return kv;
    }

    private static AttentionCase.Builder base(int[] qo, int[] kv, int hq, int hkv, int d, long seed) {
        return new AttentionCase(qo, kv, hq, hkv, d, 16, KvLayout.NHD, false, 1, DType.F16, DType.F16, 1f, 1f, false,
                -1, 0f, Float.NaN, RopeKind.NONE, MaskKind.NONE, true, DataKind.UNIFORM, seed).toBuilder();
    }

    /**
     * Every mode once, each with the three offsets around one multiple of its chunk.
     *
     * @param rng the source of seeds
     * @return new cases
     */
    public static List<SplitCase> edgeCases(SplittableRandom rng) {
        List<SplitCase> out = new ArrayList<>();
        int[] around = {-1, 0, 1};
        // capped: 16 deterministic decode, 32 automatic causal prefill, 128 ragged, 256 with FP8, 64 with RoPE
        out.add(new SplitCase(base(new int[] {1, 1, 1}, lengths(16, new int[] {3, 3, 3}, around), 4, 1, 64,
                rng.nextLong()).build(), false, true, 16, 16));
        AttentionCase.Builder b = base(new int[] {3, 5, 1}, lengths(32, new int[] {2, 2, 2}, around), 4, 2,
                64, rng.nextLong());
        b.causal = true;
        b.pageSize = 7;
        b.layout = KvLayout.HND;
        out.add(new SplitCase(b.build(), false, false, 32, 32));
        out.add(new SplitCase(base(new int[] {2, 2, 2}, lengths(128, new int[] {2, 2, 2}, around), 2, 2, 32,
                rng.nextLong()).build(), true, true, 128, 128));
        b = base(new int[] {1, 1, 1}, lengths(256, new int[] {2, 2, 2}, around), 8, 2, 128, rng.nextLong());
        b.qDtype = DType.BF16;
        b.kvDtype = DType.FP8_E4M3;
        b.kScale = 0.5f;
        b.vScale = 2f;
        out.add(new SplitCase(b.build(), false, false, 256, 256));
        b = base(new int[] {4, 1, 2}, lengths(64, new int[] {1, 1, 1}, around), 2, 1, 64, rng.nextLong());
        b.rope = RopeKind.HALF;
        b.windowLeft = 64;
        b.mask = MaskKind.PACKED;
        out.add(new SplitCase(b.build(), false, true, 64, 64));
        // deterministic without a cap: around OpenCL's 1024 and CUDA's 2048
        out.add(new SplitCase(base(new int[] {1, 1, 1}, lengths(1024, new int[] {1, 1, 1}, around), 2, 1, 64,
                rng.nextLong()).build(), false, true, 0, 1024));
        out.add(new SplitCase(base(new int[] {1, 2, 1}, lengths(2048, new int[] {1, 1, 1}, around), 2, 1, 32,
                rng.nextLong()).build(), false, true, 0, 2048));
        // automatic: one request, a small grid, lengths around multiples of 256 past 512
        for (int[] kd : new int[][] {{3, -1}, {3, 0}, {3, 1}, {4, 0}}) {
            out.add(new SplitCase(base(new int[] {1}, new int[] {kd[0] * 256 + kd[1]}, 2, 1, 64,
                    rng.nextLong()).build(), false, false, 0, AUTOMATIC_CHUNK));
        }
        b = base(new int[] {4}, new int[] {768}, 4, 2, 64, rng.nextLong());
        b.causal = true;
        out.add(new SplitCase(b.build(), false, false, 0, AUTOMATIC_CHUNK));
        return out;
    }

    /**
     * A random case: capped (six times in ten, a cap from 16 to 256, deterministic or not),
     * deterministic without a cap, or automatic (one request, a small grid); each request's
     * length one short of, on or one past a multiple of the chunk; dtypes, paging, window, soft
     * cap, scale, RoPE and masks drawn as for other attention cases.
     *
     * @param rng the source of randomness
     * @return a new case
     */
    public static SplitCase random(SplittableRandom rng) {
        int mode = rng.nextInt(10);
        boolean capped = mode < 6;
        boolean automatic = mode >= 8;
        boolean deterministic = capped ? rng.nextBoolean() : !automatic;
        int chunk = capped ? CAPS[rng.nextInt(CAPS.length)]
                : automatic ? AUTOMATIC_CHUNK : DETERMINISTIC_CHUNKS[rng.nextInt(DETERMINISTIC_CHUNKS.length)];
        boolean decode = rng.nextInt(3) == 0;
        int batch = automatic ? 1 : 1 + rng.nextInt(capped ? 3 : 2);
        int hkv = automatic || chunk > 1024 ? 1 + rng.nextInt(2) : 1 + rng.nextInt(3);
        int g = new int[] {1, 2, 4}[rng.nextInt(3)];
        int[] dims = chunk >= 1024 ? new int[] {32, 64} : new int[] {32, 64, 128, 256};
        int d = dims[rng.nextInt(dims.length)];
        int[] k = new int[batch];
        int[] delta = new int[batch];
        int[] qo = new int[batch];
        for (int b = 0; b < batch; b++) {
            k[b] = automatic ? (hkv == 1 ? 3 + rng.nextInt(2) : 3) : chunk >= 1024 ? 1 + rng.nextInt(2)
                    : 1 + rng.nextInt(3);
            delta[b] = rng.nextInt(3) - 1;
            // automatic: all query items of a request in one work unit (16 is within every tile)
            qo[b] = decode ? 1 : 1 + rng.nextInt(automatic ? Math.max(1, 16 / g) : chunk >= 1024 ? 4 : 8);
        }
        AttentionCase.Builder b = base(qo, lengths(chunk, k, delta), hkv * g, hkv, d, rng.nextLong());
        b.qDtype = new DType[] {DType.F16, DType.BF16, DType.F32}[rng.nextInt(3)];
        b.kvDtype = switch (rng.nextInt(6)) {
            case 0 -> DType.FP8_E4M3;
            case 1 -> DType.FP8_E5M2;
            default -> b.qDtype;
        };
        if (b.kvDtype.isFp8()) {
            b.kScale = new float[] {0.5f, 1f, 2f}[rng.nextInt(3)];
            b.vScale = new float[] {0.5f, 1f, 2f}[rng.nextInt(3)];
        }
        b.pageSize = PAGE_SIZES[rng.nextInt(PAGE_SIZES.length)];
        b.layout = rng.nextBoolean() ? KvLayout.NHD : KvLayout.HND;
        b.combinedCache = rng.nextInt(4) == 0;
        b.extraPages = rng.nextInt(3);
        b.causal = !decode && rng.nextBoolean();
        int r = rng.nextInt(10);
        // a window ending at a chunk boundary, or anywhere
        b.windowLeft = r == 0 ? chunk - 1 + rng.nextInt(3) : r == 1 ? rng.nextInt(2 * chunk) : -1;
        b.softCap = rng.nextInt(6) == 0 ? 30f : 0f;
        b.smScale = rng.nextInt(6) == 0 ? 0.1f + 0.2f * rng.nextFloat() : Float.NaN;
        // float angles at thousands of positions differ from the double ones by more than F32's tolerance
        b.rope = b.qDtype == DType.F32 || rng.nextInt(4) != 0 ? RopeKind.NONE
                : RopeKind.values()[1 + rng.nextInt(RopeKind.values().length - 1)];
        b.mask = decode || rng.nextInt(4) != 0 ? MaskKind.NONE : MaskKind.values()[1 + rng.nextInt(3)];
        boolean ragged = !decode && rng.nextInt(3) == 0;
        return new SplitCase(b.build(), ragged, deterministic, capped ? chunk : 0, chunk);
    }

    /**
     * Smaller variants that keep every length on a boundary: fewer requests, a smaller multiple of
     * the chunk, a smaller cap (the same multiples and offsets of it), then fewer query rows,
     * heads, a smaller head dim and fewer options as for any attention case.
     *
     * @return the valid candidates, each simpler than this case in one respect
     */
    public List<SplitCase> shrink() {
        List<SplitCase> out = new ArrayList<>();
        int batch = kase.batchSize();
        if (batch > 1) {
            for (int b = 0; b < batch; b++) {
                out.add(with(kase.toBuilder().lengths(new int[] {kase.qoLen(b)}, new int[] {kase.kvLen(b)}),
                        chunk, maxSplitChunk));
            }
        }
        int[] k = new int[batch];
        int[] delta = new int[batch];
        for (int b = 0; b < batch; b++) {
            k[b] = boundary(b)[0];
            delta[b] = boundary(b)[1];
        }
        for (int b = 0; b < batch; b++) {
            if (k[b] > 1 && maxSplitChunk > 0 || k[b] > 1 && deterministic || k[b] > 3) {
                int[] fewer = k.clone();
                fewer[b]--;
                out.add(with(kase.toBuilder().lengths(kase.qoLens(), lengths(chunk, fewer, delta)), chunk,
                        maxSplitChunk));
            }
        }
        int smaller = maxSplitChunk > 0 ? Arrays.stream(CAPS).filter(x -> x < chunk).max().orElse(0)
                : deterministic && chunk > DETERMINISTIC_CHUNKS[0] ? DETERMINISTIC_CHUNKS[0] : 0;
        if (smaller > 0) {
            out.add(with(kase.toBuilder().lengths(kase.qoLens(), lengths(smaller, k, delta)), smaller,
                    maxSplitChunk > 0 ? smaller : 0));
        }
        for (AttentionCase c : AttentionCases.shrink(kase)) {
            if (Arrays.equals(c.kvLens(), kase.kvLens()) && c.batchSize() == batch) {
                out.add(new SplitCase(c, ragged, deterministic, maxSplitChunk, chunk));
            }
        }
        if (ragged) {
            out.add(new SplitCase(kase, false, deterministic, maxSplitChunk, chunk));
        }
        return out.stream().filter(x -> x != null && x.kase().invalidReason() == null).toList();
    }

    private SplitCase with(AttentionCase.Builder b, int newChunk, int newCap) {
        AttentionCase c = AttentionCases.repair(b, kase.isDecode());
        return c == null ? null : new SplitCase(c, ragged, deterministic, newCap, newChunk);
    }

    /**
     * The case as a Java expression that rebuilds it exactly.
     *
     * @return a {@code new SplitCase(...)} expression
     */
    public String toJava() {
        return "new SplitCase(" + kase.toJava() + ", " + ragged + ", " + deterministic + ", " + maxSplitChunk + ", "
                + chunk + ")";
    }

    @Override
    public String toString() {
        StringBuilder lens = new StringBuilder();
        for (int b = 0; b < kase.batchSize(); b++) {
            int[] kd = boundary(b);
            lens.append(b == 0 ? "" : ", ").append(kd[0]).append('x').append(chunk)
                    .append(kd[1] == 0 ? "" : kd[1] > 0 ? "+" + kd[1] : String.valueOf(kd[1]));
        }
        return (deterministic ? "deterministic" : "automatic") + (maxSplitChunk > 0 ? " maxSplitChunk="
                + maxSplitChunk : "") + (ragged ? " ragged" : "") + ", kv = [" + lens + "]: " + kase.describe();
    }
}
