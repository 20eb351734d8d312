#!/usr/bin/env bash
# Builds attn4j and runs `attn4j demo` (a small continuous-batching session) on the best
# available backend.
#
#   scripts/demo.sh [--no-cuda-kernels] [-Dattn4j.backend=...] [demo arguments...]
#
# --no-cuda-kernels (or ATTN4J_NO_NVCC=1) skips the CUDA kernel build (5 to 7 minutes on 2 cores)
# on a machine that has nvcc; the CUDA backend is then "built without kernels" and the demo runs
# on OpenCL or the reference. Choose a backend with -Dattn4j.backend=... or ATTN4J_BACKEND.
# Everything else goes to `attn4j demo` unchanged.
#
# The build prints one line per module, the kernel build's progress, warnings and errors, and a
# line at least every 20 s; Maven's full output goes to target/demo-build.log.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

maven=(-B package -DskipTests)
[ "${ATTN4J_NO_NVCC:-0}" = 1 ] && maven+=(-P '!nvcc')
demo=()
for a in "$@"; do
  case "$a" in
    --no-cuda-kernels) maven+=(-P '!nvcc') ;;
    *) demo+=("$a") ;;
  esac
done

mkdir -p target
log=target/demo-build.log
t0=$SECONDS
stamp() { printf '%d:%02d' $(( (SECONDS - t0) / 60 )) $(( (SECONDS - t0) % 60 )); }

# Reads Maven's output: keeps all of it in $log, shows what it is doing.
progress() {
  local line partial="" shown=$SECONDS doing="starting Maven" downloads=0 reported=0 module
  while true; do
    if IFS= read -r -t 5 line; then
      line="$partial$line"
      partial=""
      printf '%s\n' "$line" >>"$log"
      case "$line" in
        "[INFO] Building "*"/"*"]")
          module="${line#\[INFO\] Building }"
          doing="building ${module%% [0-9]*} (${line##*\[}"
          doing="${doing%]})"
          echo "demo: [$(stamp)] ${doing}"
          shown=$SECONDS ;;
        "nvcc:"* | "attn4j kernels up to date"* | "[INFO] nvcc:"* | "[INFO] attn4j kernels up to date"*)
          echo "demo: [$(stamp)] ${line#\[INFO\] }"
          shown=$SECONDS ;;
        "[INFO] --- "*)
          doing="running ${line#\[INFO\] --- }"
          doing="${doing%% ---}" ;;
        "Downloaded from "* | "[INFO] Downloaded from "*)
          downloads=$(( downloads + 1 )) ;;
        "[ERROR]"* | "[WARNING]"*)
          echo "$line"
          shown=$SECONDS ;;
      esac
    elif (( $? > 128 )); then
      partial="$partial$line" # no whole line for 5 s
    else
      break
    fi
    if (( SECONDS - shown >= 20 )); then
      if (( downloads > reported )); then
        echo "demo: [$(stamp)] still ${doing}; downloaded ${downloads} files so far"
        reported=$downloads
      else
        echo "demo: [$(stamp)] still ${doing}"
      fi
      shown=$SECONDS
    fi
  done
}

echo "demo: building attn4j (Maven's full output: $log). A first build downloads the dependencies and,"
echo "demo: where nvcc is, compiles the CUDA kernels: a few minutes; --no-cuda-kernels skips the kernels."
: >"$log"
set +e
./mvnw "${maven[@]}" 2>&1 | progress
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "demo: the build failed after $(stamp) (exit $status); the end of $log:" >&2
  tail -n 40 "$log" >&2
  exit "$status"
fi
echo "demo: [$(stamp)] built"
exec scripts/attn4j demo ${demo[@]+"${demo[@]}"}
