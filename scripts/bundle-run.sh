#!/usr/bin/env bash
# attn4j on a GPU host without a JDK or Maven: unpacks the bundled runtime, then runs the
# conformance suite per backend, the benchmarks and the PyTorch peers, writing reports to OUTDIR.
#
#   run.sh OUTDIR [all|conformance|bench|peers|memcheck|kernels|profile|sass|ab|demo|example|info] [backend...]
#
#   all          info, conformance, memcheck, bench, peers, sass (default)
#   conformance  the conformance suite of each backend (default backends: cuda opencl reference)
#   bench        attn4j bench over the spec §10 workloads (engine-step included) on the named (default:
#                available) backends
#   peers        the PyTorch peers (python3 with torch), rows appended to the bench CSV
#   memcheck     the CUDA conformance suite under compute-sanitizer memcheck (ATTN4J_MEMCHECK_CASES,
#                default 3 cases per property)
#   kernels      attn4j bench-kernels decode, then prefill: the CUDA backend's candidate kernels
#                compared with its Tensor Core attention kernel on the same inputs, then timed
#   profile      Nsight Compute (ncu) on one launch of the kernels whose names match
#                ATTN4J_PROFILE_KERNEL (a regex, default: every kernel) while bench runs
#                ATTN4J_WORKLOADS (default decode-mla) on cuda: throughput, occupancy, warp stalls
#   sass         Tensor Core instructions (HGMMA, HMMA) of the main kernels in the bundled fatbin,
#                per architecture (cuobjdump)
#   ab           the bundle's CUDA build against each of variants/*.jar (scripts/bundle-variant.sh; the
#                arguments name some of them instead), alternating, ATTN4J_AB_ROUNDS rounds (default 2)
#                of attn4j bench over ATTN4J_WORKLOADS (default prefill-causal-8k, decode-llama8b);
#                a table of medians per build and round in ab/summary.md
#   demo, info   attn4j demo / attn4j info
#   example      examples' LlamaAttentionEngine on CUDA (ATTN4J_EXAMPLE_ARGS: batch kvLen steps layers)
#
# Environment: ATTN4J_CASES  cases per property (default 200; ATTN4J_CASES_CUDA, _OPENCL, _REFERENCE
#              override it per backend)   ATTN4J_SEED  suite seed
#              ATTN4J_WORKLOADS  bench workloads (default: all)  ATTN4J_BENCH_ARGS  extra bench flags (without
#              --bw-ceiling, bench measures the GPU's read ceiling first with peers/read_ceiling.py)
#              ATTN4J_PEERS_ARGS  extra flags for the peers script  ATTN4J_JAVA_OPTS  extra JVM flags
#              ATTN4J_CONFORMANCE_ARGS  extra console launcher flags, e.g. --exclude-methodname=.*Stress.*
#              ATTN4J_KERNELS_ARGS  extra bench-kernels flags (--decode-kernels mma,stream, --iterations N)
#              ATTN4J_VARIANT  NAME of a build in variants/ (scripts/bundle-variant.sh): every part but ab runs
#              with variants/NAME.jar as the CUDA jar and, where bundle-variant.sh --java made one,
#              variants/NAME-tests.jar as the CUDA test jar
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  # The header comment, whatever its length.
  sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
