#!/usr/bin/env bash
# Side-by-side benchmark: websocketd (Debian's 0.4.1) against wsbridge.
#
#   scripts/bench.sh [--quick] [--rounds=N] [--only=connect,echo,...,hold,fanout,deflate,floors,saturated] [--no-build]
#                    [--servers=A,B] [--wsbridge-args="ARGS"]
#
# --servers names the two servers compared (default websocketd,wsbridge);
# wsbridge-wN is wsbridge with --workers=N, so --servers=wsbridge-w1,wsbridge-w2
# measures one worker loop against two. --wsbridge-args adds flags to every
# wsbridge run (word-split).
# Builds wsbridge (build-bench, Release) and the load generator (bench/,
# build-bench-tools), then runs every workload against both servers,
# alternating A B A B, one fresh server per run, only on 127.0.0.1. Prints
# per workload the medians, the spread (min..max) and the median of the
# per-round ratios wsbridge/websocketd, plus the server's CPU time
# (utime+stime from /proc; for wsbridge with its spawner helper,
# wsbridge-spawn, which starts the children) per unit of work, and from the
# idle workload the descriptors each connection costs and so how many
# connections one process holds under the current limit. Also measures the
# machine's floors: posix_spawn+waitpid of /bin/cat, and a raw epoll TCP echo.
# The fanout workload compares rooms instead: wsbridge --broadcast against
# bench/node_broadcast.js (node + ws), one program printing to 1, 100 and
# 1,000 clients. The deflate workload compares wsbridge without and with
# --deflate: bytes on the wire and CPU per message, JSON-like and random text.
# Raw results: build-bench/bench-results.txt; table: build-bench/bench-summary.md.
# Never part of ctest: speed is measured, not asserted.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-bench
TOOLS=$ROOT/build-bench-tools
ROUNDS=3
QUICK=0
ONLY=""
BUILD_FIRST=1
SERVERS=websocketd,wsbridge
WSBRIDGE_ARGS=()
for arg in "$@"; do
  case $arg in
    --quick) QUICK=1 ;;
    --rounds=*) ROUNDS=${arg#--rounds=} ;;
    --only=*) ONLY=${arg#--only=} ;;
    --no-build) BUILD_FIRST=0 ;;
    --servers=*) SERVERS=${arg#--servers=} ;;
    --wsbridge-args=*) read -r -a WSBRIDGE_ARGS <<<"${arg#--wsbridge-args=}" ;;
    -h|--help) sed -n "2,22p" "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

