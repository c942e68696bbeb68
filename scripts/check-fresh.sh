#!/usr/bin/env bash
# Runs the README's two set-up commands as a new user would on a fresh,
# minimal Debian 12: `debootstrap --variant=minbase bookworm` into a scratch
# folder, the repository's committed HEAD cloned into it, then, as root in a
# chroot, scripts/demo.sh (checked from outside: the console page and the
# first count over a WebSocket, then stopped) and scripts/test.sh. It finds
# a package that developers' machines happen to have but
# scripts/install-deps.sh never installs. Not part of CI: run it after
# changing install-deps.sh, a script's tools or a test's dependencies.
#
#   scripts/check-fresh.sh            # every stage of test.sh: hours on 2 cores
#   WSBRIDGE_SKIP_ASAN=1 WSBRIDGE_SKIP_TSAN=1 WSBRIDGE_SKIP_FUZZ=1 scripts/check-fresh.sh
#   scripts/check-fresh.sh --keep     # leave the chroot for a look (its path is printed)
#
# Needs root (re-runs itself through sudo), debootstrap (installed through
# apt-get when missing) and a Debian mirror (debootstrap's default, or
# WSBRIDGE_DEBIAN_MIRROR). The WSBRIDGE_SKIP_*, WSBRIDGE_FUZZ_SECONDS and
# WSBRIDGE_*SOAK_SECONDS variables reach test.sh. The chroot goes in a new
# folder under /var/tmp (WSBRIDGE_FRESH_DIR for another parent); logs of each
# step go to build-fresh/ (WSBRIDGE_FRESH_LOGS). PORT picks the demo's port
# (default 18080). Exit status: 0 when both commands succeeded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

keep=0
for arg in "$@"; do
  case $arg in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-fresh.sh: unknown argument '$arg' (allowed: --keep, --help)" >&2; exit 2 ;;
  esac
done

if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "check-fresh.sh: needs root (chroot, mounts) or sudo" >&2; exit 1; }
  exec sudo --preserve-env=WSBRIDGE_SKIP_ASAN,WSBRIDGE_SKIP_TSAN,WSBRIDGE_SKIP_FUZZ,WSBRIDGE_FUZZ_SECONDS,WSBRIDGE_SOAK_SECONDS,WSBRIDGE_ASAN_SOAK_SECONDS,WSBRIDGE_FRESH_DIR,WSBRIDGE_FRESH_LOGS,WSBRIDGE_DEBIAN_MIRROR,PORT \
    "$0" "$@"
fi

if ! command -v debootstrap >/dev/null; then
  echo "check-fresh.sh: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

# Only what is committed is checked: a file a developer forgot to add must fail here.
head_commit=$(git -C "$root" rev-parse HEAD)
if [[ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]]; then
  echo "check-fresh.sh: note: uncommitted changes are not part of this check (HEAD is $head_commit)" >&2
fi

logs=${WSBRIDGE_FRESH_LOGS:-$root/build-fresh}
mkdir -p "$logs"
parent=${WSBRIDGE_FRESH_DIR:-/var/tmp}
jail=$(mktemp -d "$parent/wsbridge-fresh.XXXXXX")
port=${PORT:-18080}
mounted=()
demo_pid=