out="$1"; shift
what="${1:-all}"; [ $# -gt 0 ] && shift
selected=("$@")
mkdir -p "$out"
out="$(cd "$out" && pwd)"
log="$out/run.log"
status=0

say() { echo "[run.sh $(date +%H:%M:%S)] $*" | tee -a "$log" >&2; }

# ---- runtime
# Unpacked outside the bundle (the bundle travels to the GPU host and must stay small), keyed by
# the runtime's stamp so a rebuilt runtime is unpacked afresh.
key=$(cksum < "$here/jre.stamp" 2>/dev/null | cut -d' ' -f1)
jre="${ATTN4J_JRE_DIR:-${TMPDIR:-/tmp}/attn4j-jre-${key:-0}}"
if [ ! -x "$jre/bin/java" ]; then
  say "unpacking the Java runtime into $jre"
  tmp="$jre.partial.$$"
  mkdir -p "$tmp"
  tar -C "$tmp" -xJf "$here/jre.tar.xz" || { say "cannot unpack jre.tar.xz"; exit 1; }
  rm -rf "$jre" && mv "$tmp/jre" "$jre" && rm -rf "$tmp"
fi
java="$jre/bin/java"
"$java" -version >>"$log" 2>&1 || { say "the bundled java does not start"; exit 1; }

# ---- NVIDIA's OpenCL driver: the host's ICD loader only registers PoCL.
if [ -z "${OCL_ICD_VENDORS:-}" ]; then
  if ldconfig -p 2>/dev/null | grep -q 'libnvidia-opencl.so.1' \
     || ls /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 >/dev/null 2>&1; then
    mkdir -p "$here/icd"
    echo "libnvidia-opencl.so.1" > "$here/icd/nvidia.icd"
    export OCL_ICD_VENDORS="$here/icd"
    say "OpenCL: NVIDIA ICD at $OCL_ICD_VENDORS"
  else
    say "OpenCL: libnvidia-opencl.so.1 not found; the ICD loader's own vendors are used"
  fi
fi

# The caller's extra JVM flags, split on spaces.
read -r -a extra_opts <<< "${ATTN4J_JAVA_OPTS:-}"
# A JVM killed by native code leaves its crash report with the other reports.
jvm=("$java" --enable-native-access=ALL-UNNAMED -Xss8m -XX:ErrorFile="$out/hs_err_pid%p.log" "${extra_opts[@]}")
# DIR (made anew) with the bundle's runtime jars and JAR as the CUDA jar: lib_with_cuda_jar DIR JAR.
lib_with_cuda_jar() {
  rm -rf "$1" && mkdir -p "$1"
  find "$here/lib" -maxdepth 1 -name '*.jar' ! -name 'attn4j-backend-cuda-*' -exec cp {} "$1/" \;
  cp "$2" "$1/attn4j-backend-cuda-variant.jar"
}

# The jars every part runs: the bundle's, or with ATTN4J_VARIANT a copy of them whose CUDA jar (and
# CUDA test jar, where the variant has one) is the variant's.
lib="$here/lib"
tests_dir="$here/tests"
if [ -n "${ATTN4J_VARIANT:-}" ]; then
  [[ "$ATTN4J_VARIANT" =~ ^[A-Za-z0-9._-]+$ ]] || { say "ATTN4J_VARIANT: a name of letters, digits, '.', '_' or '-', not '$ATTN4J_VARIANT'"; exit 2; }
  variant="$here/variants/$ATTN4J_VARIANT.jar"
  [ -f "$variant" ] || { say "no variant $variant (scripts/bundle-variant.sh makes them)"; exit 1; }
  # Outside the report folder, which callers archive whole.
  variant_dir="$(mktemp -d "${TMPDIR:-/tmp}/attn4j-variant-$ATTN4J_VARIANT.XXXXXX")"
  trap 'rm -rf "$variant_dir"' EXIT
  lib="$variant_dir/lib"
  tests_dir="$variant_dir/tests"
  lib_with_cuda_jar "$lib" "$variant"
  mkdir -p "$tests_dir"
  cp "$here"/tests/*.jar "$tests_dir/"
  if [ -f "$here/variants/$ATTN4J_VARIANT-tests.jar" ]; then
    rm -f "$tests_dir"/attn4j-backend-cuda-*-tests.jar
    cp "$here/variants/$ATTN4J_VARIANT-tests.jar" "$tests_dir/attn4j-backend-cuda-variant-tests.jar"
  fi
  say "variant $ATTN4J_VARIANT: $variant$([ -f "$here/variants/$ATTN4J_VARIANT-tests.jar" ] && echo " and its tests")"
fi
cp_main="$lib/*"
attn4j() { "${jvm[@]}" -cp "$cp_main" org.attn4j.cli.Main "$@"; }

run_info() {
  say "attn4j info"
  { command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; } \
    > "$out/nvidia-smi.txt" 2>&1 || true
  attn4j info 2>&1 | tee "$out/info.txt" || status=1
}

# Backends whose probe says available (from attn4j info's "<id> priority N available" lines).
available_backends() {
  attn4j info --no-open 2>/dev/null | awk '$2 == "priority" && $4 == "available" {print $1}'
}

run_conformance() {
  local list=("${selected[@]}")
  [ ${#list[@]} -eq 0 ] && list=(cuda opencl reference)
  for b in "${list[@]}"; do
    local per="ATTN4J_CASES_${b^^}"
    local cases="${!per:-${ATTN4J_CASES:-200}}"
    local tests
    tests=$(ls "$tests_dir"/attn4j-backend-"$b"-*-tests.jar 2>/dev/null | head -n 1)
    if [ -z "$tests" ]; then
      say "conformance $b: no test jar in the bundle, skipped"
      continue
    fi
    local dir="$out/conformance/$b"
    mkdir -p "$dir"
    say "conformance $b: $cases cases per property"
    local props=(-Dattn4j.cases="$cases" -Dattn4j.reportDir="$dir")
    local launcher_args=()
    read -r -a launcher_args <<< "${ATTN4J_CONFORMANCE_ARGS:-}"
    if [ -n "${ATTN4J_VARIANT:-}" ] && [ "$b" = cuda ]; then
      # scripts/bundle-variant.sh compiles one architecture; the check for all three is the bundle's.
      launcher_args+=(--exclude-classname=org.attn4j.cuda.FatbinResourceTest)
      say "conformance cuda: variant $ATTN4J_VARIANT, FatbinResourceTest left out (its fatbin holds one architecture)"
    fi
    [ -n "${ATTN4J_SEED:-}" ] && props+=(-Dattn4j.seed="$ATTN4J_SEED")
    "${jvm[@]}" "${props[@]}" -cp "$cp_main:$tests:$tests_dir/junit-platform-console-standalone.jar" \
      org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=testfeed --fail-if-no-tests \
      --scan-class-path "$tests" --reports-dir "$dir" "${launcher_args[@]}" > "$dir/console.txt" 2>&1
    local rc=$?
    # The suite's own summary names every property; the feed shows which ran last if the JVM died.
    { [ -f "$dir/conformance-$b.txt" ] && tail -n 60 "$dir/conformance-$b.txt" || tail -n 40 "$dir/console.txt"; } \
      | tee -a "$log"
    say "conformance $b: exit $rc"
    [ $rc -ne 0 ] && status=1
  done
}

# This GPU's read ceiling in bytes/s (peers/read_ceiling.py, with torch), measured at the first
# call and kept in a file of the report folder; empty where it cannot be measured.
read_ceiling() {
  local f="$out/read-ceiling.txt"
  if [ ! -f "$f" ]; then
    { command -v python3 >/dev/null && python3 "$here/peers/read_ceiling.py" --value 2>/dev/null; } > "$f" || true
    [ -s "$f" ] && say "read ceiling measured: $(cat "$f") B/s"
  fi
  cat "$f"
}

# bench_args: the caller's ATTN4J_BENCH_ARGS, and this GPU's read ceiling (measured once) for
# rates to be compared with, unless the caller gave one.
bench_flags() {
  read -r -a bench_args <<< "${ATTN4J_BENCH_ARGS:-}"
  if [[ "${bench_args[*]}" != *--bw-ceiling* ]] && [ -n "$(read_ceiling)" ]; then
    bench_args+=(--bw-ceiling "$(read_ceiling)")
  fi
}

run_bench() {
  local list=("${selected[@]}")
  if [ ${#list[@]} -eq 0 ]; then
    mapfile -t list < <(available_backends)
  fi
  local backends
  backends=$(IFS=,; echo "${list[*]}")
  bench_flags
  local workloads=()
  for w in ${ATTN4J_WORKLOADS:-all}; do workloads+=(--workload "$w"); done
  say "bench on [$backends]"
  mkdir -p "$out/bench"
  attn4j bench "${workloads[@]}" --backends "$backends" --out "$out/bench" "${bench_args[@]}" 2>&1 \
    | tee "$out/bench/bench.txt" || status=1
}

run_peers() {
  if ! command -v python3 >/dev/null; then
    say "peers: no python3, skipped"
    return
  fi
  read -r -a peer_args <<< "${ATTN4J_PEERS_ARGS:-}"
  if [[ "${peer_args[*]}" != *--bw-ceiling* ]] && [ -n "$(read_ceiling)" ]; then
    peer_args+=(--bw-ceiling "$(read_ceiling)")
  fi
  local workloads=() engine=0
  for w in ${ATTN4J_WORKLOADS:-all}; do
    case "$w" in
      engine-step) engine=1 ;;
      decode-mla) ;;   # no PyTorch peer
      all) engine=1; workloads+=(--workload all) ;;
      *) workloads+=(--workload "$w") ;;
    esac
  done
  mkdir -p "$out/bench"
  if [ ${#workloads[@]} -gt 0 ]; then
    say "peers: torch SDPA (cuDNN, FlashAttention-2) and FlexAttention"
    python3 "$here/peers/torch_peers.py" "${workloads[@]}" --csv "$out/bench/bench.csv" --append "${peer_args[@]}" \
      2>&1 | tee "$out/bench/peers.txt" || status=1
  fi
  if [ "$engine" = 1 ]; then
    say "peers: the engine step on torch (RoPE, cache write, SDPA; one CUDA graph)"
    python3 "$here/peers/torch_engine_step.py" --csv "$out/bench/bench.csv" --append 2>&1 \
      | tee -a "$out/bench/peers.txt" || status=1
  fi
  # redraw the chart with attn4j's and the peers' rows side by side
  if [ -f "$out/bench/bench.csv" ]; then
    attn4j bench --replot "$out/bench/bench.csv" --out "$out/bench" 2>&1 | tee -a "$log" || true
  fi
}

run_memcheck() {
  local tests
  tests=$(ls "$tests_dir"/attn4j-backend-cuda-*-tests.jar 2>/dev/null | head -n 1)
  if ! command -v compute-sanitizer >/dev/null || [ -z "$tests" ]; then
    say "memcheck: compute-sanitizer or the CUDA test jar is missing, skipped"
    return
  fi
  local dir="$out/memcheck"
  mkdir -p "$dir"
  local cases="${ATTN4J_MEMCHECK_CASES:-3}"
  say "memcheck: CUDA conformance suite, $cases cases per property, under compute-sanitizer"
  compute-sanitizer --tool memcheck --error-exitcode 86 --print-limit 20 \
    "${jvm[@]}" -Dattn4j.cases="$cases" -Dattn4j.reportDir="$dir" \
    -cp "$cp_main:$tests:$tests_dir/junit-platform-console-standalone.jar" \
    org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=summary \
    --select-class org.attn4j.cuda.CudaConformanceTest > "$dir/memcheck.txt" 2>&1
  local rc=$?
  grep -E "ERROR SUMMARY|tests (successful|failed|skipped)" "$dir/memcheck.txt" | tee -a "$log"
  say "memcheck: exit $rc"
  [ $rc -ne 0 ] && status=1
}

run_kernels() {
  mkdir -p "$out/kernels"
  read -r -a kernel_args <<< "${ATTN4J_KERNELS_ARGS:-}"
  for family in decode prefill; do
    say "kernels: $family"
    attn4j bench-kernels "$family" "${kernel_args[@]}" > "$out/kernels/$family.txt" 2>&1
    local rc=$?
    tail -n 30 "$out/kernels/$family.txt" | tee -a "$log"
    say "kernels: $family exit $rc"
    [ $rc -ne 0 ] && status=1
  done
}

# The kernels the SASS count covers: prefill on wgmma (sm_90a only; the sm_80 build traps) and on
# mma.sync, decode on mma.sync, and the streaming decode on CUDA cores (no Tensor Core instruction).
SASS_KERNELS=(wg_bf16_d128 wg_bf16_d256 wg_f16_d64 wg_bf16_d96 fa2_bf16_d128 tc_pre_bf16_bf16_d128 dec_mma_bf16_bf16_d128
  dec_mma_bf16_bf16_d256 dec_mma_bf16_bf16_d96 dec_mma_bf16_e4m3_d128 dec_mma_f16_e5m2_d80 wg_bf16_e4m3_d128 wg_bf16_r128 wg_f16_r256 wg_bf16_d192 wg_bf16_d80
  dec_stream_bf16_d96_g1 dec_stream_bf16_d80_g1 dec_stream_f16_d256_g4)

run_sass() {
  local jar
  jar=$(ls "$lib"/attn4j-backend-cuda-*.jar 2>/dev/null | head -n 1)
  if [ -z "$jar" ] || ! command -v cuobjdump >/dev/null || ! command -v python3 >/dev/null; then
    say "sass: needs the CUDA jar, cuobjdump and python3; skipped"
    return
  fi
  say "sass: Tensor Core instructions per kernel and architecture"
  python3 - "$jar" "$out/sass.txt" "${SASS_KERNELS[@]}" <<'PY' || status=1
import os, subprocess, sys, tempfile, zipfile
jar, report, kernels = sys.argv[1], sys.argv[2], sys.argv[3:]
fatbin = os.path.join(tempfile.mkdtemp(), "attn4j-kernels.fatbin")
with open(fatbin, "wb") as f:
    f.write(zipfile.ZipFile(jar).read("org/attn4j/cuda/attn4j-kernels.fatbin"))
with open(report, "w") as f:
    for kernel in kernels:
        for arch in ("sm_90a", "sm_80"):
            sass = subprocess.run(["cuobjdump", "-sass", "-arch", arch, "-fun", kernel, fatbin],
                                  capture_output=True, text=True).stdout
            f.write(f"{kernel} {arch}: HGMMA {sass.count('HGMMA')}, HMMA {sass.count('HMMA.')}, "
                    f"{sass.count(chr(10))} lines\n")
PY
  tee -a "$log" < "$out/sass.txt"
}

# One launch under Nsight Compute: where a kernel's time goes (the sections that say whether it
# waits on memory, on its own dependencies or on issue), without the clocks locked to base.
run_profile() {
  if ! command -v ncu >/dev/null; then
    say "profile: ncu not found, skipped"
    return
  fi
  local kernel="${ATTN4J_PROFILE_KERNEL:-.*}"
  local workloads=()
  for w in ${ATTN4J_WORKLOADS:-decode-mla}; do workloads+=(--workload "$w"); done
  mkdir -p "$out/profile"
  say "profile: ncu on one launch matching '$kernel' (${workloads[*]})"
  ncu --clock-control none --target-processes all -k "regex:$kernel" -c 1 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section SchedulerStats \
    --section WarpStateStats --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis \
    "${jvm[@]}" -cp "$cp_main" org.attn4j.cli.Main bench "${workloads[@]}" --backends cuda \
    --seconds 0 --warmup 0 > "$out/profile/ncu.txt" 2>&1
  local rc=$?
  grep -E "^  [a-z_]+[a-z0-9_]*|Duration|Throughput|Achieved Occupancy|Registers Per|Eligible Warps|Issued Warp|Stall|No Eligible" \
    "$out/profile/ncu.txt" | head -n 60 | tee -a "$log"
  say "profile: exit $rc"
  [ $rc -ne 0 ] && status=1
}

# Each build runs from a copy of lib/ with its CUDA jar in place of the bundle's, one JVM per build
# and round, the builds alternating so that clocks and heat drift alike for all.
run_ab() {
  local variants=()
  if [ ${#selected[@]} -gt 0 ]; then
    for v in "${selected[@]}"; do variants+=("$here/variants/$v.jar"); done
  else
    for j in "$here"/variants/*.jar; do [ -f "$j" ] && [[ "$j" != *-tests.jar ]] && variants+=("$j"); done
  fi
  if [ ${#variants[@]} -eq 0 ]; then
    say "ab: no variant in $here/variants (scripts/bundle-variant.sh adds them); skipped"
    return
  fi
  local builds=(bundle) libs=("$here/lib")
  for j in "${variants[@]}"; do
    [ -f "$j" ] || { say "ab: no variant $j"; status=1; return; }
    local name
    name=$(basename "$j" .jar)
    lib_with_cuda_jar "$out/ab/lib-$name" "$j"
    builds+=("$name"); libs+=("$out/ab/lib-$name")
  done
  bench_flags
  local workloads=()
  for w in ${ATTN4J_WORKLOADS:-prefill-causal-8k decode-llama8b}; do workloads+=(--workload "$w"); done
  local rounds="${ATTN4J_AB_ROUNDS:-2}"
  say "ab: ${builds[*]}, $rounds rounds, ${workloads[*]}"
  for ((r = 1; r <= rounds; r++)); do
    for i in "${!builds[@]}"; do
      local dir="$out/ab/${builds[$i]}-$r"
      mkdir -p "$dir"
      "${jvm[@]}" -cp "${libs[$i]}/*" org.attn4j.cli.Main bench "${workloads[@]}" --backends cuda --out "$dir" \
        "${bench_args[@]}" > "$dir/bench.txt" 2>&1
      local rc=$?
      say "ab: ${builds[$i]} round $r exit $rc"
      [ $rc -ne 0 ] && status=1
    done
  done
  if command -v python3 >/dev/null; then
    python3 "$here/ab_summary.py" "$out/ab" "${builds[@]}" > "$out/ab/summary.md" && tee -a "$log" < "$out/ab/summary.md"
  fi
}

run_example() {
  say "examples: LlamaAttentionEngine ${ATTN4J_EXAMPLE_ARGS:-}"
  read -r -a example_args <<< "${ATTN4J_EXAMPLE_ARGS:-}"
  "${jvm[@]}" -cp "$cp_main" org.attn4j.examples.engine.LlamaAttentionEngine "${example_args[@]}" 2>&1 \
    | tee "$out/example-engine.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}

run_demo() {
  say "attn4j demo"
  attn4j demo 2>&1 | tee "$out/demo.txt" || status=1
}

case "$what" in
  all) run_info; run_conformance; run_memcheck; run_bench; run_peers; run_sass ;;
  conformance) run_conformance ;;
  bench) run_bench ;;
  peers) run_peers ;;
  memcheck) run_memcheck ;;
  kernels) run_kernels ;;
  profile) run_profile ;;
  sass) run_sass ;;
  ab) run_ab ;;
  demo) run_demo ;;
  example) run_example ;;
  info) run_info ;;
  *) echo "unknown part '$what': expected all, conformance, bench, peers, memcheck, kernels, sass, ab, demo, example or info" >&2; exit 2 ;;
esac
say "done, status $status; reports in $out"
exit $status
