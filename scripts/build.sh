#!/usr/bin/env bash
# Configures and builds wsbridge into build/ (or $WSBRIDGE_BUILD_DIR).
# Arguments go to CMake's configure step (-DNAME=VALUE), except
# --target=NAME (repeatable), which builds only that target and what it
# needs: scripts/demo.sh builds the server alone, not every test binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${WSBRIDGE_BUILD_DIR:-$root/build}
configure_args=()
build_args=()
for arg in "$@"; do
  case $arg in
    --target=*) build_args+=(--target "${arg#--target=}") ;;
    *) configure_args+=("$arg") ;;
  esac
done
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} "${configure_args[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" "${build_args[@]}"