# Every process left running inside the chroot was started by this script
# (the demo server, or a test's child that outlived it): each is found by the
# root folder it runs in and ended by its pid, so the mounts can go.
stop_jailed_processes() {
  local link pid
  for link in /proc/[0-9]*/root; do
    pid=${link#/proc/}; pid=${pid%/root}
    [[ "$(readlink "$link" 2>/dev/null)" == "$jail" ]] && kill -KILL "$pid" 2>/dev/null
  done
  return 0
}

clean_up() {
  local status=$? index
  if [[ -n "$demo_pid" ]] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null
    wait "$demo_pid" 2>/dev/null || true
  fi
  stop_jailed_processes
  # Reverse order: /dev/pts lies on /dev. A lazy unmount is the fallback for
  # a mount still busy, so the host's /dev or /proc is never left in the jail.
  for (( index=${#mounted[@]}-1; index>=0; index-- )); do
    umount "${mounted[index]}" 2>/dev/null || umount -l "${mounted[index]}"
  done
  if (( keep )); then
    echo "check-fresh.sh: chroot kept in $jail" >&2
  elif ! grep -q " $jail/" /proc/self/mounts; then
    # --one-file-system: never follow a mount that is somehow still there.
    rm -rf --one-file-system "$jail"
  fi
  exit "$status"
}
trap clean_up EXIT
trap 'exit 130' INT TERM

mount_in_jail() {  # mount_in_jail TARGET MOUNT-ARGS...
  local target=$jail$1
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
}

step() { echo "check-fresh.sh: $*" >&2; }

step "debootstrap --variant=minbase bookworm into $jail (log: $logs/debootstrap.log)"
mirror=()
[[ -n "${WSBRIDGE_DEBIAN_MIRROR:-}" ]] && mirror=("$WSBRIDGE_DEBIAN_MIRROR")
if ! debootstrap --variant=minbase bookworm "$jail" "${mirror[@]}" >"$logs/debootstrap.log" 2>&1; then
  step "debootstrap failed; the end of its log:"
  tail -20 "$logs/debootstrap.log" >&2
  exit 1
fi

mount_in_jail /proc -t proc proc
mount_in_jail /sys -t sysfs sysfs
mount_in_jail /dev --bind /dev
mount_in_jail /dev/pts --bind /dev/pts
# Python's multiprocessing and some tests want a writable /dev/shm; the bind
# of /dev above does not carry the host's.
mount_in_jail /dev/shm -t tmpfs -o size=512m,mode=1777 tmpfs
# A chroot has no init: packages that ship a daemon (nginx, haproxy) must not
# start it on the host's network when installed, as a container would not.
printf '#!/bin/sh\nexit 101\n' >"$jail/usr/sbin/policy-rc.d"
chmod 755 "$jail/usr/sbin/policy-rc.d"

checkout=/root/wsbridge
git clone --quiet --no-local "$root" "$jail$checkout"
git -C "$jail$checkout" checkout --quiet --detach "$head_commit"
step "cloned $head_commit into $checkout"

# The environment a login shell of a new root user has, plus the test knobs.
jail_env=(env -i HOME=/root USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8
          PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
for name in WSBRIDGE_SKIP_ASAN WSBRIDGE_SKIP_TSAN WSBRIDGE_SKIP_FUZZ WSBRIDGE_FUZZ_SECONDS \
            WSBRIDGE_SOAK_SECONDS WSBRIDGE_ASAN_SOAK_SECONDS; do
  [[ -n "${!name:-}" ]] && jail_env+=("$name=${!name}")
done
in_jail() { chroot "$jail" "${jail_env[@]}" bash -c "cd $checkout && $1"; }

# The demo's promise, seen from outside: the console page on a plain GET,
# and "1" as the first message of a WebSocket.
demo_answers() {
  local page frames
  page=$(timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port
    printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3; cat <&3") || return 1
  [[ "$page" == *'id="connect"'* ]] || { step "demo: the console page is missing from GET /"; return 1; }
  # RFC 6455's sample key; the 101's blank line is followed by a text frame
  # (0x81), one byte long, holding '1' (od -c shows the bytes in octal).
  frames=$(timeout 4 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port
    printf 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n' >&3
    cat <&3" | od -An -c | tr -s ' \n' ' ') || true
  [[ "$frames" == *' 1 0 1 S w i t c h i n g '*'\r \n \r \n 201 001 1 '* ]] || { step "demo: no upgrade with the message 1 (got:$frames)"; return 1; }
}

status=0
step "scripts/demo.sh on port $port (log: $logs/demo.log)"
chroot "$jail" "${jail_env[@]}" PORT="$port" bash -c "cd $checkout && exec scripts/demo.sh" \
  >"$logs/demo.log" 2>&1 &
demo_pid=$!
# Installing and building take minutes; the bound is for a hang.
deadline=$(( SECONDS + 3600 ))
while ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
  if ! kill -0 "$demo_pid" 2>/dev/null || (( SECONDS > deadline )); then break; fi
  sleep 2
done
if kill -0 "$demo_pid" 2>/dev/null && demo_answers; then
  step "demo: OK (console page, first count received)"
else
  step "demo: FAILED; the end of its log:"
  tail -30 "$logs/demo.log" >&2
  status=1
fi
if kill -0 "$demo_pid" 2>/dev/null; then
  kill -TERM "$demo_pid"
  wait "$demo_pid" || { step "demo: server exited with $? on SIGTERM"; status=1; }
fi
demo_pid=

step "scripts/test.sh (log: $logs/test.log)"
if in_jail "scripts/test.sh" >"$logs/test.log" 2>&1; then
  step "test.sh: OK"
else
  step "test.sh: FAILED; failing tests and stages:"
  grep -E -- '\*\*\*Failed|\(Failed\)|Timeout|tsan_reports|test-asan.sh:|fuzz.sh:|install-deps|tests passed' \
    "$logs/test.log" >&2 || tail -30 "$logs/test.log" >&2
  status=1
fi
exit "$status"
