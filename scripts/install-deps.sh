#!/usr/bin/env bash
# Installs the Debian 12 packages wsbridge needs to build and test.
# Idempotent and quiet: when everything is present it prints nothing and
# never touches apt. Needs root (or sudo) only when something is missing.
set -euo pipefail

# Build: compiler, CMake, the libraries we link, and the llhttp C sources.
build_packages=(g++ cmake make pkg-config libuv1-dev libssl-dev libcli11-dev
                catch2 node-llhttp zlib1g-dev libhiredis-dev)
# Tests: real peers (python websockets + pytest, node ws) and the reference
# implementation we compare against.
# clang-14 + its runtime libraries build the libFuzzer targets (scripts/fuzz.sh).
test_packages=(python3 python3-websockets python3-pytest nodejs node-ws
               websocketd procps openssl clang-14 libclang-rt-14-dev
               nginx haproxy dpkg-dev file systemd llvm-14 man-db groff-base
               prometheus redis-server)
# chromium (headless) drives the --devconsole page in test_devconsole.py.
test_packages+=(chromium)
# nginx and haproxy sit in front of wsbridge in test_nginx.py/test_haproxy.py
# (started by the tests on 127.0.0.1 only); dpkg-dev and file give CPack's
# .deb generator dpkg-shlibdeps and `file` (scripts/package.sh,
# test_package.py); systemd gives systemd-analyze and
# systemd-socket-activate (test_systemd_units.py; it is not started);
# llvm-14 gives /usr/bin/llvm-symbolizer-14, which clang-14's sanitizer
# runtimes run to name a report's functions: without it every frame is
# "<null>" and scripts/tsan_reports.py cannot judge a report; man-db and
# groff-base render and check the man page (test_package.py); prometheus
# gives promtool and a real Prometheus server for test_metrics.py (started
# by the test on 127.0.0.1 only); redis-server is the room broker of
# test_cluster.py (started by the test on 127.0.0.1, without persistence).
# Debian enables both services on install; when this script installed one,
# that service is stopped and disabled again
# (at the end), so the tests' dependencies leave no port open.

wanted=("${build_packages[@]}")
if [[ "${1:-}" == "--with-tests" ]]; then
  wanted+=("${test_packages[@]}")
fi

missing=()
for pkg in "${wanted[@]}"; do
  # dpkg-query prints "install ok installed" only for a fully set-up package.
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

# A node from outside Debian (nvm, /usr/local) satisfies "nodejs" as well.
if [[ " ${missing[*]} " == *" nodejs "* ]] && command -v node >/dev/null 2>&1; then
  missing=("${missing[@]/nodejs}")
  read -r -a missing <<< "${missing[*]}"
fi

(( ${#missing[@]} == 0 )) && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" prometheus "* ]] && [[ -d /run/systemd/system ]]; then
  "${sudo_cmd[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
if [[ " ${missing[*]} " == *" redis-server "* ]] && [[ -d /run/systemd/system ]]; then
  "${sudo_cmd[@]}" systemctl disable --now redis-server.service >/dev/null 2>&1 || true
fi
