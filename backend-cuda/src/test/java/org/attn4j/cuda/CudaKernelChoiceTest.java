package org.attn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Pattern;
import org.attn4j.cuda.CudaAttentionPlan.Kernel;
import org.attn4j.kv.PageTable;
import org.attn4j.options.AttentionOptions;
import org.attn4j.options.HeadConfig;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.options.PlanOptions;
import org.attn4j.spi.AttentionProblem;
import org.attn4j.spi.MlaProblem;
import org.attn4j.tensor.DType;
import org.junit.jupiter.api.Test;

/**
 * Which kernel family a plan picks: the fast kernels take every shape they are built for (no
 * problem a fast kernel can run falls to a slower one), and every kernel named here exists in
 * the fatbin for the dtypes and head dims that reach it.
 */
class CudaKernelChoiceTest {
    private static final int HOPPER = 90;
    private static final int AMPERE = 80;

    private static AttentionProblem problem(boolean decode, int hq, int hkv, int d, DType q, DType kv, int alignment) {
        int[] kvLens = {300, 17};
        int[] qo = decode ? new int[] {0, 1, 2} : new int[] {0, 40, 57};
        return new AttentionProblem(new HeadConfig(hq, hkv, d), qo,
                PageTable.of(16, ContiguousPages.of(kvLens, 16), kvLens), null, AttentionOptions.DEFAULT, null, null,
                decode, PlanOptions.DEFAULT, q, kv, alignment);
    }

    private static Kernel decode(int hq, int hkv, int d, DType q, DType kv) {
        return CudaAttentionPlan.kernelFor(problem(true, hq, hkv, d, q, kv, 16), CudaKernelSettings.DEFAULT, HOPPER);
    }

    private static Kernel prefill(int d, DType q, DType kv, int cc) {
        return CudaAttentionPlan.kernelFor(problem(false, 8, 2, d, q, kv, 16), CudaKernelSettings.DEFAULT, cc);
    }

    @Test
    void decodeWithoutGroupingStreamsOnCudaCoresWhereThatKernelIsBuilt() {
        for (int d : new int[] {64, 96, 128}) {
            assertTrue(BlockShape.streamAutoHeadDim(d) && BlockShape.streamHeadDim(d));
            assertEquals(Kernel.STREAM, decode(8, 8, d, DType.BF16, DType.BF16), "D " + d);
            assertEquals(Kernel.STREAM, decode(8, 8, d, DType.F16, DType.F16), "D " + d);
        }
        // Built, but slower than (80) or not yet measured against (192, 256) the default's other choice.
        assertEquals(Kernel.MMA_DECODE, decode(8, 8, 80, DType.BF16, DType.BF16));
        assertEquals(Kernel.MMA_DECODE, decode(8, 8, 256, DType.BF16, DType.BF16));
        assertEquals(Kernel.TENSOR_CORE, decode(8, 8, 192, DType.BF16, DType.BF16));
        assertEquals(Kernel.TENSOR_CORE, decode(8, 8, 112, DType.BF16, DType.BF16));
    }

    @Test
    void theStreamingRowMirrorsTheKernelsLayout() {
        // StreamRow<D>: lanes per key, vectors per lane, warp steps per stage, and the rings of 4 warps
        // x 4 stages x (K, V); largest group by the registers the q and o rows take.
        int[][] rows = {{64, 8, 1, 4, 8}, {80, 2, 5, 1, 1}, {96, 4, 3, 1, 2}, {128, 16, 1, 4, 8}, {192, 8, 3, 1, 2},
            {256, 16, 2, 2, 4}};
        for (int[] r : rows) {
            int d = r[0];
            assertEquals(r[1], BlockShape.streamLanesPerKey(d), "lanes, D " + d);
            assertEquals(r[2], BlockShape.streamVecsPerLane(d), "vectors per lane, D " + d);
            assertEquals(d, 8 * BlockShape.streamLanesPerKey(d) * BlockShape.streamVecsPerLane(d), "D " + d);
            assertEquals(r[3], BlockShape.streamSteps(d), "steps, D " + d);
            assertEquals(r[4], BlockShape.streamMaxGroup(d), "group, D " + d);
            int ring = 4 * 4 * 2 * r[3] * r[2] * 512;
            assertEquals(ring, BlockShape.streamRingBytes(d), "ring, D " + d);
            assertEquals(ring, BlockShape.STREAM_DECODE.sharedBytes(d, 2), "D " + d);
            // The warps' merged states reuse the rings; the chunk's page ids come after them.
            assertTrue(4 * BlockShape.streamMaxGroup(d) * (2 + d) * 4 <= ring, "D " + d);
            assertTrue(ring + 32 * 1024 <= 227 * 1024, "D " + d);
        }
    }

