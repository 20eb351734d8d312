#!/usr/bin/env bash
# Builds attn4j and runs `attn4j demo` (a small continuous-batching session) on the best
# available backend. Pass -Dattn4j.backend=... or set ATTN4J_BACKEND to choose another.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
./mvnw -B -q package -DskipTests
exec scripts/attn4j demo "$@"
