package org.attn4j.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.attn4j.cuda.driver.CudaException;
import org.attn4j.cuda.driver.TensorMapEncoder;
import org.attn4j.error.InvalidArgumentException;
import org.attn4j.kv.PagedMlaCache;
import org.attn4j.options.MlaHeadConfig;
import org.attn4j.spi.MlaKernelPlan;
import org.attn4j.spi.MlaProblem;
import org.attn4j.spi.RegionArena;
import org.attn4j.tensor.DType;
import org.attn4j.tensor.Tensor;

/**
 * A planned multi-head latent attention (spec §13) on CUDA: the kernel, chosen from the dtypes and
 * dims, and its schedule, written with the page table into one arena region by a copy that does
 * not wait. {@link #run} only queues launches: the attention kernel, then, for split requests,
 * the merge.
 *
 * <p>The Tensor Core kernel ({@code mla_tc_*}) takes q in f16 or bf16 over a cache of q's type or
 * FP8, latent dims that are multiples of 32 up to 512 and rotary dims that are multiples of 16,
 * with cache rows on 16-byte boundaries. On compute capability 9.0 (unless the setting
 * {@code mlaKernel=mma} says otherwise), DeepSeek's dims (512 and 64) with q and cache of one 16-bit type run on the
 * Hopper kernel ({@code mla_wg_*}, hopper/mla_wgmma.cuh) instead, on the same schedule, where q
 * and both pools also start on 16 bytes and their scales are equal. Everything else runs on the
 * CUDA-core kernel ({@code mla_generic_*}), a warp per (row, head).
 */
final class CudaMlaPlan implements MlaKernelPlan {
    /** MLA_MAX_CKV in attention/mla.cuh: the latent dim both kernels' registers hold at most. */
    static final int MAX_CKV = 512;
    /** 32 lanes times MLA_GENERIC_LANE_DP: the rotary dim the CUDA-core kernel holds at most. */
    static final int MAX_KPE = 256;
    /** Warps (one item each) per block of the CUDA-core kernel and of the merge. */
    private static final int GENERIC_WARPS = 8;

    private final CudaSession session;
    private final MlaProblem problem;
    private final boolean tensorCore;
    private final boolean hopper;
    private final MlaSchedule schedule;
    private final int sharedBytes;
    private final CudaPlanLayout layout;
    private final RegionArena.Region<Long> region;
    private final long base;
    private final int qoIndptr;
    private final int kvIndptr;
    private final int kvIndices;
    private final int kvLens;
    private final int rowRequest;
    private final int work;
    private final int merge;
    private final int partialO;
    private final int partialLse;
    private boolean closed;
    /** The descriptors of the last cache run with, re-encoded only when the cache's geometry or addresses change. */
    private TensorMaps lastMaps;

    /** What a cache's descriptors are encoded from: the pools' first rows and their geometry. */
    private record PoolGeometry(long ckv, long kpe, long ckvPageStride, long kpePageStride, int numPages,
                                int pageSize) {
    }

    /** The Hopper kernel's MlaTensorMaps bytes for one geometry. */
    private record TensorMaps(PoolGeometry from, byte[] bytes) {
    }

    CudaMlaPlan(CudaSession session, MlaProblem problem) {
        this.session = session;
        this.problem = problem;
        MlaHeadConfig h = problem.heads();
        if (h.headDimCkv() > MAX_CKV || h.headDimKpe() > MAX_KPE) {
            throw new InvalidArgumentException("heads", "the CUDA backend's MLA kernels hold latent dims up to "
                    + MAX_CKV + " and rotary dims up to " + MAX_KPE + "; actual " + h.headDimCkv() + " and "
                    + h.headDimKpe());
        }
        // Both kernels number (row, head) items with ints.
        long items = (long) problem.totalQ() * h.numHeads();
        if (items > Integer.MAX_VALUE) {
            throw InvalidArgumentException.expected("qoIndptr", "at most 2^31 - 1 query rows x heads on the CUDA "
                    + "backend", items);
        }
        this.sharedBytes = tensorCoreSharedBytes(h);
        this.tensorCore = tensorCoreFits(problem)
                && sharedBytes <= session.deviceInfo().maxSharedPerBlockOptin();
        this.hopper = tensorCore && hopperFits(problem, session.kernelSettings(), session.deviceInfo().computeCapability())
                && WG_SHARED_BYTES <= session.deviceInfo().maxSharedPerBlockOptin();
        this.schedule = MlaSchedule.of(problem, session.deviceInfo().multiprocessors());
        CudaPlanLayout l = new CudaPlanLayout(CudaSession.ARENA_ALIGNMENT);
        this.qoIndptr = l.add(CudaPlanLayout.ints(problem.qoIndptr()));
        this.kvIndptr = l.add(CudaPlanLayout.ints(problem.pageTable().indptr()));
        this.kvIndices = l.add(CudaPlanLayout.ints(problem.pageTable().indices()));
        this.kvLens = l.add(CudaPlanLayout.ints(problem.pageTable().kvLens()));
        this.rowRequest = l.add(CudaPlanLayout.ints(rowRequests(problem)));
        this.work = l.add(CudaPlanLayout.ints(schedule.work()));
        this.merge = l.add(CudaPlanLayout.ints(schedule.merge()));
        this.partialO = l.scratch(schedule.slots() * h.headDimCkv() * 4);
        this.partialLse = l.scratch(schedule.slots() * 4);
        this.layout = l;
        this.region = session.arena().take(l.total());
        this.base = region.chunk() + region.offset();
        session.context().copyToDeviceAsync(base, l.upload());
    }