    @Test
    void everyDecodeKernelAPlanCanNameIsBuilt() throws IOException {
        // kernels.cu instantiates STREAM(QN, Q, D, G) one by one and STREAM_G8(QN, Q, D) for groups 1,
        // 2, 4 and 8, inside STREAM_Q, which runs for both 16-bit types.
        Path kernels = Path.of("src/main/cuda/kernels.cu");
        assumeTrue(Files.isRegularFile(kernels), "the kernel sources are not here (a bundle's test jar): the build checks this");
        String source = Files.readString(kernels);
        Set<String> built = new HashSet<>();
        var one = Pattern.compile("STREAM\\(QN, Q, (\\d+), (\\d+)\\)").matcher(source);
        while (one.find()) {
            built.add(one.group(1) + "_g" + one.group(2));
        }
        var eight = Pattern.compile("STREAM_G8\\(QN, Q, (\\d+)\\)").matcher(source);
        while (eight.find()) {
            for (int g : new int[] {1, 2, 4, 8}) {
                built.add(eight.group(1) + "_g" + g);
            }
        }
        assertTrue(source.contains("STREAM_Q(f16, F16)") && source.contains("STREAM_Q(bf16, BF16)"));
        for (int d = 8; d <= 256; d += 8) {
            if (!BlockShape.streamHeadDim(d)) {
                continue;
            }
            for (int group = 1; group <= BlockShape.streamMaxGroup(d); group++) {
                String name = BlockShape.streamKernel("bf16", d, group);
                assertTrue(built.contains(name.substring("dec_stream_bf16_d".length())), name + " is not built");
                assertEquals(Kernel.STREAM, CudaAttentionPlan.kernelFor(problem(true, 2 * group, 2, d, DType.BF16,
                        DType.BF16, 16), STREAM_FORCED, HOPPER), "D " + d + " group " + group);
            }
            int beyond = BlockShape.streamMaxGroup(d) + 1;
            // A forced kernel that cannot hold the problem gives way to the Tensor Core one.
            assertEquals(Kernel.TENSOR_CORE, CudaAttentionPlan.kernelFor(problem(true, 2 * beyond, 2, d, DType.BF16,
                    DType.BF16, 16), STREAM_FORCED, HOPPER), "D " + d + " group " + beyond);
        }
        // The Tensor Core decode: MMA_DEC(QN, Q, KN, K, D) inside MMA_DEC_D, for every dtype pair.
        Set<Integer> mmaBuilt = new HashSet<>();
        var mma = Pattern.compile("MMA_DEC\\(QN, Q, KN, K, (\\d+)\\)").matcher(source);
        while (mma.find()) {
            mmaBuilt.add(Integer.parseInt(mma.group(1)));
        }
        assertTrue(source.contains("MMA_DEC_KV(f16, F16)") && source.contains("MMA_DEC_KV(bf16, BF16)"));
        for (int d = 8; d <= 256; d += 8) {
            assertEquals(BlockShape.mmaDecodeHeadDim(d), mmaBuilt.contains(d), "dec_mma_*_d" + d);
        }
    }

    private static final CudaKernelSettings STREAM_FORCED = new CudaKernelSettings(CudaKernelSettings.DecodeKernel.STREAM,
            CudaKernelSettings.PrefillKernel.WGMMA, CudaKernelSettings.DEFAULT_STREAM_WAVES,
            CudaKernelSettings.MlaKernel.WGMMA);

