#!/usr/bin/env bash
# Builds every module and runs every test: core, reference, conformance on each backend
# (backends without a device skip with their probe's reasons), cli.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
exec ./mvnw -B verify "$@"
