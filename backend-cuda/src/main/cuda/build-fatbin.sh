#!/usr/bin/env bash
# Compiles kernels.cu into one fatbin: SASS for sm_80 and sm_90a, PTX (compute_90) for newer GPUs.
# Usage: build-fatbin.sh NVCC OUTPUT. Skips the work when OUTPUT is newer than every source.
#
# Each architecture compiles in an nvcc process of its own, ATTN4J_NVCC_JOBS at a time (default:
# the number of CPUs, at most 3), so the build can say what it is doing: a line when each starts
# and ends, with its time, and a progress line every 20 s. fatbinary then links the three images
# into one fatbin, as `nvcc --fatbin` with the three -gencode options does. On 2 cores the whole
# takes 5 to 7 minutes on a 2-core AMD EPYC, as long as one nvcc --threads 2 call.
set -euo pipefail
nvcc="$1"
out="$2"
src="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$(dirname "$out")"
if [[ -f "$out" ]] && [[ -z "$(find "$src" -newer "$out" \( -name '*.cu' -o -name '*.cuh' -o -name '*.sh' \))" ]]; then
    echo "attn4j kernels up to date: $out"
    exit 0
fi

fatbinary="$(dirname "$nvcc")/fatbinary"
if [[ ! -x "$fatbinary" ]]; then
    fatbinary="$(command -v fatbinary || true)"
fi
if [[ -z "$fatbinary" ]]; then
    echo "nvcc: fatbinary not found next to $nvcc nor on PATH" >&2
    exit 1
fi
jobs_max="${ATTN4J_NVCC_JOBS:-$(nproc 2>/dev/null || echo 2)}"
(( jobs_max > 3 )) && jobs_max=3
(( jobs_max < 1 )) && jobs_max=1

parts="$(mktemp -d "$out.parts.XXXXXX")"
declare -A pid_of=() start_of=()
cleanup() {
    for t in "${!pid_of[@]}"; do kill "${pid_of[$t]}" 2>/dev/null || true; done
    rm -rf "$parts"
}
trap cleanup EXIT

# name, what it is, nvcc output kind, -gencode, fatbinary image. The longest first.
targets=(sm_90a sm_80 compute_90)
declare -A what=([sm_90a]="SASS for Hopper" [sm_80]="SASS for Ampere and newer" [compute_90]="PTX for GPUs after Hopper")
declare -A kind=([sm_90a]=-cubin [sm_80]=-cubin [compute_90]=-ptx)
declare -A gencode=([sm_90a]=arch=compute_90a,code=sm_90a [sm_80]=arch=compute_80,code=sm_80 [compute_90]=arch=compute_90,code=compute_90)
declare -A file=([sm_90a]="$parts/sm_90a.cubin" [sm_80]="$parts/sm_80.cubin" [compute_90]="$parts/compute_90.ptx")
declare -A image=([sm_90a]=kind=elf,sm=90a [sm_80]=kind=elf,sm=80 [compute_90]=kind=ptx,sm=90)

t0=$SECONDS
since() { local s=$(( SECONDS - $1 )); printf '%dm%02ds' $(( s / 60 )) $(( s % 60 )); }

echo "nvcc: building $out: ${targets[*]} (${jobs_max} at a time; 5 to 7 minutes on 2 cores; skipped with --no-cuda-kernels or -P '!nvcc')"
pending=("${targets[@]}")
failed=()
last_note=$SECONDS
while (( ${#pending[@]} > 0 || ${#pid_of[@]} > 0 )); do
    while (( ${#pending[@]} > 0 && ${#pid_of[@]} < jobs_max )); do
        t="${pending[0]}"
        pending=("${pending[@]:1}")
        echo "nvcc: [$(since "$t0")] compiling ${t} (${what[$t]})"
        "$nvcc" -O3 -std=c++17 "${kind[$t]}" -gencode "${gencode[$t]}" -o "${file[$t]}" "$src/kernels.cu" \
            >"$parts/$t.log" 2>&1 &
        pid_of[$t]=$!
        start_of[$t]=$SECONDS
    done
    sleep 1
    for t in "${!pid_of[@]}"; do
        if ! kill -0 "${pid_of[$t]}" 2>/dev/null; then
            status=0
            wait "${pid_of[$t]}" || status=$?
            unset "pid_of[$t]"
            cat "$parts/$t.log"
            if (( status == 0 )); then
                echo "nvcc: [$(since "$t0")] ${t} done in $(since "${start_of[$t]}")"
            else
                echo "nvcc: [$(since "$t0")] ${t} FAILED (exit ${status}) after $(since "${start_of[$t]}")" >&2
                failed+=("$t")
            fi
        fi
    done
    if (( ${#failed[@]} > 0 )); then
        exit 1
    fi
    if (( ${#pid_of[@]} > 0 && SECONDS - last_note >= 20 )); then
        running=""
        for t in "${targets[@]}"; do
            [[ -n "${pid_of[$t]:-}" ]] && running+=" ${t} ($(since "${start_of[$t]}"))"
        done
        echo "nvcc: [$(since "$t0")] still compiling:${running}"
        last_note=$SECONDS
    fi
done

images=()
for t in "${targets[@]}"; do
    images+=("--image3=${image[$t]},file=${file[$t]}")
done
"$fatbinary" --create="$out.tmp" -64 --cicc-cmdline="-ftz=0 -prec_div=1 -prec_sqrt=1 -fmad=1 " "${images[@]}"
mv "$out.tmp" "$out"
echo "nvcc: [$(since "$t0")] linked ${targets[*]} into $out ($(( $(stat -c %s "$out") / 1024 )) KiB)"
