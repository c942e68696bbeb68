#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz and
# runs each for a bounded time. Fails if any target crashes, leaks, times out
# on one input or breaks one of its invariants; the input that did it is left
# in build-fuzz/artifacts/ and printed as base64 in the log.
#
#   scripts/fuzz.sh                  # every target, 30 s each
#   WSBRIDGE_FUZZ_SECONDS=300 scripts/fuzz.sh frame_fuzz
#
# New inputs the fuzzers find go to build-fuzz/corpus/<target>, never into
# the committed seeds (tests/fuzz/corpus/<target>).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${WSBRIDGE_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${WSBRIDGE_FUZZ_SECONDS:-30}
all_targets=(frame_fuzz http_fuzz utf8_fuzz line_splitter_fuzz cgi_env_fuzz cgi_response_fuzz
             static_path_fuzz proxy_protocol_fuzz args_fuzz extension_offer_fuzz inflater_fuzz)
targets=("$@")
(( ${#targets[@]} > 0 )) || targets=("${all_targets[@]}")

cc=${CC:-clang-14}
cxx=${CXX:-clang++-14}
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }
CC=$cc CXX=$cxx cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWSBRIDGE_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target fuzz_targets >/dev/null

# Leaks count as failures (ASan's LeakSanitizer runs after each input when
# libFuzzer sees a malloc/free imbalance); UBSan stops at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

mkdir -p "$build_dir/artifacts"
failed=()
for target in "${targets[@]}"; do
  seeds="$root/tests/fuzz/corpus/$target"
  work="$build_dir/corpus/$target"
  mkdir -p "$work"
  log="$build_dir/artifacts/$target.log"
  start=$(date +%s)
  # -timeout: one input taking over 10 s is a hang. -rss_limit_mb: an input
  # that makes the code under test use 1 GiB is a memory bug, not a test.
  # -max_len 64 KiB lets the fuzzer build frames in the 16-bit length form
  # and long request heads.
  if "$build_dir/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$build_dir/artifacts/$target-" \
       "$work" "$seeds" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz.sh: $target ok: ${runs:-?} runs in $(( $(date +%s) - start )) s, $cov"
  else
    echo "fuzz.sh: $target FAILED (log: $log)" >&2
    grep -E 'FUZZ_CHECK|ERROR|SUMMARY|runtime error|Test unit written|Base64' "$log" >&2 || tail -30 "$log" >&2
    failed+=("$target")
  fi
done
if (( ${#failed[@]} > 0 )); then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