IFS=, read -r -a SERVER_LIST <<<"$SERVERS"
(( ${#SERVER_LIST[@]} == 2 )) || { echo "bench.sh: --servers takes two names" >&2; exit 2; }
[[ $SERVERS != *websocketd* ]] || command -v websocketd >/dev/null || { echo "bench.sh: websocketd is not installed (apt-get install websocketd)" >&2; exit 1; }

if [[ $BUILD_FIRST == 1 ]]; then
  echo "== building (Release) =="
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target wsbridge -j"$(nproc)" >/dev/null
  cmake -S "$ROOT/bench" -B "$TOOLS" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$TOOLS" -j"$(nproc)" >/dev/null
fi
WSBRIDGE=$BUILD/wsbridge
WSLOAD=$TOOLS/wsload

# Descriptors: the idle workload needs 4 per connection in both servers
# (socket, three pipes). Take the hard limit and size the
# idle workload to fit, up to the issue's 5,000. 500 descriptors stay free
# for the connect churn that runs beside the idle ones in the spawn workload:
# 16 in flight, those whose children are still being reaped, and a spawn's
# pipes before the child holds them. With 200 free, wsbridge spawning at
# 1,700/s hit its limit and shed some connections (EMFILE).
ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)
if [[ $QUICK == 1 ]]; then
  SECONDS_PER_RUN=2; PUSH_LINES=200000; IDLE_WANTED=500; HOLD=1000; FANOUT_DELIVERIES=1000000
  [[ $ROUNDS == 3 ]] && ROUNDS=2
else
  SECONDS_PER_RUN=5; PUSH_LINES=1000000; IDLE_WANTED=5000; HOLD=10000; FANOUT_DELIVERIES=2000000
fi
IDLE_FIT=$(( (NOFILE - 500) / 4 ))
IDLE=$(( IDLE_WANTED < IDLE_FIT ? IDLE_WANTED : IDLE_FIT ))
if (( IDLE < IDLE_WANTED )); then
  echo "note: open-files hard limit is $NOFILE; idle and spawn workloads hold $IDLE connections, not $IDLE_WANTED"
fi
# The hold workload keeps $HOLD connections open at once. One process cannot
# hold more than its descriptor limit allows, so the connections are spread
# over as many instances as one needs (4 descriptors a connection, 100 left
# over per instance), the same number for both servers.
HOLD_FIT=$(( (NOFILE - 100) / 4 ))
HOLD_INSTANCES=$(( (HOLD + HOLD_FIT - 1) / HOLD_FIT ))

RESULTS=$BUILD/bench-results.txt
SUMMARY=$BUILD/bench-summary.md
LOGDIR=$(mktemp -d /tmp/wsbridge-bench.XXXXXX)
: >"$RESULTS"
SERVER_PID=""
EXTRA_PIDS=()  # more instances of the same server (hold workload)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_listening() {  # port
  for _ in $(seq 1 100); do
    if ss -Hltn "sport = :$1" | grep -q LISTEN; then return 0; fi
    sleep 0.05
  done
  echo "bench.sh: server did not listen on port $1" >&2
  return 1
}

start_server() {  # name port command...
  local name=$1 port=$2; shift 2
  local bin extra=()
  case $name in
    websocketd) bin=websocketd ;;
    wsbridge) bin=$WSBRIDGE; extra=("${WSBRIDGE_ARGS[@]}") ;;
    wsbridge-w*) bin=$WSBRIDGE; extra=("${WSBRIDGE_ARGS[@]}" "--workers=${name#wsbridge-w}") ;;
    wsbridge-deflate) bin=$WSBRIDGE; extra=("${WSBRIDGE_ARGS[@]}" --deflate) ;;
    # Rooms: every line must reach every client, as in the node script.
    wsbridge-room) bin=$WSBRIDGE; extra=(--broadcast --slow-client=wait) ;;
    node-room) NODE_PATH=/usr/share/nodejs node "$ROOT/bench/node_broadcast.js" "$port" "$@" >>"$LOGDIR/$name.log" 2>&1 &
               SERVER_PID=$!; wait_listening "$port"; return ;;
    echo_floor) "$TOOLS/echo_floor" --port="$port" >"$LOGDIR/echo_floor.log" 2>&1 &
                SERVER_PID=$!; wait_listening "$port"; return ;;
  esac
  "$bin" --address=127.0.0.1 --port="$port" --loglevel=error "${extra[@]}" "$@" >>"$LOGDIR/$name.log" 2>&1 &
  SERVER_PID=$!
  wait_listening "$port"
}