    @Test
    void everyOtherDecodeHeadDimGroupAndFp8CacheRunsOnTheTensorCoreDecodeKernel() {
        for (int d : new int[] {64, 80, 96, 128, 256}) {
            for (int group : new int[] {1, 2, 4, 7, 8, 16}) {
                for (DType q : new DType[] {DType.F16, DType.BF16}) {
                    for (DType kv : new DType[] {q, DType.FP8_E4M3, DType.FP8_E5M2}) {
                        Kernel k = decode(2 * group, 2, d, q, kv);
                        if (group == 1 && kv == q && BlockShape.streamAutoHeadDim(d)) {
                            assertEquals(Kernel.STREAM, k);
                        } else {
                            assertEquals(Kernel.MMA_DECODE, k, "D " + d + " group " + group + " " + q + "/" + kv);
                            assertTrue(BlockShape.mmaDecodeHeadDim(d));
                        }
                    }
                }
            }
        }
    }

    @Test
    void decodeShapesNoStreamingKernelHoldsGoToTheGeneralKernels() {
        assertEquals(Kernel.TENSOR_CORE, decode(4, 2, 112, DType.BF16, DType.BF16));
        assertEquals(Kernel.TENSOR_CORE, decode(34, 2, 128, DType.BF16, DType.BF16));  // a group of 17
        assertEquals(Kernel.GENERIC, decode(4, 2, 128, DType.BF16, DType.F16));  // mixed 16-bit types
        assertEquals(Kernel.GENERIC, decode(4, 2, 128, DType.F32, DType.F32));
        assertEquals(Kernel.GENERIC, decode(4, 2, 40, DType.BF16, DType.BF16));
    }

    @Test
    void prefillTakesWgmmaOnHopperAtEveryHeadDimItIsBuiltFor() {
        for (int d : new int[] {64, 80, 96, 128, 192, 256}) {
            assertEquals(Kernel.QUERY_TILED, prefill(d, DType.BF16, DType.BF16, HOPPER), "D " + d);
            assertTrue(BlockShape.wgmmaSharedBytes(d, 2) <= 227 * 1024, "D " + d);
            // FP8 K/V runs on wgmma up to head dim 128.
            for (DType fp8 : new DType[] {DType.FP8_E4M3, DType.FP8_E5M2}) {
                assertEquals(d > 128 ? Kernel.TENSOR_CORE : Kernel.QUERY_TILED, prefill(d, DType.F16, fp8, HOPPER),
                        "D " + d + " " + fp8);
            }
            if (d <= 128) {
                assertTrue(BlockShape.wgmmaSharedBytes(d, 1) <= 227 * 1024, "D " + d);
            }
        }
        assertEquals(Kernel.QUERY_TILED, prefill(128, DType.F16, DType.F16, AMPERE));
        assertEquals(Kernel.TENSOR_CORE, prefill(96, DType.F16, DType.F16, AMPERE));
        assertEquals(Kernel.TENSOR_CORE, prefill(128, DType.BF16, DType.FP8_E4M3, AMPERE));
    }

    @Test
    void prefillTakesWgmmaOnHopperAtEveryMultipleOf8WithKvOfQsType() {
        for (int d = 8; d <= 256; d += 8) {
            assertEquals(Kernel.QUERY_TILED, prefill(d, DType.BF16, DType.BF16, HOPPER), "D " + d);
            int layout = BlockShape.wgmmaLayoutHeadDim(d);
            assertTrue(layout >= d && (layout == 64 || layout == 128 || layout == 256), "D " + d);
            assertTrue(BlockShape.wgmmaSharedBytes(d, 2) <= 227 * 1024, "D " + d);
            String name = BlockShape.WGMMA_PREFILL.kernel("f16", "f16", d);
            assertEquals(BlockShape.wgmmaBuiltHeadDim(d) ? "wg_f16_d" + d : "wg_f16_r" + layout, name, "D " + d);
        }
        assertEquals("wg_bf16_d192", BlockShape.WGMMA_PREFILL.kernel("bf16", "bf16", 192));
        assertEquals("wg_bf16_r256", BlockShape.WGMMA_PREFILL.kernel("bf16", "bf16", 160));
        assertEquals("wg_bf16_r64", BlockShape.WGMMA_PREFILL.kernel("bf16", "bf16", 40));
        // FP8 K/V keeps the kernels built for its head dims; the others take the general kernel.
        assertEquals(Kernel.TENSOR_CORE, prefill(112, DType.BF16, DType.FP8_E4M3, HOPPER));
        assertEquals(Kernel.GENERIC, prefill(40, DType.BF16, DType.FP8_E4M3, HOPPER));
        assertEquals(Kernel.GENERIC, prefill(36, DType.BF16, DType.BF16, HOPPER));
    }

