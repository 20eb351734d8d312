#!/usr/bin/env bash
# Adds a build of the CUDA kernels to bundle/variants/, for `run.sh OUT ab` to time against the
# bundle's own build on the same GPU in the same call.
#
#   scripts/bundle-variant.sh NAME [--rev REV] [--java] [-- NVCC_FLAGS...]   kernels compiled here
#   scripts/bundle-variant.sh NAME --jar PATH                                 a CUDA jar built earlier
#
# The first form compiles backend-cuda/src/main/cuda/kernels.cu (of the working tree, or of
# revision REV) for sm_90a (ATTN4J_VARIANT_ARCH to change it) with the extra nvcc flags (e.g.
# -DSOME_SWITCH), and writes bundle/variants/NAME.jar: the bundle's CUDA jar with that fatbin in
# place of its own. The Java classes stay the bundle's, so the kernels must take the parameter
# structs the bundle's classes write (params.cuh); with --java (needs --rev) the jar's classes are
# that revision's CUDA module too (built by Maven, without nvcc, in a temporary worktree), for a
# variant whose plans choose or size kernels differently, and bundle/variants/NAME-tests.jar holds
# that revision's CUDA tests (run.sh runs them with ATTN4J_VARIANT=NAME). Or give a whole jar
# built earlier with --jar (e.g. a copy of bundle/lib's CUDA jar saved before rebuilding).
# Compiling one architecture takes a few minutes on 2 cores. Environment: ATTN4J_MVN_LOCK and
# ATTN4J_MVN_OFFLINE as for scripts/bundle.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

usage() { sed -n '2,/^set -e/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
name="$1"; shift
[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "bundle-variant: a name of letters, digits, '.', '_' or '-', not '$name'" >&2; exit 2; }
rev=""; jar=""; java=0; flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rev) rev="${2:?--rev needs a revision}"; shift 2 ;;
    --java) java=1; shift ;;
    --jar) jar="${2:?--jar needs a path}"; shift 2 ;;
    --) shift; flags=("$@"); break ;;
    *) usage ;;
  esac
done

mkdir -p bundle/variants
out="bundle/variants/$name.jar"
rm -f "bundle/variants/$name-tests.jar"  # only a --java build of this name makes it anew
if [ -n "$jar" ]; then
  [ -f "$jar" ] || { echo "bundle-variant: no jar at $jar" >&2; exit 1; }
  cp "$jar" "$out"
  echo "bundle-variant: $out (copied from $jar)"
  exit 0
fi

base=$(ls bundle/lib/attn4j-backend-cuda-*.jar 2>/dev/null | grep -v -- '-tests' | head -n 1 || true)
[ -n "$base" ] || { echo "bundle-variant: bundle/lib holds no CUDA jar; run scripts/bundle.sh first" >&2; exit 1; }
command -v nvcc >/dev/null || { echo "bundle-variant: nvcc not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bundle-variant: python3 not found" >&2; exit 1; }

[ "$java" = 0 ] || [ -n "$rev" ] || { echo "bundle-variant: --java needs --rev" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/attn4j-variant.XXXXXX")"
trap 'git worktree remove --force "$work/tree" >/dev/null 2>&1; rm -rf "$work"' EXIT
if [ "$java" = 1 ]; then
  echo "bundle-variant: building the CUDA module's classes of $rev"
  source scripts/env.sh
  source scripts/maven.sh
  git worktree add --detach -q "$work/tree" "$rev"
  (cd "$work/tree" && attn4j_mvn -P '!nvcc' -DskipTests package -pl backend-cuda -am)
  classes=$(ls "$work"/tree/backend-cuda/target/attn4j-backend-cuda-*.jar 2>/dev/null \
    | grep -v -e '-tests' -e '-sources' | head -n 1 || true)
  [ -n "$classes" ] || { echo "bundle-variant: the CUDA module of $rev built no jar" >&2; exit 1; }
  base="$classes"
  jar --create --file "bundle/variants/$name-tests.jar" -C "$work/tree/backend-cuda/target/test-classes" .
  echo "bundle-variant: bundle/variants/$name-tests.jar (the CUDA tests of $rev)"
fi
src="backend-cuda/src/main/cuda"
if [ -n "$rev" ]; then
  git archive "$rev" "$src" | tar -x -C "$work"
  src="$work/$src"
fi
arch="${ATTN4J_VARIANT_ARCH:-sm_90a}"
what="${rev:-the working tree}${flags[*]:+ with ${flags[*]}}"
echo "bundle-variant: compiling the kernels of $what for $arch (a few minutes)"
nvcc -O3 -std=c++17 -fatbin -gencode "arch=compute_${arch#sm_},code=$arch" "${flags[@]}" \
  -o "$work/kernels.fatbin" "$src/kernels.cu"

python3 - "$base" "$work/kernels.fatbin" "$out" "$java" <<'PY'
import sys, zipfile
base, fatbin, out, java = sys.argv[1:]
entry = "org/attn4j/cuda/attn4j-kernels.fatbin"
with zipfile.ZipFile(base) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
    names = zin.namelist()
    if entry not in names and java != "1":
        sys.exit(f"bundle-variant: {base} holds no {entry}")
    for item in zin.infolist():
        if item.filename != entry:
            zout.writestr(item, zin.read(item.filename))
    # A jar built without nvcc has no kernels entry: the fatbin joins it.
    zout.writestr(zipfile.ZipInfo(entry, date_time=(2026, 1, 1, 0, 0, 0)), open(fatbin, "rb").read(),
                  compress_type=zipfile.ZIP_DEFLATED)
PY
echo "bundle-variant: $out (the kernels of $what)"