stop_one() {  # pid
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

stop_server() {
  local pid
  for pid in "${EXTRA_PIDS[@]}"; do stop_one "$pid"; done
  EXTRA_PIDS=()
  [[ -n $SERVER_PID ]] || return 0
  stop_one "$SERVER_PID"
  SERVER_PID=""
}
trap 'stop_server; rm -rf "$LOGDIR"' EXIT

wanted() { [[ -z $ONLY || ",$ONLY," == *",$1,"* ]]; }

# run_workload name command-for-child... -- wsload arguments...
run_workload() {
  local name=$1; shift
  local child=()
  while [[ $1 != -- ]]; do child+=("$1"); shift; done
  shift
  wanted "$name" || return 0
  echo "== $name =="
  for round in $(seq 1 "$ROUNDS"); do
    for server in "${SERVER_LIST[@]}"; do
      local port
      port=$(free_port)
      start_server "$server" "$port" "${child[@]}"
      sleep 0.2
      local line
      line=$(timeout 300 "$WSLOAD" "$@" --port="$port" --server-pid="$SERVER_PID" | grep '^RESULT' || true)
      stop_server
      [[ -n $line ]] || line="RESULT workload=$name ok=0"
      echo "  round $round $server: ${line#RESULT }"
      echo "$name $server $round ${line#RESULT }" >>"$RESULTS"
    done
  done
}

# run_hold: $HOLD connections at once over $HOLD_INSTANCES instances of each
# server, each connection proven live by one echo through its own `cat`.
run_hold() {
  wanted hold || return 0
  echo "== hold ($HOLD connections over $HOLD_INSTANCES instances) =="
  for round in $(seq 1 "$ROUNDS"); do
    for server in "${SERVER_LIST[@]}"; do
      local ports=() i port line
      for i in $(seq 1 "$HOLD_INSTANCES"); do
        port=$(free_port)
        start_server "$server" "$port" cat
        ports+=("$port")
        EXTRA_PIDS+=("$SERVER_PID"); SERVER_PID=""  # stop_server ends them all
      done
      sleep 0.2
      line=$(IFS=,; timeout 600 "$WSLOAD" idle --conns="$HOLD" --port="${ports[*]}" --server-pid="${EXTRA_PIDS[*]}" | grep '^RESULT' || true)
      stop_server
      [[ -n $line ]] || line="RESULT workload=idle ok=0"
      echo "  round $round $server: ${line#RESULT }"
      echo "hold $server $round ${line#RESULT }" >>"$RESULTS"
    done
  done
}

run_workload connect cat -- connect --seconds="$SECONDS_PER_RUN" --concurrency=16
run_workload echo cat -- echo --conns=100 --window=16 --size=16 --seconds="$SECONDS_PER_RUN" --count=1000000000
run_workload push seq "$PUSH_LINES" -- push --conns=10 --expect="$PUSH_LINES" --seconds=120
run_workload pingpong cat -- pingpong --size=16 --seconds="$SECONDS_PER_RUN"
run_workload idle cat -- idle --conns="$IDLE"
# One message in flight: with two, websocketd 0.4.1 deadlocks (it blocks
# writing the child's stdin while nobody drains the child's stdout).
run_workload large cat -- large --size=1048576 --window=1 --seconds="$SECONDS_PER_RUN"
run_workload spawn cat -- connect --seconds="$SECONDS_PER_RUN" --concurrency=16 --idle="$IDLE"
run_hold

# run_fanout: one room program printing to 1, 100 and 1,000 clients, in
# wsbridge --broadcast and in the node script a user would otherwise write
# (bench/node_broadcast.js); the same number of lines delivered in each.
run_fanout() {
  wanted fanout || return 0
  command -v node >/dev/null && [[ -d /usr/share/nodejs/ws ]] || { echo "fanout: needs node and node-ws"; return 0; }
  local clients lines round server port line
  for clients in 1 100 1000; do
    lines=$(( FANOUT_DELIVERIES / clients ))
    echo "== fanout ($clients clients × $lines lines) =="
    for round in $(seq 1 "$ROUNDS"); do
      for server in wsbridge-room node-room; do
        port=$(free_port)
        start_server "$server" "$port" "$ROOT/bench/fanout_program.sh" "$clients" "$lines"
        sleep 0.2
        line=$(timeout 300 "$WSLOAD" fanout --conns="$clients" --expect="$lines" --seconds=120 \
                 --port="$port" --server-pid="$SERVER_PID" | grep '^RESULT' || true)
        stop_server
        [[ -n $line ]] || line="RESULT workload=fanout ok=0"
        echo "  round $round $server: ${line#RESULT }"
        echo "fanout$clients $server $round ${line#RESULT }" >>"$RESULTS"
      done
    done
  done
}
run_fanout

# run_deflate: the echo load with 256-byte messages of JSON-like text and of
# random base64, the client offering permessage-deflate to wsbridge without
# and with --deflate (declined: plain frames; agreed: compressed both ways).
run_deflate() {
  wanted deflate || return 0
  local payload round server port line
  for payload in json base64; do
    echo "== deflate ($payload, 256-byte messages) =="
    for round in $(seq 1 "$ROUNDS"); do
      for server in wsbridge wsbridge-deflate; do
        port=$(free_port)
        start_server "$server" "$port" cat
        sleep 0.2
        line=$(timeout 300 "$WSLOAD" echo --conns=100 --window=16 --size=256 --payload="$payload" --offer-deflate \
                 --seconds="$SECONDS_PER_RUN" --count=1000000000 --port="$port" --server-pid="$SERVER_PID" | grep '^RESULT' || true)
        stop_server
        [[ -n $line ]] || line="RESULT workload=echo ok=0"
        echo "  round $round $server: ${line#RESULT }"
        echo "deflate_$payload $server $round ${line#RESULT }" >>"$RESULTS"
      done
    done
  done
}
run_deflate

if wanted floors; then
  echo "== floors =="
  for round in $(seq 1 "$ROUNDS"); do
    line=$("$TOOLS/spawn_floor" --seconds="$SECONDS_PER_RUN" --inflight=16 | grep '^RESULT')
    echo "  round $round: ${line#RESULT }"
    echo "spawn_floor floor $round ${line#RESULT }" >>"$RESULTS"
    # The same with the descriptors a server holding $IDLE connections has.
    line=$("$TOOLS/spawn_floor" --seconds="$SECONDS_PER_RUN" --inflight=16 --fds=$(( IDLE * 4 )) | grep '^RESULT')
    echo "  round $round: ${line#RESULT }"
    echo "spawn_fds_floor floor $round ${line#RESULT }" >>"$RESULTS"
    port=$(free_port)
    start_server echo_floor "$port"
    for w in echo pingpong; do
      extra=(); [[ $w == echo ]] && extra=(--conns=100 --window=16 --count=1000000000)
      line=$("$WSLOAD" "$w" --raw --size=16 --seconds="$SECONDS_PER_RUN" --port="$port" --server-pid="$SERVER_PID" "${extra[@]}" | grep '^RESULT')
      echo "  round $round raw $w: ${line#RESULT }"
      echo "${w}_floor floor $round ${line#RESULT }" >>"$RESULTS"
    done
    stop_server
  done
fi

python3 - "$RESULTS" "$IDLE" "$QUICK" "$SERVERS" "$HOLD" "$HOLD_INSTANCES" >"$SUMMARY" <<'EOF'
import sys, statistics
path, idle, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
first, second = sys.argv[4].split(",")
hold, hold_instances = sys.argv[5], sys.argv[6]
rows = {}
bad = []
for line in open(path):
    parts = line.split()
    if len(parts) < 3: continue
    name, server, rnd = parts[0], parts[1], int(parts[2])
    kv = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
    if kv.get("ok", "1") == "0": bad.append(f"{name} {server} round {rnd}")
    rows.setdefault((name, server), {})[rnd] = kv

def values(name, server, metric):
    return {r: float(kv[metric]) for r, kv in rows.get((name, server), {}).items() if metric in kv}

def fmt(x):
    if x >= 100000: return f"{x/1000:.0f}k"
    if x >= 1000: return f"{x:.0f}"
    if x >= 10: return f"{x:.1f}"
    return f"{x:.2f}"

def cell(v):
    if not v: return "—"
    vals = sorted(v.values())
    return f"{fmt(statistics.median(vals))} ({fmt(vals[0])}–{fmt(vals[-1])})"

METRICS = [
    ("connect", "conns_per_s", "connections/s", True),
    ("connect", "cpu_us_per_conn", "server CPU µs/connection (with its helper)", False),
    ("echo", "msgs_per_s", "messages/s (100 conns × 16 in flight)", True),
    ("echo", "cpu_us_per_msg", "server CPU µs/message", False),
    ("push", "msgs_per_s", "messages/s delivered (10 × seq)", True),
    ("push", "cpu_us_per_msg", "server CPU µs/message", False),
    ("pingpong", "p50_us", "round trip p50 µs", False),
    ("pingpong", "p99_us", "round trip p99 µs", False),
    ("idle", "kib_per_conn", f"server RSS KiB/connection ({idle} idle)", False),
    ("idle", "fds_per_conn", "server descriptors/connection", False),
    ("idle", "conns_per_process", "connections one process holds: (limit − fixed) / per connection", True),
    ("large", "mib_per_s", "MiB/s echoed (1 MiB messages)", True),
    ("large", "cpu_ms_per_mib", "server CPU ms/MiB", False),
    ("spawn", "conns_per_s", f"connections/s with {idle} idle held", True),
    ("spawn", "cpu_us_per_conn", "server CPU µs/connection (with its helper)", False),
    ("hold", "conns", f"connections held at once (of {hold}, {hold_instances} instances)", True),
    ("hold", "errors", "connections that failed to open", False),
    ("hold", "kib_per_conn", "server RSS KiB/connection, all instances", False),
    ("hold", "open_s", f"seconds to open all {hold}", False),
]
if any(values(name, server, metric) for name, metric, _, _ in METRICS for server in (first, second)):
    print(f"| workload | metric | {first} median (min–max) | {second} median (min–max) | {second} ÷ {first} (median of rounds) |")
    print("|---|---|---|---|---|")
for name, metric, label, higher in METRICS:
    a, b = values(name, first, metric), values(name, second, metric)
    if not a and not b: continue
    ratios = [b[r] / a[r] for r in a if r in b and a[r] > 0]
    ratio = f"{statistics.median(ratios):.2f}×" if ratios else "—"
    print(f"| {name} | {label} | {cell(a)} | {cell(b)} | {ratio} |")

floors = [("spawn_floor", "spawns_per_s", "posix_spawn+waitpid of /bin/cat per s (16 in flight)"),
          ("spawn_fds_floor", "spawns_per_s", f"the same with {int(idle)*5} more descriptors open"),
          ("echo_floor", "msgs_per_s", "raw epoll TCP echo, messages/s (same load as echo)"),
          ("echo_floor", "cpu_us_per_msg", "raw epoll TCP echo, server CPU µs/message"),
          ("pingpong_floor", "p50_us", "raw epoll TCP echo, round trip p50 µs"),
          ("pingpong_floor", "p99_us", "raw epoll TCP echo, round trip p99 µs")]
printed = False
for name, metric, label in floors:
    v = values(name, "floor", metric)
    if not v: continue
    if not printed:
        print("\n| floor | median (min–max) |\n|---|---|")
        printed = True
    print(f"| {label} | {cell(v)} |")

def med(name, server, metric):
    v = values(name, server, metric)
    return statistics.median(v.values()) if v else None
sf = med("spawn_floor", "floor", "spawns_per_s")
notes = []
for server in (first, second):
    c, s = med("connect", server, "conns_per_s"), med("spawn", server, "conns_per_s")
    if c and sf: notes.append(f"{server}: connect = {100*c/sf:.0f}% of the spawn floor")
    if c and s: notes.append(f"{server}: connect with {idle} idle held = {100*s/c:.0f}% of connect alone")
    sff = med("spawn_fds_floor", "floor", "spawns_per_s")
    if s and sff: notes.append(f"{server}: connect with {idle} idle held = {100*s/sff:.0f}% of the spawn floor with as many descriptors")
    e, ef = med("echo", server, "msgs_per_s"), med("echo_floor", "floor", "msgs_per_s")
    if e and ef: notes.append(f"{server}: echo = {100*e/ef:.0f}% of the raw TCP echo floor")
    # A process runs out of descriptors, not memory, first: what it holds at
    # start-up is taken off the limit, the rest divided among connections.
    per, base = med("idle", server, "fds_per_conn"), med("idle", server, "fds_before")
    limit = med("idle", server, "fds_limit")
    if per and base is not None and limit:
        notes.append(f"{server}: {per:.2f} descriptors/connection, {base:.0f} fixed; one process holds "
                     f"({limit:,.0f} − {base:.0f}) / {per:.2f} = {int((limit - base) / per):,} connections "
                     f"under its open-files limit of {limit:,.0f}")
if notes:
    print()
    for n in notes: print(f"- {n}")
fanout = [n for n in ("fanout1", "fanout100", "fanout1000") if values(n, "wsbridge-room", "msgs_per_s")]
if fanout:
    print("\n| fan-out: one program, N clients | metric | wsbridge --broadcast median (min–max) | node + ws script median (min–max) | wsbridge ÷ node |")
    print("|---|---|---|---|---|")
    for name in fanout:
        for metric, label, higher in (("msgs_per_s", "messages/s delivered", True),
                                      ("cpu_us_per_msg", "server CPU µs/delivered message", False),
                                      ("kib_per_client", "server RSS KiB/client in the room", False)):
            # One client also pays for the room and its program: no per-client figure.
            if metric == "kib_per_client" and name == "fanout1": continue
            a, b = values(name, "wsbridge-room", metric), values(name, "node-room", metric)
            ratios = [a[r] / b[r] for r in a if r in b and b[r] > 0]
            ratio = f"{statistics.median(ratios):.2f}×" if ratios else "—"
            print(f"| {name[6:]} clients | {label} | {cell(a)} | {cell(b)} | {ratio} |")

deflate = [n for n in ("deflate_json", "deflate_base64") if values(n, "wsbridge-deflate", "msgs_per_s")]
if deflate:
    print("\n| permessage-deflate, echo of 256-byte messages | metric | without --deflate median (min–max) | with --deflate median (min–max) | with ÷ without |")
    print("|---|---|---|---|---|")
    for name in deflate:
        for metric, label in (("wire_in_per_msg", "bytes on the wire per message, server to client"),
                              ("wire_out_per_msg", "bytes on the wire per message, client to server"),
                              ("msgs_per_s", "messages/s"),
                              ("cpu_us_per_msg", "server CPU µs/message")):
            a, b = values(name, "wsbridge", metric), values(name, "wsbridge-deflate", metric)
            ratios = [b[r] / a[r] for r in a if r in b and a[r] > 0]
            ratio = f"{statistics.median(ratios):.2f}×" if ratios else "—"
            print(f"| {name[8:]} | {label} | {cell(a)} | {cell(b)} | {ratio} |")

if bad:
    print("\nRuns that did not complete cleanly (ok=0): " + ", ".join(bad))
EOF
echo
cat "$SUMMARY"
echo
echo "raw results: $RESULTS"

# Out of descriptors: the share of new clients answered within a second and
# the server's CPU share while it sheds them (wsbridge alone: websocketd has
# no comparable mode). The tests check only that every client is answered.
if wanted saturated; then
  echo
  echo "== saturated: wsbridge out of descriptors (scripts/bench-saturated.py)"
  WSBRIDGE_BIN=$BUILD/wsbridge /usr/bin/python3 "$ROOT/scripts/bench-saturated.py" --rounds=3
fi