    @Test
    void theLayoutOf64WithKvOfQsTypeRunsThreeConsumersOf64Rows() {
        for (int d = 8; d <= 256; d += 8) {
            BlockShape sixteen = BlockShape.wgmma(d, 2);
            assertEquals(d <= 64 ? BlockShape.WGMMA_PREFILL_WIDE : BlockShape.WGMMA_PREFILL, sixteen, "D " + d);
            assertEquals(128 * (sixteen.itemsPerBlock / 64 + 1), sixteen.threads(d), "D " + d);
            assertEquals(sixteen.kernel("bf16", "bf16", d), BlockShape.WGMMA_PREFILL.kernel("bf16", "bf16", d));
        }
        // FP8 K/V keeps two consumers: its copier converts, and holds the registers a third would take.
        assertEquals(BlockShape.WGMMA_PREFILL, BlockShape.wgmma(64, 1));
        assertEquals(192, BlockShape.WGMMA_PREFILL_WIDE.itemsPerBlock);
        // 192 q rows of 128 bytes, 3 stages of 128-key K and V tiles, 3 KB of head and alignment
        assertEquals(3072 + 192 * 128 + 6 * 128 * 128, BlockShape.wgmmaSharedBytes(64, 2));
        assertEquals(BlockShape.wgmmaSharedBytes(64, 2), BlockShape.wgmmaSharedBytes(40, 2));
    }

    @Test
    void paddedHeadDimsUseTheLayoutTheyRunIn() {
        assertEquals(BlockShape.wgmmaSharedBytes(128, 2), BlockShape.wgmmaSharedBytes(96, 2));
        assertEquals(BlockShape.wgmmaSharedBytes(128, 1), BlockShape.wgmmaSharedBytes(80, 1));
        // FP8 at 128: 2 stages of 16-bit tiles plus two tiles of K and V staging fill sm_90's 227 KB
        assertEquals(227 * 1024, BlockShape.wgmmaSharedBytes(128, 1));
        assertEquals("wg_bf16_e4m3_d96", BlockShape.WGMMA_PREFILL.kernel("bf16", "e4m3", 96));
        assertEquals("wg_bf16_d96", BlockShape.WGMMA_PREFILL.kernel("bf16", "bf16", 96));
        assertEquals(128, BlockShape.wgmmaLayoutHeadDim(96));
        assertEquals(64, BlockShape.wgmmaLayoutHeadDim(64));
        assertEquals(256, BlockShape.wgmmaLayoutHeadDim(256));
    }

    @Test
    void streamingDecodeGivesEachRequestAndKeyChunkOneBlockForEveryGroupItTakes() {
        // The streaming kernels compute the whole group in one block and ignore the item start: a
        // second item of the same (request, chunk) would read its K/V again and write the same rows.
        for (int group = 1; group <= 16; group++) {
            AttentionProblem p = problem(true, 2 * group, 2, 128, DType.BF16, DType.BF16, 16);
            AttentionSchedule s = AttentionSchedule.stream(p, AttentionSchedule.Device.HOPPER, 2, 2);
            int chunk = s.splitChunk();
            int expected = 0;
            for (int len : p.kvLens()) {
                expected += chunk == Integer.MAX_VALUE ? 1 : Math.max(1, (len + chunk - 1) / chunk);
            }
            assertEquals(expected, s.workItems(), "group " + group);
            for (int i = 0; i < s.workItems(); i++) {
                assertEquals(0, s.work()[AttentionSchedule.WORK_INTS * i + 1], "group " + group + " item " + i);
            }
        }
    }

