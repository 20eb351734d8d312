// Pieces the query-tiled prefill kernels (prefill_fa2.cuh, hopper/prefill_wgmma.cuh) share.
#pragma once
#include "params.cuh"
#include "state.cuh"
#include "variant.cuh"
#include "../primitives/mma_sync.cuh"

namespace attn4j {

// A query-tiled prefill block's keys when its request is split (partialBase >= 0): the block's
// range [kvStart, kvEnd) cut to split s of p.kvChunk keys. Rows see the rest in other blocks.
__device__ __forceinline__ void prefillSplitRange(const AttnParams& p, int s, int partialBase, int& kvStart,
                                                  int& kvEnd) {
    if (partialBase < 0) return;
    const long long lo = (long long) s * p.kvChunk;
    kvStart = (int) max((long long) kvStart, lo);
    kvEnd = (int) min((long long) kvEnd, lo + p.kvChunk);
}

// Normalises a query-tiled prefill block's two rows per thread (l summed over the quad) and
// writes o (times the KV head's V scale, headVScale, in q's type) and lse; for a split request (partialBase >= 0) the
// split's float state instead, at merge_stream's slot partialBase + KV head * items + row * g +
// head in group (items = qoLen * g). oAt(nb, e) reads accumulator e of 8-column block nb, so the
// kernels' register layouts need not match. DH: the kernel's columns; dr: the first dr of them
// (a multiple of 8, at most DH) are o's, the rest a layout's zero padding.
template <int MT, int DH, typename OAt>
__device__ __forceinline__ void prefillWriteRows(const AttnParams& p, OAt oAt, const float (&m)[2], float (&l)[2],
                                                 const bool (&rowOk)[2], const int (&rowI)[2], int qoStart, int qoLen,
                                                 int h, int partialBase, int lane, int dr = DH) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        if (!rowOk[r]) continue;
        const RowEnd end = finishRow(m[r], l[r], rowSink(p.sinks, h, partialBase));
        const float inv = end.oScale * headVScale(p, h / p.group), lseV = end.lse;
        if (partialBase >= 0) {
            const int g = p.group;
            const long long slot = partialBase + (long long) (h / g) * qoLen * g + (long long) rowI[r] * g + h % g;
            float2* out = reinterpret_cast<float2*>(p.partialO + slot * dr + (lane & 3) * 2);
#pragma unroll
            for (int nb = 0; nb < DH / 8; ++nb) {
                if (8 * nb < dr) out[nb * 4] = make_float2(oAt(nb, 2 * r) * inv, oAt(nb, 2 * r + 1) * inv);
            }
            if ((lane & 3) == 0) p.partialLse[slot] = lseV;
            continue;
        }
        const long long outRow = (long long) (qoStart + rowI[r]) * p.hq + h;
        uint32_t* out = reinterpret_cast<uint32_t*>(reinterpret_cast<uint16_t*>(p.o)
                + (long long) (qoStart + rowI[r]) * p.oTok + (long long) h * p.oHead + (lane & 3) * 2);
#pragma unroll
        for (int nb = 0; nb < DH / 8; ++nb) {
            if (8 * nb < dr) out[nb * 4] = Mma<MT>::pack(oAt(nb, 2 * r) * inv, oAt(nb, 2 * r + 1) * inv);
        }
        if (p.lse && (lane & 3) == 0) p.lse[outRow] = lseV;
    }
}

}  // namespace attn4j
