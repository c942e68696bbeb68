#!/usr/bin/env bash
# The main job: installs what is missing, builds, and serves
# examples/count.sh on ws://127.0.0.1:8080/ until Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
port=${PORT:-8080}
cat <<MSG

wsbridge is serving examples/count.sh on ws://127.0.0.1:$port/
Connect with any WebSocket client, for example:
  /usr/bin/python3 -m websockets ws://127.0.0.1:$port/      (needs python3-websockets)
  or in a browser console: new WebSocket("ws://127.0.0.1:$port/").onmessage = e => console.log(e.data)
Each connection runs its own count.sh; press Ctrl-C to stop the server.

MSG
exec "$root/build/wsbridge" --address=127.0.0.1 --port="$port" "$root/examples/count.sh"
