package org.attn4j.cuda;

/**
 * The block shapes of the attention kernels: how many query items (row, head of the GQA group)
 * a block carries, its threads, and the shared memory it needs for a head dim.
 */
enum BlockShape {
    /** CUDA-core kernel, 8 warps of 1, 2 or 4 items each; every dtype pair and RoPE on the fly. */
    GENERIC_1(8, 256),
    GENERIC_2(16, 256),
    GENERIC_4(32, 256),
    /** Tensor Core kernel for decode: 4 warps (2 above D 128) share 16 items and split each tile's keys. */
    TC_DECODE(16, 128),
    /** Tensor Core kernel for prefill: 4 warps of 16 items, 64-key tiles (32 above D 128). */
    TC_PREFILL(64, 128),
    /**
     * Streaming decode (attention/decode_stream.cuh on CUDA cores, the default without grouping at the
     * head dims of {@link #streamAutoHeadDim}, or attention/decode_mma.cuh on Tensor Cores, the default
     * otherwise): one block of 4 warps per (request, KV head, key chunk), the whole GQA group at
     * once. The kernels take every head of the group (up to 16) whatever the item start, so a
     * block's items span the largest group: one work item per (request, key chunk).
     */
    STREAM_DECODE(16, 128),
    /**
     * FlashAttention-2-style prefill (attention/prefill_fa2.cuh, the default below compute capability 9.0):
     * one block of 4 warps per (request, query head, 64-row tile, key split), 64-key tiles, head
     * dim 64 or 128, K/V of q's type.
     */
    FA2_PREFILL(64, 128),
    /**
     * Hopper prefill (hopper/prefill_wgmma.cuh, the default on compute capability 9.0): one block per
     * (request, query head, 128-row tile, key split) of a copier warpgroup and two consumer
     * warpgroups on wgmma; 128-key tiles (64 at head dim 256), every head dim that is a multiple
     * of 8 up to 256 in the layout of 128 or 256 (of 64 with FP8 K/V, else {@link #WGMMA_PREFILL_WIDE}),
     * K/V of q's type or FP8 (dequantised by the copier; not above 128).
     */
    WGMMA_PREFILL(128, 384),
    /**
     * The Hopper prefill kernel in the layout of head dim 64 with K/V of q's type (wgConsumers in
     * hopper/prefill_wgmma.cuh): three consumer warpgroups, 192 query rows per block.
     */
    WGMMA_PREFILL_WIDE(192, 512);

    /** Query rows of one head per FA2 block (FA2_ROWS in attention/prefill_fa2.cuh). */
    static final int FA2_ROWS = 64;

    /** Warps and cp.async stages of the streaming decode kernel (STREAM_WARPS, STREAM_STAGES). */
    private static final int STREAM_WARPS = 4;
    private static final int STREAM_STAGES = 4;

    static final int GENERIC_TILE_KEYS = 32;

    final int itemsPerBlock;
    private final int threads;

    BlockShape(int itemsPerBlock, int threads) {
        this.itemsPerBlock = itemsPerBlock;
        this.threads = threads;
    }

    int threads(int headDim) {
        return this == TC_DECODE && headDim > 128 ? 64 : threads;
    }

    /** Tile buffers in flight (Tensor Core kernels). */
    int stages() {
        return this == TC_DECODE ? 3 : 2;
    }

    private int warpsAlongKeys(int headDim) {
        return this == TC_DECODE ? threads(headDim) / 32 : 1;
    }

    boolean tensorCores() {
        return this == TC_DECODE || this == TC_PREFILL;
    }

    /** Page ids a chunk of {@code keys} may touch (it need not start on a page boundary). */
    static int streamPageSlots(int keys, int pageSize) {
        return (int) Math.min(Integer.MAX_VALUE / 8, ((long) keys + pageSize - 1) / pageSize + 1);
    }

    /** Head dims the Tensor Core decode kernel (attention/decode_mma.cuh) is built for. */
    static boolean mmaDecodeHeadDim(int headDim) {
        return headDim == 64 || headDim == 80 || headDim == 96 || headDim == 128 || headDim == 256;
    }

    /**
     * The Tensor Core decode kernel's rings (mmaDecRingBytes in attention/decode_mma.cuh): 4 warps, 3
     * stages (2 for rows of 512 bytes and more), K and V of 16 keys in rows padded by 16 bytes. It
     * shares the streaming schedule.
     */
    static int mmaDecodeRingBytes(int headDim, int kvBytes) {
        int row = headDim * kvBytes;
        int stages = row >= 512 ? 2 : 3;
        return 4 * stages * 2 * 16 * (row + 16);
    }

    /** The Tensor Core decode kernel (attention/decode_mma.cuh) for the dtypes and a head dim it is built for. */
    static String mmaDecodeKernel(String qSuffix, String kvSuffix, int headDim) {
        return "dec_mma_" + qSuffix + "_" + kvSuffix + "_d" + headDim;
    }