    /** Whether the dtypes and dims suit the Tensor Core kernel (the cache's alignment is checked at run). */
    static boolean tensorCoreFits(MlaProblem p) {
        DType q = p.qDtype();
        DType kv = p.kvDtype();
        MlaHeadConfig h = p.heads();
        boolean sixteen = q == DType.F16 || q == DType.BF16;
        return sixteen && (kv == q || kv == DType.FP8_E4M3 || kv == DType.FP8_E5M2)
                && h.headDimCkv() % 32 == 0 && h.headDimCkv() <= MAX_CKV && h.headDimKpe() % 16 == 0;
    }

    /** Whether the settings, the device and the problem's dtypes and dims suit the Hopper kernel. */
    static boolean hopperFits(MlaProblem p, CudaKernelSettings settings, int computeCapability) {
        DType q = p.qDtype();
        MlaHeadConfig h = p.heads();
        return settings.mla() == CudaKernelSettings.MlaKernel.WGMMA && computeCapability == 90
                && (q == DType.F16 || q == DType.BF16) && p.kvDtype() == q
                && h.headDimCkv() == WG_CKV && h.headDimKpe() == WG_KPE;
    }

    /** MLA_WG_DC and MLA_WG_DP in hopper/mla_wgmma.cuh. */
    static final int WG_CKV = 512;
    static final int WG_KPE = 64;
    /** MLA_WG_NO_ROW in hopper/mla_wgmma.cuh: the largest row offset, in 16-byte units, means "no row". */
    private static final long WG_NO_ROW = 0xFFFFFFFFL;
    /** MLA_WG_THREADS in hopper/mla_wgmma.cuh: a copier and two consumer warpgroups. */
    static final int WG_THREADS = 384;
    /** sizeof(MlaTensorMaps) in hopper/mla_wgmma.cuh: two descriptors and the box's rows, aligned to 64. */
    static final int WG_MAPS_BYTES = 320;
    /** MLA_WG_KEYS: a tile's keys, the most a box holds. */
    private static final int WG_KEYS = 64;
    /** Columns of a box: one 128-byte swizzled slab of 16-bit values. */
    private static final int WG_BOX_COLUMNS = 64;
    /** MLA_WG_SMEM: a 2 KB head, 1 KB of alignment, Q and two 64-key tiles of 576 columns, P. */
    static final int WG_SHARED_BYTES = 2048 + 1024 + 3 * 64 * (WG_CKV + WG_KPE) * 2 + 64 * 64 * 2;

    /**
     * Beyond the Tensor Core kernel's 16-byte cache rows (checked first): the Hopper kernel copies
     * q rows by 16 bytes too, addresses cache rows from 16-byte aligned bases by 32-bit counts of
     * 16 bytes, and its one logit scale needs equal latent and rotary scales.
     */
    private static boolean hopperRuns(Tensor qNope, Tensor qPe, PagedMlaCache c) {
        long eb = c.dtype().byteSize();
        return CudaSession.address(c.ckv()) % 16 == 0 && CudaSession.address(c.kpe()) % 16 == 0
                && c.ckvIndex(c.numPages(), 0) * eb / 16 < WG_NO_ROW && c.kpeIndex(c.numPages(), 0) * eb / 16 < WG_NO_ROW
                && c.ckvScale() == c.kpeScale() && qRowsOn16Bytes(qNope) && qRowsOn16Bytes(qPe);
    }

    private static boolean qRowsOn16Bytes(Tensor q) {
        long[] st = q.strides();
        long eb = q.dtype().byteSize();
        return CudaSession.address(q) % 16 == 0 && st[0] * eb % 16 == 0 && st[1] * eb % 16 == 0;
    }

