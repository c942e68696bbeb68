#!/usr/bin/env bash
# The test command: installs missing Debian packages, builds, runs every
# unit and integration test with ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --with-tests
"$root/scripts/build.sh"
build_dir=${WSBRIDGE_BUILD_DIR:-$root/build}
cd "$build_dir"
ctest --output-on-failure -j2 "$@"