    /** Head dims the CUDA-core streaming decode kernel (attention/decode_stream.cuh) is built for. */
    static boolean streamHeadDim(int headDim) {
        return headDim == 64 || headDim == 80 || headDim == 96 || headDim == 128 || headDim == 192
                || headDim == 256;
    }

    /**
     * Head dims at which the default choice streams decode without grouping on CUDA cores: those
     * where it was measured faster than the Tensor Core decode (docs/performance.md). At the other
     * head dims it is built for it streams only when decodeKernel=stream asks.
     */
    static boolean streamAutoHeadDim(int headDim) {
        return headDim == 64 || headDim == 96 || headDim == 128;
    }

    /**
     * Lanes that share one key row in the streaming decode kernel (StreamRow&lt;D&gt;::LPK): the
     * largest power of two up to 16 that divides the row's 16-byte vectors.
     */
    static int streamLanesPerKey(int headDim) {
        int vectors = headDim / 8;
        int lanes = 16;
        while (vectors % lanes != 0) {
            lanes /= 2;
        }
        return lanes;
    }

    /** 16-byte vectors of a key row each lane holds (StreamRow&lt;D&gt;::VPL). */
    static int streamVecsPerLane(int headDim) {
        return headDim / 8 / streamLanesPerKey(headDim);
    }

    /** Warp steps per cp.async stage (StreamRow&lt;D&gt;::STEPS): about 4 vectors a lane per stage. */
    static int streamSteps(int headDim) {
        int vpl = streamVecsPerLane(headDim);
        return vpl >= 4 ? 1 : 4 / vpl;
    }

    /** The streaming kernel's cp.async rings (StreamRow&lt;D&gt;::RING_TOTAL), before the chunk's page ids. */
    static int streamRingBytes(int headDim) {
        int warpStage = streamSteps(headDim) * streamVecsPerLane(headDim) * 32 * 16;
        return STREAM_WARPS * STREAM_STAGES * 2 * warpStage;
    }

    /** Largest GQA group the streaming kernel holds at a head dim (StreamRow&lt;D&gt;::MAX_GROUP). */
    static int streamMaxGroup(int headDim) {
        int vpl = streamVecsPerLane(headDim);
        return vpl == 1 ? 8 : vpl == 2 ? 4 : vpl <= 4 ? 2 : 1;
    }

    /** The streaming kernel for q's type, a head dim it is built for and a group up to its largest. */
    static String streamKernel(String qSuffix, int headDim, int group) {
        int g = group <= 1 ? 1 : group <= 2 ? 2 : group <= 4 ? 4 : 8;
        return "dec_stream_" + qSuffix + "_d" + headDim + "_g" + g;
    }

    static BlockShape generic(int maxItems) {
        return maxItems <= 8 ? GENERIC_1 : maxItems <= 16 ? GENERIC_2 : GENERIC_4;
    }

    /** Keys per tile. */
    int tileKeys(int headDim) {
        return switch (this) {
            case TC_DECODE -> 16 * warpsAlongKeys(headDim);
            case STREAM_DECODE -> STREAM_WARPS * streamSteps(headDim) * 32 / streamLanesPerKey(headDim);
            case TC_PREFILL, FA2_PREFILL -> headDim <= 128 ? 64 : 32;
            case WGMMA_PREFILL, WGMMA_PREFILL_WIDE -> headDim > 128 ? 64 : 128;
            default -> GENERIC_TILE_KEYS;
        };
    }

    /** Dynamic shared memory for one head dim of q, K, V and o. */
    int sharedBytes(int headDim, int kvBytes) {
        return sharedBytes(headDim, headDim, kvBytes);
    }

    /**
     * Dynamic shared memory, mirroring the kernels' layouts (attention/generic.cuh,
     * attention/tensor_core.cuh TcLayout), for head dims {@code dqk} of q and K and {@code dvo} of
     * V and o (equal on the streaming and query-tiled kernels). Tiles are sized by the larger.
     */
    int sharedBytes(int dqk, int dvo, int kvBytes) {
        int headDim = Math.max(dqk, dvo);
        int tk = tileKeys(headDim);
        if (this == STREAM_DECODE) {
            return streamRingBytes(headDim);
        }
        if (this == FA2_PREFILL) {
            return fa2SharedBytes(headDim);
        }
        if (wgmma()) {
            return wgmmaSharedBytes(headDim, kvBytes);
        }
        if (!tensorCores()) {
            return 4 * (itemsPerBlock * dqk + tk * (dqk + 1) + tk * dvo);
        }
        int dp = dqk + 8;
        int dpv = dvo + 8;
        int q = itemsPerBlock * dp * 2;
        int stage = tk * (dqk * kvBytes + 16 + dvo * kvBytes + 16);
        int conv = kvBytes == 2 ? 0 : tk * (dp + dpv) * 2;
        int merge = warpsAlongKeys(headDim) * itemsPerBlock * (dvo + 2) * 4;
        return q + Math.max(stages() * stage + conv, merge);
    }