    /** Threads of a Tensor Core block: MLA_THREADS in attention/mla.cuh. */
    static final int TC_THREADS = 256;

    /** MlaSmem::bytes() in attention/mla.cuh: Q, the key tiles in flight, and each thread's 16 swapped scores. */
    static int tensorCoreSharedBytes(MlaHeadConfig h) {
        long rowK = (long) h.keyDim() + 8;
        long halves = MlaSchedule.ITEMS * rowK + (long) MlaSchedule.STAGES * MlaSchedule.KEYS * rowK;
        return (int) Math.min(Integer.MAX_VALUE, 2 * halves + 4L * TC_THREADS * 16);
    }

    private static int[] rowRequests(MlaProblem p) {
        int[] out = new int[p.totalQ()];
        for (int b = 0; b < p.batchSize(); b++) {
            for (int r = p.qoStart(b); r < p.qoStart(b) + p.qoLen(b); r++) {
                out[r] = b;
            }
        }
        return out;
    }

    /** The Tensor Core kernel stages cache rows by 16-byte copies: both pools' rows must start on 16 bytes. */
    private static boolean rowsOn16Bytes(PagedMlaCache c) {
        long eb = c.dtype().byteSize();
        return (CudaSession.address(c.ckv()) + c.ckvOffset() * eb) % 16 == 0
                && (CudaSession.address(c.kpe()) + c.kpeOffset() * eb) % 16 == 0
                && c.ckvPageStride() * eb % 16 == 0 && c.kpePageStride() * eb % 16 == 0;
    }

    /**
     * Rows of a box of tensor copies for this cache and schedule, or 0 for none: the page size where
     * it is a power of two of 8 or more (then a box never crosses a page), halved until it divides
     * the schedule's chunks (so boxes start on page boundaries), and at most a tile's keys.
     */
    static int tensorBoxRows(int pageSize, int numPages, long ckvPageStride, long kpePageStride, int splitChunk) {
        if (pageSize < 8 || Integer.bitCount(pageSize) != 1 || numPages < 1 || ckvPageStride <= 0
                || kpePageStride <= 0) {
            return 0;
        }
        int box = Math.min(pageSize, WG_KEYS);
        while (splitChunk != Integer.MAX_VALUE && splitChunk % box != 0) {
            box /= 2;
        }
        return box >= 8 ? box : 0;
    }

    /**
     * MlaTensorMaps for the cache: descriptors of both pools as (column, slot, page) with boxes of
     * 64 columns by {@link #tensorBoxRows} slots, or boxRows 0 (every row by cp.async) where the
     * layout does not allow them or the driver cannot encode them.
     */
    private byte[] tensorMaps(PagedMlaCache c) {
        long eb = c.dtype().byteSize();
        long ckv = CudaSession.address(c.ckv()) + c.ckvOffset() * eb;
        long kpe = CudaSession.address(c.kpe()) + c.kpeOffset() * eb;
        PoolGeometry g = new PoolGeometry(ckv, kpe, c.ckvPageStride(), c.kpePageStride(), c.numPages(), c.pageSize());
        TensorMaps last = lastMaps;
        if (last != null && last.from().equals(g)) {
            return last.bytes();
        }
        byte[] out = new byte[WG_MAPS_BYTES];
        int box = tensorBoxRows(c.pageSize(), c.numPages(), c.ckvPageStride(), c.kpePageStride(),
                schedule.splitChunk());
        TensorMapEncoder encoder = TensorMapEncoder.get();
        if (box > 0 && encoder != null) {
            try {
                // The driver encodes for the current context, which a caller's thread may not have yet.
                session.context().makeCurrent();
                int[] boxDims = {WG_BOX_COLUMNS, box, 1};
                byte[] ckvMap = encoder.encode16(ckv, new long[] {WG_CKV, c.pageSize(), c.numPages()},
                        new long[] {WG_CKV * eb, c.ckvPageStride() * eb}, boxDims, TensorMapEncoder.SWIZZLE_128B,
                        TensorMapEncoder.L2_PROMOTION_256B);
                byte[] kpeMap = encoder.encode16(kpe, new long[] {WG_KPE, c.pageSize(), c.numPages()},
                        new long[] {WG_KPE * eb, c.kpePageStride() * eb}, boxDims, TensorMapEncoder.SWIZZLE_128B,
                        TensorMapEncoder.L2_PROMOTION_256B);
                System.arraycopy(ckvMap, 0, out, 0, TensorMapEncoder.DESCRIPTOR_BYTES);
                System.arraycopy(kpeMap, 0, out, TensorMapEncoder.DESCRIPTOR_BYTES, TensorMapEncoder.DESCRIPTOR_BYTES);
                ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putInt(2 * TensorMapEncoder.DESCRIPTOR_BYTES, box);
            } catch (CudaException e) {
                // Still correct without them: every row comes by cp.async.
                System.getLogger(CudaMlaPlan.class.getName()).log(System.Logger.Level.WARNING,
                        "MLA tensor copies disabled for this cache: " + e.getMessage());
                Arrays.fill(out, (byte) 0);
            }
        }
        lastMaps = new TensorMaps(g, out);
        return out;
    }

