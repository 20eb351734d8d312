// Times the wgmma prefill kernel (hopper/prefill_wgmma.cuh) straight from CUDA C++, without the JVM, so
// that variants of the kernel source can be compared in one GPU call: build one binary per
// variant (-I pointing at a copy of src/main/cuda), run them in turn, compare their outputs.
//
//   nvcc -arch=sm_90a -O3 -std=c++17 -I backend-cuda/src/main/cuda -o wgmma_timing \
//        backend-cuda/src/test/cuda/wgmma_prefill_timing.cu
//   ./wgmma_timing 8k|batch|d256 [label] [reference.bin]
//
// Workloads (bf16, page 16, NHD, pages permuted, causal): 8k = the spec's prefill-causal-8k
// (1 x 8192, Hq 32, Hkv 8, D 128); batch = 16 requests of 512..4096 (D 128); d256 = 1 x 4096,
// Hq 16, Hkv 8, D 256. Work items are sorted longest first, as AttentionSchedule.queryTiles does
// (no key splits). Prints the median of 15 samples of 4 launches in TFLOP/s (4 Hq D x allowed
// pairs). With a reference file: writes the output there if it does not exist, else reports
// the largest difference against it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <cuda_runtime.h>
#include "attention/generic.cuh"
#include "attention/tensor_core.cuh"
#include "hopper/prefill_wgmma.cuh"
using namespace attn4j;

extern "C" __global__ void __launch_bounds__(WG_THREADS, 1) timing_wg128(const AttnParams p) { wgPrefillBody<BF16, 128>(p); }
extern "C" __global__ void __launch_bounds__(WG_THREADS, 1) timing_wg256(const AttnParams p) { wgPrefillBody<BF16, 256>(p); }

// Deterministic bf16 values in [-2, 2).
__global__ void fillBf16(uint16_t* x, long long n, uint32_t seed) {
    for (long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t) i * 2654435761u ^ seed;
        h ^= h >> 15;
        h *= 2246822519u;
        h ^= h >> 13;
        float f = ((h & 0xFFFF) / 65536.f - 0.5f) * 4.f;
        x[i] = (uint16_t) (__float_as_uint(f) >> 16);
    }
}