    /** The kernel's name for these dtypes (see kernels.cu). */
    String kernel(String qSuffix, String kvSuffix, int headDim) {
        return switch (this) {
            case GENERIC_1 -> "attention_" + qSuffix + "_" + kvSuffix + "_ipw1";
            case GENERIC_2 -> "attention_" + qSuffix + "_" + kvSuffix + "_ipw2";
            case GENERIC_4 -> "attention_" + qSuffix + "_" + kvSuffix + "_ipw4";
            case TC_DECODE -> "tc_dec_" + qSuffix + "_" + kvSuffix + (headDim <= 128 ? "_d128" : "_d256");
            case STREAM_DECODE -> streamKernel(qSuffix, headDim, streamMaxGroup(headDim));
            case TC_PREFILL -> "tc_pre_" + qSuffix + "_" + kvSuffix + (headDim <= 128 ? "_d128" : "_d256");
            case FA2_PREFILL -> "fa2_" + qSuffix + "_d" + headDim;
            case WGMMA_PREFILL, WGMMA_PREFILL_WIDE -> qSuffix.equals(kvSuffix) && !wgmmaBuiltHeadDim(headDim)
                    ? "wg_" + qSuffix + "_r" + wgmmaLayoutHeadDim(headDim)
                    : "wg_" + qSuffix + (qSuffix.equals(kvSuffix) ? "" : "_" + kvSuffix) + "_d" + headDim;
        };
    }

    /** Whether this is a shape of the Hopper prefill kernel. */
    boolean wgmma() {
        return this == WGMMA_PREFILL || this == WGMMA_PREFILL_WIDE;
    }

    /**
     * The Hopper prefill kernel's shape for a head dim and K/V element size (wgConsumers in
     * hopper/prefill_wgmma.cuh): three consumers in the layout of 64 with K/V of q's type, else two.
     */
    static BlockShape wgmma(int headDim, int kvBytes) {
        return wgmmaLayoutHeadDim(headDim) == 64 && kvBytes == 2 ? WGMMA_PREFILL_WIDE : WGMMA_PREFILL;
    }

    /**
     * The wgmma kernel's layout (wgSharedBytes in hopper/prefill_wgmma.cuh): 2 KB of row offsets and
     * barriers, up to 1 KB to reach a 1024-byte boundary, the block's q rows, then the K and V tiles
     * (3 stages of 128 keys; 2 of 64 at head dim 256; 2 with FP8 K/V at 128), then FP8 K/V's
     * staging (two tiles of K and of V).
     */
    static int wgmmaSharedBytes(int headDim, int kvBytes) {
        int layout = wgmmaLayoutHeadDim(headDim);
        int keys = layout > 128 ? 64 : 128;
        int stages = layout > 128 || (kvBytes == 1 && layout > 64) ? 2 : 3;
        int staging = kvBytes == 1 ? 2 * 2 * keys * layout : 0;
        int rows = wgmma(headDim, kvBytes).itemsPerBlock;
        return 3072 + rows * layout * 2 + 2 * stages * keys * layout * 2 + staging;
    }

    /**
     * Head dims the wgmma kernel takes (kernels.cu WGMMA_PREFILL_Q): with K/V of q's type every
     * multiple of 8 up to 256 (those without a kernel of their own, {@link #wgmmaBuiltHeadDim}, on
     * the kernel of their layout that reads the head dim at run time); with FP8 K/V the built ones
     * up to 128.
     */
    static boolean wgmmaHeadDim(int headDim, boolean fp8) {
        if (fp8) {
            return wgmmaBuiltHeadDim(headDim) && headDim <= 128;
        }
        return headDim > 0 && headDim % 8 == 0 && headDim <= 256;
    }

    /**
     * Head dims with a wgmma kernel of their own ({@code wg_*_dN}, which spends no tensor work on
     * its layout's padding); the others run {@code wg_*_rLAYOUT}.
     */
    static boolean wgmmaBuiltHeadDim(int headDim) {
        return headDim == 64 || headDim == 80 || headDim == 96 || headDim == 128 || headDim == 192 || headDim == 256;
    }

    /** The wgmma kernel's layout for a head dim: the smallest of 64, 128 and 256 that holds it, zero-padded. */
    static int wgmmaLayoutHeadDim(int headDim) {
        return headDim <= 64 ? 64 : headDim <= 128 ? 128 : 256;
    }

    /** The FA2 kernel's layout (fa2SharedBytes): q rows, 2 stages of K and V, padded by 8 elements; 2 tiles of row offsets. */
    static int fa2SharedBytes(int headDim) {
        int row = (headDim + 8) * 2;
        return FA2_ROWS * row + 2 * 2 * 64 * row + 2 * 64 * 8;
    }
}
