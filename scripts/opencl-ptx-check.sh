#!/usr/bin/env bash
# Compiles one of the OpenCL backend's kernels for NVIDIA GPUs on a machine without one: clang's
# OpenCL front end and NVPTX target make PTX, CUDA's ptxas assembles it for the architecture and
# prints each kernel's registers, spills and shared memory.
#
#   scripts/opencl-ptx-check.sh KERNEL.cl [-DNAME=VALUE ...]
#   e.g. scripts/opencl-ptx-check.sh attention_mma.cl -DQT=2 -DKVT=2 -DDMAX=128 -DTM=64 -DTN=64 -DWG=128 -DMMA_EMULATED=0 -DASYNC_COPY_PTX=1
#
# What it is good for: ptxas checks the inline PTX (attention_mma.cl's mma.sync, ldmatrix,
# cp.async) for syntax and operand types, and the register counts show what a change costs, in
# seconds and before any GPU time is spent. What it is not: NVIDIA's OpenCL driver compiles the
# same source with its own compiler, whose registers and spills may differ; on a GPU host
# -Dattn4j.opencl.dumpPrograms=DIR writes what the driver made (backend-opencl/README.md).
#
# The OpenCL builtins the kernels call come from a small prelude below (clang has no OpenCL
# library for NVPTX); its math is approximate, enough for code generation, not for results. A
# kernel that calls a builtin the prelude lacks stops ptxas with "Unresolved extern function":
# add the builtin to the prelude.
#
# Environment: ATTN4J_PTX_ARCH (default sm_90), CLANG (default: the newest clang-NN on the PATH),
# PTXAS (default: ptxas on the PATH, else /usr/local/cuda/bin/ptxas), ATTN4J_PTX_KEEP (a folder:
# keep the generated PTX there).
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
here="$(cd "$(dirname "$0")/.." && pwd)"
kernels="$here/backend-opencl/src/main/resources/org/attn4j/opencl"
source_name="$(basename "$1")"; shift
[ -f "$kernels/$source_name" ] || { echo "no kernel source $kernels/$source_name" >&2; exit 2; }
arch="${ATTN4J_PTX_ARCH:-sm_90}"

clang="${CLANG:-$(ls /usr/bin/clang-[0-9]* 2>/dev/null | sort -t- -k2 -n | tail -n 1)}"
[ -n "$clang" ] && command -v "$clang" >/dev/null || { echo "no clang found (apt-get install clang)" >&2; exit 1; }
llvm_bin="$(dirname "$(readlink -f "$clang")")"
for tool in llvm-link opt llc; do
  [ -x "$llvm_bin/$tool" ] || { echo "$tool not found beside $clang" >&2; exit 1; }
done
ptxas="${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}"
[ -x "$ptxas" ] || { echo "ptxas not found (CUDA toolkit)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# As OpenClPrograms builds them: common.cl, then variants.cl for the attention kernels, then the file.
{
  cat "$kernels/common.cl"
  case "$source_name" in attention.cl|attention_mma.cl|decode_stream.cl) cat "$kernels/variants.cl" ;; esac
  cat "$kernels/$source_name"
} > "$work/kernel.cl"

