#!/usr/bin/env bash
# The main job: installs what is missing, builds the server (into build/,
# or $WSBRIDGE_BUILD_DIR, as scripts/build.sh), and serves
# examples/count.sh on ws://127.0.0.1:8080/ with the developer console on
# http://127.0.0.1:8080/, until Ctrl-C. PORT=N picks another port.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
# Only the server: the tests' binaries would double a first run's build time.
"$root/scripts/build.sh" --target=wsbridge
build_dir=${WSBRIDGE_BUILD_DIR:-$root/build}
port=${PORT:-8080}
cat <<MSG

wsbridge is serving examples/count.sh on ws://127.0.0.1:$port/
Open http://127.0.0.1:$port/ in a browser and press Connect: the developer
console shows each message as it arrives (1 to 10, one a second).
Any other WebSocket client works too, for example:
  /usr/bin/python3 -m websockets ws://127.0.0.1:$port/      (needs python3-websockets)
Each connection runs its own count.sh; press Ctrl-C to stop the server.

MSG
exec "$build_dir/wsbridge" --address=127.0.0.1 --port="$port" --devconsole "$root/examples/count.sh"
