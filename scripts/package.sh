#!/usr/bin/env bash
# Builds the Debian package (CPack, DEB generator) in its own build dir,
# build-pkg/ (or $WSBRIDGE_PKG_BUILD_DIR), without tests, and prints the
# path of the .deb. Needs dpkg-dev for dpkg-shlibdeps and file, both of
# which CPack's .deb generator runs (install-deps.sh --with-tests installs
# them).
#
#   scripts/package.sh                 # -> build-pkg/wsbridge_0.1.0_amd64.deb
#   sudo apt install ./build-pkg/wsbridge_*.deb
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${WSBRIDGE_PKG_BUILD_DIR:-$root/build-pkg}

# CPack would stop with a less helpful message ("file utility is not available").
for tool in dpkg-shlibdeps:dpkg-dev file:file; do
  command -v "${tool%%:*}" >/dev/null || {
    echo "package.sh: ${tool%%:*} missing; install ${tool#*:} (scripts/install-deps.sh --with-tests)" >&2
    exit 1
  }
done

# Release flags and no tests: the package holds only what `cmake --install` installs.
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
cmake --build "$build_dir" -j"$(nproc)" --target wsbridge man_page >/dev/null
# A stale package from an earlier version must not be mistaken for this one.
rm -f "$build_dir"/wsbridge_*.deb
(cd "$build_dir" && cpack -G DEB >/dev/null)
deb=$(ls "$build_dir"/wsbridge_*.deb)
echo "$deb"
