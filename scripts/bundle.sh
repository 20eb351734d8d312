#!/usr/bin/env bash
# Builds bundle/ (ignored by git): everything a GPU host with no JDK and no Maven needs to run the
# conformance suite, the benchmarks and the PyTorch peers. See scripts/bundle-run.sh (bundle/run.sh).
#
#   scripts/bundle.sh            build the project, then assemble bundle/
#   scripts/bundle.sh --no-build assemble from what is already built
#
# Environment: ATTN4J_MVN_LOCK  lock file for Maven (default /tmp/attn4j-mvn.lock; "none": no lock,
#              for callers that already hold it), ATTN4J_MVN_OFFLINE=0 to let Maven download.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
source scripts/env.sh
source scripts/maven.sh

build=1
[ "${1:-}" = "--no-build" ] && build=0

out="$root/bundle"
version=$(sed -n 's:.*<version>\(.*-SNAPSHOT\)</version>.*:\1:p' pom.xml | head -n 1)
junit_version=$(sed -n 's:.*<junit.version>\(.*\)</junit.version>.*:\1:p' pom.xml | head -n 1)
modules=(core-api backend-reference backend-opencl backend-cuda conformance-tests bench cli examples)
backends=(backend-reference backend-opencl backend-cuda)
max_mb=40

mkdir -p "$out"
rm -rf "$out/lib" "$out/tests"
mkdir -p "$out/lib" "$out/tests"

if [ "$build" = 1 ]; then
  echo "bundle: building attn4j $version (tests compiled, not run)"
  # Third-party runtime jars only: the attn4j jars are copied below, JUnit comes as one standalone jar.
  attn4j_mvn package dependency:copy-dependencies -DskipTests \
    -DincludeScope=runtime -DoutputDirectory="$out/lib" \
    -DexcludeGroupIds=org.attn4j,org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian,org.jspecify
else
  # Without a build, take the third-party jars straight from the local repository.
  m2="${HOME}/.m2/repository"
  jcuda=$(sed -n 's:.*<jcuda.version>\(.*\)</jcuda.version>.*:\1:p' pom.xml | head -n 1)
  jocl=$(sed -n 's:.*<jocl.version>\(.*\)</jocl.version>.*:\1:p' pom.xml | head -n 1)
  cp "$m2/org/jcuda/jcuda/$jcuda/jcuda-$jcuda.jar" \
     "$m2/org/jcuda/jcuda-natives/$jcuda/jcuda-natives-$jcuda-linux-x86_64.jar" \
     "$m2/org/jocl/jocl/$jocl/jocl-$jocl.jar" "$out/lib/"
  # The command line's own libraries (picocli, Jackson), as the last package of cli copied them.
  if [ -d cli/target/lib ]; then
    find cli/target/lib -name '*.jar' ! -name 'attn4j-*' ! -name 'jcuda*' ! -name 'jocl*' -exec cp {} "$out/lib/" \;
  else
    echo "bundle: warning: cli/target/lib is missing; run a build first (picocli and Jackson are not bundled)" >&2
  fi
fi

for m in "${modules[@]}"; do
  jar="$m/target/attn4j-$m-$version.jar"
  if [ -f "$jar" ]; then
    cp "$jar" "$out/lib/"
  else
    echo "bundle: warning: $jar is missing (module not built?)" >&2
  fi
done

# Each backend's test classes as a jar: the console launcher scans it for the conformance subclass.
for m in "${backends[@]}"; do
  if [ -d "$m/target/test-classes" ] && [ -n "$(find "$m/target/test-classes" -name '*.class' -print -quit)" ]; then
    jar --create --file "$out/tests/attn4j-$m-$version-tests.jar" -C "$m/target/test-classes" .
  else
    echo "bundle: note: $m has no compiled tests yet" >&2
  fi
done

