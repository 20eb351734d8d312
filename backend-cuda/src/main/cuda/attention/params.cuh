// The parameters every attention kernel takes, and the merge of split-KV states; the host
// (CudaAttentionPlan) writes the same bytes, checked by the param_sizes kernel.
#pragma once
#include "../primitives/common.cuh"

namespace attn4j {

constexpr int WORK_INTS = 5;   // request, first item, first key, end key, partial base (-1: direct)

// Laid out 8-byte fields first, then 4-byte ones; the host writes the same bytes.
struct AttnParams {
    const void* q;
    void* o;
    float* lse;
    const uint8_t* k;
    const uint8_t* v;
    long long kOffset, vOffset, pageStride, slotStride, headStride;  // K rows' strides
    long long vPageStride, vSlotStride, vHeadStride;                  // V rows' (another head dim)
    // q and o are [rows, hq, d] views: element (row, h, x) at row * tok + h * head + x.
    long long qTok, qHead, oTok, oHead;
    const int* qoIndptr;
    const int* kvIndptr;
    const int* kvIndices;
    const int* kvLastPageLen;
    const uint8_t* mask;
    const long long* maskOffsets;
    const double* ropeFreq;
    const int* work;
    float* partialO;
    float* partialLse;
    const float* sinks;        // [hq] sink logits (spec §3), or null
    const float* alibiSlopes;  // [hq] ALiBi slopes, or null
    // KV scales per head or per token (spec §1), or null: then kScale and vScale are the scalar
    // scales; else those are 1 and the scale of (page, slot, KV head) is at page * scalePageStride
    // + slot * scaleSlotStride + head * scaleHeadStride, per head with page and slot strides 0.
    const float* kScales;
    const float* vScales;
    long long scalePageStride, scaleSlotStride, scaleHeadStride;
    int hq, hkv, d, group, pageSize, pageShift;  // pageShift: log2(pageSize) when a power of two, else -1
    float smScale, kScale, vScale, softCap;
    int causal, windowLeft, ropeInterleaved, ropeDim;  // ropeDim: the rotary dim R; dims from R on pass through
    int dv;       // head dim of V and o (d: of q and K)
    int kvChunk;  // keys per split of the query-tiled prefill kernels (0: no split; see AttentionSchedule.queryTiles)
};

// Combines the split-KV states of each query row: entries of 5 ints (output row, row within
// its request, partial base of the request, splits, items of the request).
struct MergePartialsParams {
    const float* partialO;
    const float* partialLse;
    void* o;
    float* lse;
    const int* rows;
    const float* sinks;  // [hq] sink logits joining each merged row once, or null
    long long oTok, oHead;  // o is a [rows, hq, d] view
    int hq, hkv, d, group;
};

}  // namespace attn4j
