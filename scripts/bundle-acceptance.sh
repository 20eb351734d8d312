#!/usr/bin/env bash
# One GPU-host call for a kernel change's acceptance, from the bundle (scripts/bundle.sh copies
# this to bundle/acceptance.sh): CUDA conformance at 200 cases per property, memcheck, the named
# workloads' bench before and after (alternating, two rounds each) when BASELINE_LIB names the
# lib/ folder of a bundle built before the change, the kernel benches, decode-mla (against the
# read ceiling measured then) and the context-parallel bench. Reports go to OUTDIR, packed as
# OUTDIR.tgz. About 5 minutes on an H100.
#
#   acceptance.sh OUTDIR        environment: BASELINE_LIB, CASES (default 200)
set -u
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
mkdir -p "$1"; o="$(cd "$1" && pwd)"
phase() { echo "== $(date +%T) $*" | tee -a "$o/acceptance.log"; }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv > "$o/gpu.txt" 2>&1
phase "conformance cuda, ${CASES:-200} cases per property"
ATTN4J_CASES_CUDA="${CASES:-200}" timeout 300 bash "$here/run.sh" "$o/conformance" conformance cuda \
  > "$o/conformance.out" 2>&1
echo "exit $?" >> "$o/conformance.out"; tail -2 "$o/conformance.out"; grep FAILED "$o/conformance.out"
phase memcheck
ATTN4J_MEMCHECK_CASES=2 timeout 180 bash "$here/run.sh" "$o/memcheck" memcheck > "$o/memcheck.out" 2>&1
echo "exit $?" >> "$o/memcheck.out"; tail -3 "$o/memcheck.out"
sides=(after)
if [ -n "${BASELINE_LIB:-}" ]; then
  base="$(mktemp -d)"
  for f in "$here"/*; do [ "$(basename "$f")" = lib ] || cp -r "$f" "$base/"; done
  cp -r "$BASELINE_LIB" "$base/lib"
  sides=(before after)
fi
for round in 1 2; do
  for side in "${sides[@]}"; do
    dir=$here; [ "$side" = before ] && dir=$base
    phase "bench $side, round $round"
    ATTN4J_WORKLOADS=all ATTN4J_BENCH_ARGS="--seconds 0.8" timeout 150 \
      bash "$dir/run.sh" "$o/bench-$side-$round" bench cuda > "$o/bench-$side-$round.out" 2>&1
  done
done
phase "kernel benches"
timeout 200 bash "$here/run.sh" "$o/kernels" kernels > "$o/kernels.out" 2>&1
echo "exit $?" >> "$o/kernels.out"; tail -2 "$o/kernels.out"
phase decode-mla
ATTN4J_WORKLOADS=decode-mla ATTN4J_BENCH_ARGS="--seconds 0.8" timeout 120 \
  bash "$here/run.sh" "$o/mla" bench cuda > "$o/mla.out" 2>&1
grep -h "^decode-mla" "$o/mla.out"
phase decode-long-cp
ATTN4J_WORKLOADS=decode-long-cp ATTN4J_BENCH_ARGS="--seconds 0.8" timeout 120 \
  bash "$here/run.sh" "$o/context-parallel" bench cuda > "$o/context-parallel.out" 2>&1
phase done
find "$o" -name "*.xml" -size +2M -delete
tar czf "$o.tgz" -C "$o" .