cat > "$work/prelude.cl" <<'EOF'
#define OV __attribute__((overloadable, always_inline))
OV int isnan(float x) { return __builtin_isnan(x); }
OV float fmax(float a, float b) { return __builtin_fmaxf(a, b); }
OV float fmin(float a, float b) { return __builtin_fminf(a, b); }
OV float exp2(float x) { return __nvvm_ex2_approx_f(x); }
OV float log2(float x) { return __nvvm_lg2_approx_f(x); }
OV float tanh(float x) {
    float e = __nvvm_ex2_approx_f(-2.885390081777927f * __builtin_fabsf(x));
    return __builtin_copysignf((1.0f - e) / (1.0f + e), x);
}
OV int min(int a, int b) { return a < b ? a : b; }
OV int max(int a, int b) { return a > b ? a : b; }
OV void barrier(unsigned flags) { __nvvm_bar_sync(0); }
OV unsigned long get_group_id(unsigned d) {
    return d == 0 ? __nvvm_read_ptx_sreg_ctaid_x() : d == 1 ? __nvvm_read_ptx_sreg_ctaid_y() : __nvvm_read_ptx_sreg_ctaid_z();
}
OV unsigned long get_local_id(unsigned d) {
    return d == 0 ? __nvvm_read_ptx_sreg_tid_x() : d == 1 ? __nvvm_read_ptx_sreg_tid_y() : __nvvm_read_ptx_sreg_tid_z();
}
OV unsigned long get_local_size(unsigned d) {
    return d == 0 ? __nvvm_read_ptx_sreg_ntid_x() : d == 1 ? __nvvm_read_ptx_sreg_ntid_y() : __nvvm_read_ptx_sreg_ntid_z();
}
OV unsigned long get_global_id(unsigned d) { return get_group_id(d) * get_local_size(d) + get_local_id(d); }
OV float dot(float4 a, float4 b) { return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w; }
OV uint8 convert_uint8(ushort8 v) { return __builtin_convertvector(v, uint8); }
OV uint4 convert_uint4(ushort4 v) { return __builtin_convertvector(v, uint4); }
OV float fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
OV float4 fma(float4 a, float4 b, float4 c) { return a * b + c; }
#define VLOAD(T, AS) \
    OV T##4 vload4(size_t i, AS const T* p) { p += 4 * i; return (T##4) (p[0], p[1], p[2], p[3]); } \
    OV T##8 vload8(size_t i, AS const T* p) { p += 8 * i; return (T##8) (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]); }
#define VSTORE(T, AS) \
    OV void vstore4(T##4 v, size_t i, AS T* p) { p += 4 * i; p[0] = v.s0; p[1] = v.s1; p[2] = v.s2; p[3] = v.s3; } \
    OV void vstore8(T##8 v, size_t i, AS T* p) { vstore4(v.lo, 2 * i, p); vstore4(v.hi, 2 * i + 1, p); }
#define VLOADS(T) VLOAD(T, __global) VLOAD(T, __local) VLOAD(T, )
#define VSTORES(T) VSTORE(T, __global) VSTORE(T, __local) VSTORE(T, )
VLOADS(float) VLOADS(ushort) VLOADS(uchar)
VSTORES(float) VSTORES(ushort)
EOF

cl=(-x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -O3 -emit-llvm -c)
# The kernels write inline PTX as asm(...), which NVIDIA's OpenCL compiler takes and clang's
# OpenCL mode spells __asm__.
"$clang" "${cl[@]}" -Xclang -finclude-default-header -Dasm=__asm__ "$@" -o "$work/kernel.bc" "$work/kernel.cl"
"$clang" "${cl[@]}" -o "$work/prelude.bc" "$work/prelude.cl"
"$llvm_bin/llvm-link" "$work/kernel.bc" "$work/prelude.bc" -o "$work/linked.bc"
"$llvm_bin/opt" -O3 "$work/linked.bc" -o "$work/opt.bc"
# Older LLVMs know no sm_90 or PTX 8.0: generate for sm_86 and retarget the text (the kernels'
# own PTX instructions are sm_80 ones).
"$llvm_bin/llc" -march=nvptx64 -mcpu=sm_86 -mattr=+ptx75 "$work/opt.bc" -o "$work/kernel.ptx"
sed -i "s/^\.target sm_86/.target $arch/; s/^\.version 7\.5/.version 8.0/" "$work/kernel.ptx"
if [ -n "${ATTN4J_PTX_KEEP:-}" ]; then
  mkdir -p "$ATTN4J_PTX_KEEP" && cp "$work/kernel.ptx" "$ATTN4J_PTX_KEEP/${source_name%.cl}.ptx"
fi
"$ptxas" -arch="$arch" -v "$work/kernel.ptx" -o "$work/kernel.cubin" 2>&1 \
  | grep -E "entry function|registers|spill|error|Unresolved" | sed "s/^ptxas info    : //"