#define CHECK(x)                                                                                  \
    do {                                                                                          \
        cudaError_t e = (x);                                                                      \
        if (e != cudaSuccess) {                                                                   \
            std::printf("%s failed at line %d: %s\n", #x, __LINE__, cudaGetErrorString(e));      \
            std::exit(1);                                                                         \
        }                                                                                         \
    } while (0)

static int* upload(const std::vector<int>& h) {
    int* d;
    CHECK(cudaMalloc(&d, h.size() * 4 + 4));
    CHECK(cudaMemcpy(d, h.data(), h.size() * 4, cudaMemcpyHostToDevice));
    return d;
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "8k";
    const char* label = argc > 2 ? argv[2] : "";
    const char* refFile = argc > 3 ? argv[3] : "";
    const bool batch = std::strcmp(mode, "batch") == 0, d256 = std::strcmp(mode, "d256") == 0;
    std::vector<int> lens;
    if (batch) {
        uint32_t s = 20260101;
        for (int i = 0; i < 16; ++i) {
            s = s * 1664525u + 1013904223u;
            lens.push_back(512 + (int) ((s >> 8) % 3585));
        }
    } else {
        lens.push_back(d256 ? 4096 : 8192);
    }
    const int hq = d256 ? 16 : 32, hkv = 8, dh = d256 ? 256 : 128, pageSize = 16;
    std::vector<int> qoIndptr{0}, kvIndptr{0}, kvIndices, lastPageLen;
    for (int len : lens) {
        int pages = (len + pageSize - 1) / pageSize;
        qoIndptr.push_back(qoIndptr.back() + len);
        kvIndptr.push_back(kvIndptr.back() + pages);
        lastPageLen.push_back(len - (pages - 1) * pageSize);
    }
    const int pages = kvIndptr.back();
    for (int i = 0; i < pages; ++i) kvIndices.push_back((int) ((i * 7919LL) % pages));
    // Work items (request, first row, query head, split 0, no partial), longest first.
    std::vector<std::pair<int, std::vector<int>>> items;
    for (int b = 0; b < (int) lens.size(); ++b) {
        for (int row = 0; row < lens[b]; row += WG_ROWS) {
            for (int h = 0; h < hq; ++h) items.push_back({std::min(lens[b], row + WG_ROWS), {b, row, h, 0, -1}});
        }
    }
    std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<int> work;
    for (const auto& it : items) work.insert(work.end(), it.second.begin(), it.second.end());
    double flops = 0;
    for (int len : lens) flops += 4.0 * hq * dh * ((double) len * (len + 1) / 2);

    const long long rows = qoIndptr.back(), qElems = rows * hq * dh, kvElems = (long long) pages * pageSize * hkv * dh;
    uint16_t *q, *k, *v, *o;
    float* lse;
    CHECK(cudaMalloc(&q, qElems * 2));
    CHECK(cudaMalloc(&o, qElems * 2));
    CHECK(cudaMalloc(&k, kvElems * 2));
    CHECK(cudaMalloc(&v, kvElems * 2));
    CHECK(cudaMalloc(&lse, rows * hq * 4));
    fillBf16<<<1024, 256>>>(q, qElems, 1);
    fillBf16<<<1024, 256>>>(k, kvElems, 2);
    fillBf16<<<1024, 256>>>(v, kvElems, 3);

    AttnParams p{};
    p.q = q;
    p.o = o;
    p.lse = lse;
    p.k = reinterpret_cast<const uint8_t*>(k);
    p.v = reinterpret_cast<const uint8_t*>(v);
    p.pageStride = (long long) pageSize * hkv * dh;
    p.slotStride = hkv * dh;
    p.headStride = dh;
    p.qoIndptr = upload(qoIndptr);
    p.kvIndptr = upload(kvIndptr);
    p.kvIndices = upload(kvIndices);
    p.kvLastPageLen = upload(lastPageLen);
    p.work = upload(work);
    p.hq = hq;
    p.hkv = hkv;
    p.d = dh;
    p.group = hq / hkv;
    p.pageSize = pageSize;
    p.pageShift = 4;
    p.smScale = 1.f / std::sqrt((float) dh);
    p.kScale = p.vScale = 1.f;
    p.causal = 1;
    p.windowLeft = -1;

    const int grid = (int) items.size(), smem = wgSharedBytes(dh);
    CHECK(cudaFuncSetAttribute(dh == 256 ? (const void*) timing_wg256 : (const void*) timing_wg128,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    auto launch = [&]() {
        if (dh == 256) {
            timing_wg256<<<grid, WG_THREADS, smem>>>(p);
        } else {
            timing_wg128<<<grid, WG_THREADS, smem>>>(p);
        }
    };
    launch();
    CHECK(cudaDeviceSynchronize());
    cudaEvent_t start, stop;
    CHECK(cudaEventCreate(&start));
    CHECK(cudaEventCreate(&stop));
    std::vector<float> ms;
    for (int r = 0; r < 15; ++r) {
        CHECK(cudaEventRecord(start));
        for (int i = 0; i < 4; ++i) launch();
        CHECK(cudaEventRecord(stop));
        CHECK(cudaEventSynchronize(stop));
        float t;
        CHECK(cudaEventElapsedTime(&t, start, stop));
        ms.push_back(t / 4);
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];

    const char* compared = "-";
    double maxDiff = 0;
    if (refFile[0]) {
        std::vector<uint16_t> got(qElems), want(qElems);
        CHECK(cudaMemcpy(got.data(), o, qElems * 2, cudaMemcpyDeviceToHost));
        FILE* f = std::fopen(refFile, "rb");
        if (f && std::fread(want.data(), 2, want.size(), f) == want.size()) {
            compared = "compared";
            for (long long i = 0; i < qElems; ++i) {
                uint32_t a = (uint32_t) got[i] << 16, b = (uint32_t) want[i] << 16;
                float fa, fb;
                std::memcpy(&fa, &a, 4);
                std::memcpy(&fb, &b, 4);
                double d = std::fabs((double) fa - fb);
                if (!(d <= maxDiff)) maxDiff = d;  // NaN wins
            }
        } else {
            compared = "written";
            FILE* w = std::fopen(refFile, "wb");
            if (w) {
                std::fwrite(got.data(), 2, got.size(), w);
                std::fclose(w);
            }
        }
        if (f) std::fclose(f);
    }
    std::printf("%-20s %-5s %9.1f us %7.1f TFLOP/s  reference %s, max |diff| %.4g\n", label, mode, median * 1e3,
                flops / (median * 1e-3) / 1e12, compared, maxDiff);
    return 0;
}