    private long at(int index) {
        return base + layout.offset(index);
    }

    @Override
    public void run(Tensor qNope, Tensor qPe, PagedMlaCache cache, Tensor o, Tensor lse) {
        if (closed) {
            throw new IllegalStateException("plan is closed");
        }
        MlaHeadConfig h = problem.heads();
        long totalItems = (long) problem.totalQ() * h.numHeads();
        if (totalItems == 0) {
            return;
        }
        boolean tc = tensorCore && rowsOn16Bytes(cache);
        long[] qn = qNope.strides();
        long[] qp = qPe.strides();
        long[] os = o.strides();
        int pageSize = cache.pageSize();
        byte[] params = new StructWriter(248)
                .ptr(CudaSession.address(qNope)).ptr(CudaSession.address(qPe))
                .ptr(CudaSession.address(cache.ckv())).ptr(CudaSession.address(cache.kpe()))
                .ptr(CudaSession.address(o)).ptr(lse == null ? 0 : CudaSession.address(lse))
                .ptr(at(qoIndptr)).ptr(at(kvIndptr)).ptr(at(kvIndices)).ptr(at(kvLens)).ptr(at(work))
                .ptr(at(rowRequest)).ptr(at(merge)).ptr(at(partialO)).ptr(at(partialLse))
                .i64(qn[0]).i64(qn[1]).i64(qp[0]).i64(qp[1]).i64(os[0]).i64(os[1])
                .i64(cache.ckvOffset()).i64(cache.kpeOffset()).i64(cache.ckvPageStride()).i64(cache.kpePageStride())
                .i32(h.numHeads()).i32(h.headDimCkv()).i32(h.headDimKpe()).i32(pageSize)
                .i32(CudaAttentionPlan.pageShift(pageSize)).i32(problem.causal() ? 1 : 0)
                .f32(problem.smScale()).f32(cache.ckvScale()).f32(cache.kpeScale())
                .i32((int) totalItems).i32(mergeBlocks())
                .bytes();
        String types = CudaDtypes.suffix(qNope.dtype()) + "_" + CudaDtypes.suffix(cache.dtype());
        if (!tc) {
            int blocks = Math.toIntExact((totalItems + GENERIC_WARPS - 1) / GENERIC_WARPS);
            session.kernels().get("mla_generic_" + types).launch(blocks, 1, 32 * GENERIC_WARPS, 0, params);
            return;
        }
        if (schedule.workItems() > 0) {
            if (hopper && hopperRuns(qNope, qPe, cache)) {
                session.kernels().get("mla_wg_" + CudaDtypes.suffix(qNope.dtype()), WG_SHARED_BYTES)
                        .launch(schedule.workItems(), 1, WG_THREADS, WG_SHARED_BYTES, params, tensorMaps(cache));
            } else {
                session.kernels().get("mla_tc_" + types, sharedBytes).launch(schedule.workItems(), 1, TC_THREADS,
                        sharedBytes, params);
            }
        }
        if (schedule.mergedRequests() > 0) {
            int blocks = Math.multiplyExact(mergeBlocks(), schedule.mergedRequests());
            session.kernels().get("mla_merge_" + CudaDtypes.suffix(qNope.dtype())).launch(blocks, 1,
                    32 * GENERIC_WARPS, 0, params);
        }
    }

    /** Blocks of the merge per split request: a warp per item of the largest. */
    private int mergeBlocks() {
        return Math.max(1, (schedule.maxMergeItems() + GENERIC_WARPS - 1) / GENERIC_WARPS);
    }

    @Override
    public String describe() {
        String split = schedule.splitChunk() == Integer.MAX_VALUE ? "no split" : "split chunk " + schedule.splitChunk();
        return "cuda MLA " + (hopper ? "Hopper warpgroup-MMA kernel where q and the cache allow, else " : "")
                + (tensorCore ? "Tensor Core kernel (" + MlaSchedule.ITEMS + " items per block): "
                + schedule.workItems() + " work items, " + split + ", " + schedule.mergedRequests()
                + " merged requests" : "CUDA-core kernel (a warp per row and head)") + ", " + layout.total()
                + " bytes of arena";
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        session.arena().give(region);
    }
}