    @Test
    void theDecodeRingMirrorsTheKernelsLayout() {
        // mmaDecRingBytes: 4 warps x stages x (K, V) x 16 keys x (row + 16 bytes); 2 stages from 512-byte rows
        assertEquals(4 * 3 * 2 * 16 * 272, BlockShape.mmaDecodeRingBytes(128, 2));
        assertEquals(4 * 3 * 2 * 16 * 144, BlockShape.mmaDecodeRingBytes(128, 1));
        assertEquals(4 * 2 * 2 * 16 * 528, BlockShape.mmaDecodeRingBytes(256, 2));
        assertTrue(BlockShape.mmaDecodeRingBytes(256, 2) + 32 * 1024 <= 227 * 1024);
        assertEquals("dec_mma_bf16_e4m3_d96", BlockShape.mmaDecodeKernel("bf16", "e4m3", 96));
    }

    @Test
    void vAndOOfAnotherHeadDimRunOnTheKernelsThatReadVWithItsOwnDimAndStrides() {
        int[][] pairs = {{192, 128}, {128, 192}, {96, 64}, {64, 128}, {256, 128}, {48, 32}};
        for (boolean decode : new boolean[] {true, false}) {
            for (int[] pair : pairs) {
                int[] kvLens = {300, 17};
                int[] qo = decode ? new int[] {0, 1, 2} : new int[] {0, 40, 57};
                for (DType kv : new DType[] {DType.BF16, DType.FP8_E4M3}) {
                    AttentionProblem p = new AttentionProblem(new HeadConfig(8, 2, pair[0], pair[1]), qo,
                            PageTable.of(16, ContiguousPages.of(kvLens, 16), kvLens), null, AttentionOptions.DEFAULT,
                            null, null, decode, PlanOptions.DEFAULT, DType.BF16, kv, 16);
                    for (int cc : new int[] {AMPERE, HOPPER}) {
                        assertEquals(Kernel.TENSOR_CORE, CudaAttentionPlan.kernelFor(p, CudaKernelSettings.DEFAULT, cc),
                                "Dqk " + pair[0] + ", Dvo " + pair[1] + ", " + kv + (decode ? " decode" : " prefill"));
                    }
                }
            }
        }
    }

    @Test
    void sharedMemoryOfTwoHeadDimsMirrorsTheKernelsLayout() {
        // TcLayout: q rows (Dqk + 8), K then V rows of each stage (D * bytes + 16 each), FP8's
        // converted rows (D + 8 each), the warps' merge area (Dvo + 2 floats per item).
        int q = 64 * (192 + 8) * 2;
        int stage = 32 * (192 * 2 + 16 + 128 * 2 + 16);
        assertEquals(q + Math.max(2 * stage, 64 * (128 + 2) * 4), BlockShape.TC_PREFILL.sharedBytes(192, 128, 2));
        int stage8 = 32 * (192 + 16 + 128 + 16);
        int conv = 32 * (200 + 136) * 2;
        assertEquals(q + Math.max(2 * stage8 + conv, 64 * (128 + 2) * 4),
                BlockShape.TC_PREFILL.sharedBytes(192, 128, 1));
        assertEquals(BlockShape.TC_PREFILL.sharedBytes(128, 2), BlockShape.TC_PREFILL.sharedBytes(128, 128, 2));
        // Generic: q [items][Dqk], K [tile][Dqk + 1], V [tile][Dvo], floats.
        assertEquals(4 * (32 * 192 + 32 * 193 + 32 * 128), BlockShape.GENERIC_4.sharedBytes(192, 128, 2));
    }

    private static MlaProblem mla(MlaHeadConfig heads, DType q, DType kv) {
        int[] kvLens = {300, 17};
        return new MlaProblem(heads, new int[] {0, 1, 2}, PageTable.of(64, ContiguousPages.of(kvLens, 64), kvLens),
                false, 0.07f, true, false, q, kv);
    }

