#!/usr/bin/env bash
# One GPU-host call for an OpenCL kernel change's acceptance on NVIDIA's OpenCL, from the bundle
# (scripts/bundle.sh copies this to bundle/opencl-acceptance.sh). In order, so that what comes
# first survives a call cut short:
#   1. the kernels' own tests on the real instructions (tensor kernel, streaming decode);
#   2. issue #19's workloads on opencl with cuda beside them, one run, the driver's build logs
#      (PTX, registers, spills) of every program built; with BASELINE_LIB, the opencl rows again
#      alternating the bundle before the change with the one after, two rounds each;
#   3. the conformance suite at CASES per property in every configuration the plan and the tuner
#      can choose (the main suite, the tensor kernel's, each tiled shape's) and with the streaming
#      decode's ring, tuner off, one JVM a suite in parallel.
# Reports go to OUTDIR (driver.log has the summary), packed as OUTDIR.tgz after every phase.
# About 6 minutes on an H100.
#
#   opencl-acceptance.sh OUTDIR    environment: BASELINE_LIB (the lib/ of a bundle built before
#                                  the change), CASES (default 30), SUITE_TIMEOUT (seconds a suite
#                                  may take, default 420)
set -u
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
mkdir -p "$1"; o="$(cd "$1" && pwd)"
t0=$(date +%s)
say() { echo "[$(( $(date +%s) - t0 ))s] $*" | tee -a "$o/driver.log"; }
pack() { tar czf "$o.tgz" -C "$o" . 2>/dev/null; }
strip() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }

# run.sh unpacks the runtime and registers NVIDIA's OpenCL driver; its environment is reused here.
bash "$here/run.sh" "$o/info" info > "$o/info.log" 2>&1
java="${ATTN4J_JRE_DIR:-${TMPDIR:-/tmp}/attn4j-jre-$(cksum < "$here/jre.stamp" | cut -d' ' -f1)}/bin/java"
[ -x "$java" ] || { say "no Java runtime at $java"; exit 1; }
if [ -f "$here/icd/nvidia.icd" ]; then export OCL_ICD_VENDORS="$here/icd"; fi
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > "$o/gpu.txt" 2>&1
  say "$(tail -n 1 "$o/gpu.txt")"
else
  say "no nvidia-smi: not an NVIDIA host; the suites run on whatever OpenCL device is found"
fi
ceiling=$(timeout 60 python3 "$here/peers/read_ceiling.py" --value 2>/dev/null)
say "read ceiling ${ceiling:-unmeasured} B/s"
jvm=("$java" --enable-native-access=ALL-UNNAMED -Xss8m)
cp_tests="$here/lib/*:$here/tests/junit-platform-console-standalone.jar:$(ls "$here"/tests/attn4j-backend-opencl-*-tests.jar)"

junit() { # name timeout jvm-options... -- selectors...
  local name=$1 limit=$2; shift 2
  local opts=(); while [ "$1" != "--" ]; do opts+=("$1"); shift; done; shift
  timeout "$limit" "${jvm[@]}" -XX:ErrorFile="$o/hs_$name.log" "${opts[@]}" -cp "$cp_tests" \
    org.junit.platform.console.ConsoleLauncher execute --disable-banner --details=tree "$@" > "$o/$name.txt" 2>&1
  echo "exit $?" >> "$o/$name.txt"
}
summary() { # the verdict lines of a console launcher report
  strip "$1" | grep -E "✘|tests (successful|failed|aborted)|^exit " | head -30
}
bench() { # name classpath backends jvm-options...
  local name=$1 cp=$2 backends=$3; shift 3
  local w=(decode-llama8b decode-mha decode-long prefill-causal-8k prefill-batch-paged cascade-shared-prefix)
  timeout 240 "${jvm[@]}" "$@" -cp "$cp" org.attn4j.cli.Main bench $(printf -- '--workload %s ' "${w[@]}") \
    --backends "$backends" --seconds 0.5 ${ceiling:+--bw-ceiling $ceiling} > "$o/$name.txt" 2>&1
  say "bench $name: exit $?"
  grep -E "^\S+\s+\S+\s+(cuda|opencl)\s" "$o/$name.txt" | cut -c1-150 | tee -a "$o/driver.log" > /dev/null
}

say "phase 1: the kernels' own tests"
junit kernel-tests 240 -- --select-class org.attn4j.opencl.OpenClTensorKernelTest \
  --select-class org.attn4j.opencl.OpenClDecodeStreamKernelTest
summary "$o/kernel-tests.txt" >> "$o/driver.log"
pack

say "phase 2: issue #19's workloads, cuda beside opencl"
bench after-1 "$here/lib/*" cuda,opencl -Dattn4j.opencl.dumpPrograms="$o/programs"
grep -h -E "Compiling entry|Used|spill" "$o"/programs/*.log 2>/dev/null >> "$o/programs.txt"
if [ -n "${BASELINE_LIB:-}" ]; then
  before="$(ls "$here"/lib/*.jar | grep -v attn4j-backend-opencl | tr '\n' ':')$(ls "$BASELINE_LIB"/attn4j-backend-opencl-*.jar)"
  # after-1, before-1, after-2, before-2: a drift of the GPU's clocks shows as a trend.
  bench before-1 "$before" opencl
  bench after-2 "$here/lib/*" opencl
  bench before-2 "$before" opencl
fi
pack

say "phase 3: conformance at ${CASES:-30} cases per property, every configuration, in parallel"
conf=(-Xmx6g -Dattn4j.cases="${CASES:-30}" -Dattn4j.opencl.tune=off -Dattn4j.opencl.tiledSuites=true
      -Dattn4j.opencl.tiledCases="${CASES:-30}")
suites=(OpenClConformanceTest OpenClTensorConformanceTest OpenClTiled16x32ConformanceTest
        OpenClTiled16x64ConformanceTest OpenClTiled32x64ConformanceTest OpenClTiled64x64ConformanceTest
        OpenClTiled64x64r8ConformanceTest OpenClStreamRingConformanceTest)
pids=()
for s in "${suites[@]}"; do
  junit "$s" "${SUITE_TIMEOUT:-420}" "${conf[@]}" -Dattn4j.reportDir="$o/reports-$s" -- \
    --select-class "org.attn4j.opencl.$s" &
  pids+=($!)
done
while :; do
  sleep 20
  running=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && running=$((running + 1)); done
  say "suites running: $running"; pack
  [ "$running" -eq 0 ] && break
done
for s in "${suites[@]}"; do
  echo "== $s" >> "$o/driver.log"
  summary "$o/$s.txt" >> "$o/driver.log"
done
find "$o" -name "*.xml" -size +2M -delete
say done
pack
