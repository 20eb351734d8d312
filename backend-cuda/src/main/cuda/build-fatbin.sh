#!/usr/bin/env bash
# Compiles kernels.cu into one fatbin: SASS for sm_80 and sm_90a, PTX for newer GPUs.
# Usage: build-fatbin.sh NVCC OUTPUT. Skips the work when OUTPUT is newer than every source.
set -euo pipefail
nvcc="$1"
out="$2"
src="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$(dirname "$out")"
if [[ -f "$out" ]] && [[ -z "$(find "$src" -newer "$out" \( -name '*.cu' -o -name '*.cuh' -o -name '*.sh' \))" ]]; then
    echo "attn4j kernels up to date: $out"
    exit 0
fi
echo "nvcc: building $out"
"$nvcc" --threads 2 -O3 -std=c++17 --fatbin \
    -gencode arch=compute_80,code=sm_80 \
    -gencode arch=compute_90a,code=sm_90a \
    -gencode arch=compute_90,code=compute_90 \
    -o "$out.tmp" "$src/kernels.cu"
mv "$out.tmp" "$out"