    @Test
    void theHopperMlaKernelTakesDeepSeeksDimsInOneSixteenBitTypeOnHopper() {
        CudaKernelSettings wgmma = new CudaKernelSettings(CudaKernelSettings.DecodeKernel.AUTO,
                CudaKernelSettings.PrefillKernel.WGMMA, CudaKernelSettings.DEFAULT_STREAM_WAVES,
                CudaKernelSettings.MlaKernel.WGMMA);
        CudaKernelSettings mma = new CudaKernelSettings(CudaKernelSettings.DecodeKernel.AUTO,
                CudaKernelSettings.PrefillKernel.WGMMA, CudaKernelSettings.DEFAULT_STREAM_WAVES,
                CudaKernelSettings.MlaKernel.MMA);
        MlaHeadConfig deepSeek = MlaHeadConfig.deepSeek(128);
        for (DType t : new DType[] {DType.BF16, DType.F16}) {
            assertTrue(CudaMlaPlan.hopperFits(mla(deepSeek, t, t), wgmma, HOPPER));
            assertFalse(CudaMlaPlan.hopperFits(mla(deepSeek, t, t), wgmma, AMPERE), "sm_80 has no wgmma");
            assertTrue(CudaMlaPlan.hopperFits(mla(deepSeek, t, t), CudaKernelSettings.DEFAULT, HOPPER),
                    "the default setting takes the Hopper kernel");
            assertFalse(CudaMlaPlan.hopperFits(mla(deepSeek, t, t), mma, HOPPER), "mlaKernel=mma keeps mma.sync");
            assertFalse(CudaMlaPlan.hopperFits(mla(deepSeek, t, DType.FP8_E4M3), wgmma, HOPPER), "FP8 cache");
            assertFalse(CudaMlaPlan.hopperFits(mla(new MlaHeadConfig(16, 256, 64), t, t), wgmma, HOPPER), "dims");
        }
        assertFalse(CudaMlaPlan.hopperFits(mla(deepSeek, DType.F16, DType.BF16), wgmma, HOPPER), "mixed types");
        assertTrue(CudaMlaPlan.WG_SHARED_BYTES <= 227 * 1024, "MLA_WG_SMEM fits sm_90's 227 KB");
    }

    @Test
    void mlaTensorCopiesTakeBoxesThatNeverCrossAPageOrAChunkStart() {
        int none = Integer.MAX_VALUE;
        assertEquals(64, CudaMlaPlan.tensorBoxRows(64, 10, 64 * 512, 64 * 64, none));
        assertEquals(64, CudaMlaPlan.tensorBoxRows(128, 10, 128 * 512, 128 * 64, none), "at most a tile's keys");
        assertEquals(16, CudaMlaPlan.tensorBoxRows(16, 10, 16 * 512, 16 * 64, none));
        assertEquals(8, CudaMlaPlan.tensorBoxRows(8, 10, 8 * 512, 8 * 64, none));
        assertEquals(32, CudaMlaPlan.tensorBoxRows(64, 10, 64 * 512, 64 * 64, 1056), "chunks start on 32 keys");
        assertEquals(0, CudaMlaPlan.tensorBoxRows(64, 10, 64 * 512, 64 * 64, 1060), "no power of two of 8 divides");
        for (int pageSize : new int[] {1, 2, 4, 7, 24, 48, 96}) {
            assertEquals(0, CudaMlaPlan.tensorBoxRows(pageSize, 10, pageSize * 512L, pageSize * 64L, none),
                    "page " + pageSize);
        }
        assertEquals(0, CudaMlaPlan.tensorBoxRows(64, 0, 64 * 512, 64 * 64, none), "no pages");
        assertEquals(0, CudaMlaPlan.tensorBoxRows(64, 10, 0, 64 * 64, none), "aliased pages");
        for (int pageSize = 1; pageSize <= 512; pageSize++) {
            for (int chunk : new int[] {none, 32, 64, 96, 160, 4096}) {
                int box = CudaMlaPlan.tensorBoxRows(pageSize, 10, pageSize * 512L, pageSize * 64L, chunk);
                if (box > 0) {
                    assertEquals(0, pageSize % box, "a box within a page: page " + pageSize + ", box " + box);
                    assertTrue(chunk == none || chunk % box == 0, "chunk " + chunk + ", box " + box);
                    assertTrue(box >= 8 && box <= 64, "box " + box);
                }
            }
        }
    }
}