# JCuda's Linux natives jar carries a 24 MB PTX compiler binding attn4j never loads (kernels are
# built ahead of time by nvcc); dropping it keeps the bundle small.
natives=$(ls "$out"/lib/jcuda-natives-*-linux-x86_64.jar 2>/dev/null | head -n 1 || true)
if [ -n "$natives" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && jar --extract --file "$natives" && rm -f lib/libJNvPTXCompiler-*.so)
  rm "$natives"
  jar --create --file "$natives" --manifest "$tmp/META-INF/MANIFEST.MF" -C "$tmp" lib -C "$tmp" META-INF/maven
  rm -rf "$tmp"
fi

console="${HOME}/.m2/repository/org/junit/platform/junit-platform-console-standalone/$junit_version/junit-platform-console-standalone-$junit_version.jar"
if [ ! -f "$console" ]; then
  attn4j_mvn dependency:get -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_version"
fi
cp "$console" "$out/tests/junit-platform-console-standalone.jar"

# The runtime: a jlink image, rebuilt only when the JDK or the module list changes. The image is
# left uncompressed (zip-0) because xz over the whole tree packs far tighter than zip-9 inside it.
# java.desktop draws the bench chart; jdk.zipfs lets the console launcher scan test jars.
jre_modules="java.base,jdk.unsupported,java.logging,java.xml,java.desktop,java.management,jdk.zipfs,jdk.jfr"
# jdeps resolves every modular jar it sees, and conformance-tests requires JUnit's modules, which
# the bundle carries only inside the console launcher: the scan leaves that jar out (it needs
# nothing of the JDK beyond java.base).
scan=$(mktemp -d)
for j in "$out"/lib/*.jar; do
  case "$(basename "$j")" in attn4j-conformance-tests-*) ;; *) ln -s "$j" "$scan/" ;; esac
done
deps=$("$JAVA_HOME/bin/jdeps" --print-module-deps --ignore-missing-deps --multi-release 25 --module-path "$scan" \
  "$scan"/*.jar "$out"/tests/*.jar 2>/dev/null | tail -n 1 || true)
rm -rf "$scan"
if [[ "$deps" =~ ^[a-z0-9.,]+$ ]]; then
  jre_modules=$(echo "$jre_modules,$deps" | tr ',' '\n' | grep -v '^$' | sort -u | paste -sd, -)
else
  echo "bundle: note: jdeps failed; using the base module list" >&2
fi
stamp="$("$JAVA_HOME/bin/java" -version 2>&1 | head -n 2 | tr '\n' ' ') $jre_modules"
if [ ! -f "$out/jre.tar.xz" ] || [ "$(cat "$out/jre.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "bundle: jlink runtime ($jre_modules)"
  tmp=$(mktemp -d)
  "$JAVA_HOME/bin/jlink" --add-modules "$jre_modules" --strip-debug --no-header-files --no-man-pages \
    --compress=zip-0 --output "$tmp/jre"
  tar -C "$tmp" -cf - jre | xz -9 -T"$(nproc)" > "$out/jre.tar.xz"
  rm -rf "$tmp"
  echo "$stamp" > "$out/jre.stamp"
fi

# Nothing unpacked may stay inside: the folder travels to the GPU host under a size limit.
rm -rf "$out/jre" "$out/icd"
cp scripts/bundle-run.sh "$out/run.sh"
cp scripts/ab_summary.py "$out/ab_summary.py"
cp scripts/bundle-acceptance.sh "$out/acceptance.sh"
cp scripts/bundle-opencl-acceptance.sh "$out/opencl-acceptance.sh"
chmod +x "$out/run.sh" "$out/acceptance.sh" "$out/opencl-acceptance.sh"
mkdir -p "$out/peers"
if [ -d bench/peers ]; then
  cp bench/peers/*.py "$out/peers/" 2>/dev/null || true
  cp bench/workloads.json "$out/peers/" # the named workloads, which the peers script reads beside itself
fi

size_kb=$(du -sk "$out" | cut -f1)
echo "bundle: $out is $((size_kb / 1024)) MB"
ls -la "$out" "$out/lib" "$out/tests"
if [ "$size_kb" -gt $((max_mb * 1024)) ]; then
  echo "bundle: larger than $max_mb MB" >&2
  exit 1
fi
