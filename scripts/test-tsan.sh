#!/usr/bin/env bash
# Builds wsbridge with ThreadSanitizer (clang) into build-tsan (or
# $WSBRIDGE_TSAN_BUILD_DIR) and runs the integration tests where worker
# threads share something: the worker loops themselves, echo, lifecycle and
# shutdown, TLS (SIGHUP swaps the context), limits (--maxforks), CGI, Unix
# sockets, systemd, --reverselookup (its own lookup threads), and the
# spawner (its threads clone children; also
# io.proc_spawner_test, which calls Spawner::spawn from four threads), and
# the child reaper (its thread hands exits to the loops: test_descriptors,
# io.proc_child_reaper_test with two loops on two threads). Every
# server runs two worker loops (WSBRIDGE_TEST_WORKERS, which wsb.py passes
# on), however many cores the machine has. Fails on any test failure and on any TSan report that is not
# about a descriptor number (see below). Extra arguments go to ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${WSBRIDGE_TSAN_BUILD_DIR:-$root/build-tsan}
# The server, and io_tests for its spawner file: Spawner::spawn is called
# from several threads at once there, in the test process itself. The unit
# tests are single-threaded and run elsewhere.
CC=${CC:-clang-14} CXX=${CXX:-clang++-14} cmake -S "$root" -B "$build_dir" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSBRIDGE_TSAN=ON >/dev/null
cmake --build "$build_dir" --target wsbridge io_tests -j"$(nproc)"

# Reports go to files, as in test-asan.sh: every sanitized server writes
# $build_dir/sanitizer-logs/tsan.<pid>.
logs=$build_dir/sanitizer-logs
rm -rf "$logs"
mkdir -p "$logs"
# Debian's libuv is not built with TSan, and on Linux it closes descriptors
# with syscall(SYS_close) (src/unix/core.c, uv__close_nocancel), which TSan
# does not see. When a number libuv closed is reused by another thread, TSan
# reports a race on the "file descriptor" itself: a false positive. So the
# servers keep running (halt_on_error=0, exit status untouched) and every
# report is judged afterwards: one on a descriptor is counted, any other
# (memory, mutex, signal, thread) fails the run.
# scripts/tsan.supp lists the false positives from inside glibc, each with why.
export TSAN_OPTIONS=halt_on_error=0:exitcode=0:second_deadlock_stack=1:log_path=$logs/tsan:suppressions=$root/scripts/tsan.supp
export WSBRIDGE_TEST_WORKERS=${WSBRIDGE_TEST_WORKERS:-2}

subset='integration\.(test_workers|test_echo|test_lifecycle|test_tls|test_limits|test_cgi|test_unix_socket|test_systemd|test_teardown|test_spawner|test_reverselookup|test_descriptors)$|^io\.(proc_spawner_test|proc_child_reaper_test|net_host_name_lookups_test)$'
status=0
(cd "$build_dir" && ctest --output-on-failure --no-tests=error -j2 -R "$subset" "$@") || status=$?
python3 "$root/scripts/tsan_reports.py" "$logs" || status=1
exit "$status"
