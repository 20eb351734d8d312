#!/usr/bin/env bash
# Builds every module and runs every test: core, reference, conformance on each backend
# (backends without a device skip with their probe's reasons), cli, and the documentation's
# Java examples.
#
#   scripts/test.sh [--no-cuda-kernels] [Maven arguments...]
#
# --no-cuda-kernels (or ATTN4J_NO_NVCC=1) skips the CUDA kernel build (5 to 7 minutes on 2 cores)
# on a machine that has nvcc; the CUDA backend is then "built without kernels" and its tests skip,
# saying so. Other arguments go to Maven (for example -Dattn4j.cases=50, -o).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

maven=(-B verify)
[ "${ATTN4J_NO_NVCC:-0}" = 1 ] && maven+=(-P '!nvcc')
for a in "$@"; do
  case "$a" in
    --no-cuda-kernels) maven+=(-P '!nvcc') ;;
    *) maven+=("$a") ;;
  esac
done
exec ./mvnw "${maven[@]}"
