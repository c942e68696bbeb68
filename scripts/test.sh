#!/usr/bin/env bash
# The test command: installs missing Debian packages, builds, runs every
# unit and integration test with ctest; then the same suite again against an
# ASan+UBSan build (scripts/test-asan.sh), the threaded part of it against a
# ThreadSanitizer build with two worker loops (scripts/test-tsan.sh), and
# every fuzz target for a bounded time (scripts/fuzz.sh). Each stage runs even
# if an earlier one failed; the exit status is non-zero if any did.
# WSBRIDGE_SKIP_ASAN=1, WSBRIDGE_SKIP_TSAN=1 or WSBRIDGE_SKIP_FUZZ=1 leave a
# stage out; WSBRIDGE_FUZZ_SECONDS sets the time
# per fuzz target (default 30).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --with-tests
"$root/scripts/build.sh"
build_dir=${WSBRIDGE_BUILD_DIR:-$root/build}
status=0
(cd "$build_dir" && ctest --output-on-failure --no-tests=error -j2 "$@") || status=1
if [[ "${WSBRIDGE_SKIP_ASAN:-0}" != 1 ]]; then
  # A shorter soak under ASan: it is several times slower, and the plain
  # run has already soaked for the full time.
  WSBRIDGE_SOAK_SECONDS=${WSBRIDGE_ASAN_SOAK_SECONDS:-30} "$root/scripts/test-asan.sh" "$@" || status=1
fi
if [[ "${WSBRIDGE_SKIP_TSAN:-0}" != 1 ]]; then
  "$root/scripts/test-tsan.sh" || status=1
fi
if [[ "${WSBRIDGE_SKIP_FUZZ:-0}" != 1 ]]; then
  WSBRIDGE_FUZZ_SECONDS=${WSBRIDGE_FUZZ_SECONDS:-30} "$root/scripts/fuzz.sh" || status=1
fi
exit "$status"
