"""--room-broker: rooms shared by several wsbridge instances through a real
redis-server (on 127.0.0.1, its own port, no persistence, a temporary
folder). Real clients (python3-websockets) spread over three instances,
directly and through HAProxy; the programs' own pid files and /proc say
how many programs ran."""
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest
import websockets

import procstat
import proxies
import wsb

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# Claims wait until Redis has run longer than a lease (3 s, rounded up to a
# second): a lease lost in a restart may belong to an owner still running.
REDIS_CLAIM_GRACE = 4.0
# An owner's death is noticed within the lease and one renewal (4 s); the
# hang bound leaves room for a loaded machine.
TAKEOVER_BOUND = 15.0
RESTARTED = "wsbridge: the room's program restarted; its state is new"

pytestmark = pytest.mark.skipif(not os.access(REDIS_SERVER, os.X_OK), reason="redis-server is not installed")


def run(coro, timeout=40):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(url: str):
    return websockets.connect(url, compression=None, ping_interval=None, close_timeout=3, max_size=None)


def redis_info(port: int) -> str | None:
    """INFO's text from the Redis on `port`, or None when it does not answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"INFO server\r\n")
            data = b""
            while not data.endswith(b"\r\n") or data.count(b"\r\n") < 2:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                data += chunk
            header, _, body = data.partition(b"\r\n")
            size = int(header[1:])
            while len(body) < size + 2:
                body += s.recv(65536)
            return body[:size].decode()
    except (OSError, ValueError):
        return None


class Redis:
    """A redis-server on 127.0.0.1 that keeps nothing on disk."""

    def __init__(self, workdir: str, port: int | None = None):
        self.workdir = workdir
        self.port = port or wsb.free_port()
        self.proc = None

    def start(self, wait_for_claims: bool = True) -> "Redis":
        log = open(os.path.join(self.workdir, f"redis-{self.port}.log"), "ab")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.workdir, "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        assert wsb.wait_until(lambda: redis_info(self.port) is not None, 10), "redis-server did not start"
        if wait_for_claims:
            self.wait_for_claims()
        return self

    def wait_for_claims(self):
        def old_enough():
            info = redis_info(self.port) or ""
            for line in info.splitlines():
                if line.startswith("uptime_in_seconds:"):
                    return int(line.split(":")[1]) >= REDIS_CLAIM_GRACE
            return False
        assert wsb.wait_until(old_enough, REDIS_CLAIM_GRACE + 5, 0.1)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    server = Redis(str(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture
def haproxy(tmp_path, request):
    """Factory: haproxy(backend_ports) -> HAProxy on 127.0.0.1 in front of them."""
    yield from proxies.stopped_at_teardown(
        request, lambda ports: proxies.start_haproxy(str(tmp_path), list(ports), proxies.ipv6_loopback_ok()),
        lambda started: "".join("--- haproxy output ---\n" + proxy.output() + "\n" for proxy in started))


# Shell programs that record their pids (rooms share one program, so tests
# count programs from these files).
program = wsb.pid_recording_program
pids = wsb.recorded_pids


def programs_running(servers, script: str) -> list[int]:
    """Children of the servers that run `script` now (zombies excluded)."""
    found = []
    for srv in servers:
        if srv.proc is None or srv.proc.poll() is not None:
            continue
        for kid, state in procstat.children_of(srv.pid).items():
            if state == "Z":
                continue
            try:
                with open(f"/proc/{kid}/cmdline", "rb") as f:
                    if script.encode() in f.read():
                        found.append(kid)
            except OSError:
                pass
    return found


def cluster(start_server, redis_url: str, command: list[str], count: int = 3, flags=()):
    return [start_server(command, flags=["--broadcast", "--workers=1", f"--room-broker={redis_url}", *flags])
            for _ in range(count)]


ECHO = 'while read line; do echo "got $line"; done'


async def until_seen(ws, wanted: str, timeout: float = 10) -> list[str]:
    """Lines up to and including `wanted`."""
    seen = []
    while True:
        line = await asyncio.wait_for(ws.recv(), timeout)
        seen.append(line)
        if line == wanted:
            return seen


async def synchronise(clients, sender, tag: str):
    """Sends numbered "sync" lines from `sender` until every client has seen
    one: from then on every relay is subscribed. Returns the last line
    each client saw."""
    received = [None] * len(clients)

    async def watch(i, ws):
        while True:
            line = await asyncio.wait_for(ws.recv(), 10)
            if line.startswith(f"got {tag}-"):
                received[i] = line
                return

    watchers = [asyncio.ensure_future(watch(i, ws)) for i, ws in enumerate(clients)]
    n = 0
    while not all(w.done() for w in watchers) and n < 100:
        await sender.send(f"{tag}-{n}")
        n += 1
        await asyncio.wait([w for w in watchers if not w.done()], timeout=0.1)
    for w in watchers:
        await w
    # Drain the sync lines still on their way: each client reads up to the
    # last one sent.
    await sender.send(f"{tag}-done")
    for ws in clients:
        await until_seen(ws, f"got {tag}-done")


def test_one_program_for_the_cluster_and_every_client_sees_every_line_in_order(
        start_server, redis, tmp_path, stray):
    script = program(tmp_path, "echo", ECHO)
    servers = cluster(start_server, redis.url, [script])
    per_client = 15

    async def go():
        # The first client makes its instance the owner; two clients on
        # each instance.
        clients = [await connect(servers[0].url("/lobby"))]
        clients += [await connect(srv.url("/lobby")) for srv in servers for _ in range(2)][1:]
        await synchronise(clients, clients[-1], "sync")
        running = programs_running(servers, script)

        async def send_all(i, ws):
            for k in range(per_client):
                await ws.send(f"c{i}-{k}")

        await asyncio.gather(*(send_all(i, ws) for i, ws in enumerate(clients)))
        expected = len(clients) * per_client
        seen = []
        for ws in clients:
            lines = [await asyncio.wait_for(ws.recv(), 10) for _ in range(expected)]
            seen.append(lines)
        for ws in clients:
            await ws.close()
        return running, seen

    running, seen = run(go())
    stray.add(*pids(tmp_path, "echo"))
    assert len(pids(tmp_path, "echo")) == 1, "one program for the whole cluster"
    assert running == pids(tmp_path, "echo")
    # The same lines in the same order everywhere, each client's own in the
    # order it sent them, every message whole.
    assert all(lines == seen[0] for lines in seen)
    for i in range(len(seen)):
        mine = [line for line in seen[0] if line.startswith(f"got c{i}-")]
        assert mine == [f"got c{i}-{k}" for k in range(per_client)]
    # With every client gone the program ends (no instance has clients).
    assert wsb.wait_until(lambda: not programs_running(servers, script), 10)


def test_two_rooms_stay_apart_across_instances(start_server, redis, tmp_path, stray):
    script = program(tmp_path, "echo", ECHO)
    servers = cluster(start_server, redis.url, [script], count=2)

    async def go():
        a = [await connect(servers[0].url("/apart/a")), await connect(servers[1].url("/apart/a"))]
        b = [await connect(servers[1].url("/apart/b")), await connect(servers[0].url("/apart/b"))]
        await synchronise(a, a[1], "a")
        await synchronise(b, b[1], "b")
        await a[1].send("only-a")
        await b[1].send("only-b")
        got = [await asyncio.wait_for(ws.recv(), 10) for ws in a + b]
        for ws in a + b:
            await ws.close()
        return got

    got = run(go())
    stray.add(*pids(tmp_path, "echo"))
    assert got == ["got only-a"] * 2 + ["got only-b"] * 2
    assert len(pids(tmp_path, "echo")) == 2, "one program per room"


def test_program_end_closes_every_instance_clients_alike(start_server, redis, tmp_path, stray):
    # The program answers "quit" and ends with status 0.
    script = program(tmp_path, "quit", 'while read line; do echo "got $line"; '
                                       '[ "$line" = quit ] && exit 0; done')
    servers = cluster(start_server, redis.url, [script])

    async def go():
        clients = [await connect(srv.url("/ending")) for srv in servers]
        await synchronise(clients, clients[2], "sync")
        await clients[2].send("quit")
        results = []
        for ws in clients:
            line = await asyncio.wait_for(ws.recv(), 10)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            results.append((line, ws.close_code, ws.close_reason))
        return results

    results = run(go())
    stray.add(*pids(tmp_path, "quit"))
    assert results == [results[0]] * 3, "every instance's client hears the same end"
    assert results[0][:2] == ("got quit", 1000)
    assert len(pids(tmp_path, "quit")) == 1


def test_owner_killed_another_instance_takes_over_and_its_clients_hear_the_restart(
        start_server, redis, tmp_path, stray):
    script = program(tmp_path, "state", 'echo "started $$"; ' + ECHO)
    servers = cluster(start_server, redis.url, [script])
    owner, relays = servers[0], servers[1:]

    async def go():
        first = await connect(owner.url("/takeover"))
        started = await asyncio.wait_for(first.recv(), 10)
        others = [await connect(srv.url("/takeover")) for srv in relays]
        await synchronise([first, *others], others[0], "sync")
        old = pids(tmp_path, "state")
        owner.expect_exit(-signal.SIGKILL)
        owner.proc.kill()
        owner.returncode = owner.proc.wait(10)
        began = time.monotonic()
        notices = [await until_seen(ws, RESTARTED, TAKEOVER_BOUND) for ws in others]
        took = time.monotonic() - began
        # The new program's first line, then a message from one relay's
        # client reaches it and comes back to both.
        firsts = [await asyncio.wait_for(ws.recv(), 10) for ws in others]
        await others[1].send("after")
        echoes = [await asyncio.wait_for(ws.recv(), 10) for ws in others]
        for ws in others:
            await ws.close()
        first.transport.abort()  # its server is gone
        return started, old, notices, firsts, echoes, took

    started, old, notices, firsts, echoes, took = run(go())
    stray.add(*pids(tmp_path, "state"))
    assert started == f"started {old[0]}"
    assert [n[-1] for n in notices] == [RESTARTED] * 2
    # Nothing else was said between the old program's last line and the
    # notice (the clients stayed connected throughout).
    assert all(line == RESTARTED for n in notices for line in n)
    new = [p for p in pids(tmp_path, "state") if p not in old]
    assert len(new) == 1, "exactly one new program"
    assert firsts == [f"started {new[0]}"] * 2
    assert echoes == ["got after"] * 2
    assert wsb.wait_until(lambda: not wsb.pid_alive(old[0]), 10), "the old program ended with its instance"
    print(f"takeover after {took:.2f} s")


def test_broker_down_refuses_room_upgrades_and_static_files_still_work(start_server, tmp_path, stray):
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "hello.txt").write_text("hello\n")
    absent = Redis(str(tmp_path))  # a free port with nothing on it yet
    script = program(tmp_path, "echo", ECHO)
    srv = start_server([script], flags=["--broadcast", "--workers=1", f"--room-broker={absent.url}",
                                        f"--staticdir={tmp_path / 'static'}"])
    response = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port, "/down"))
    assert response.status == 503
    assert b"room broker unavailable" in response.body
    assert wsb.http_request(srv.port, "/hello.txt").status == 200
    assert pids(tmp_path, "echo") == [], "no program started"
    assert srv.wait_log("Room broker commands connection to", 5)

    # Redis arrives: the instance connects within its backoff, and a room
    # works once claims are allowed.
    try:
        absent.start(wait_for_claims=False)
        assert srv.wait_log("Room broker commands connection restored", 10)

        async def go():
            ws = await connect(srv.url("/down"))
            await ws.send("hello")
            line = await asyncio.wait_for(ws.recv(), 15)
            await ws.close()
            return line

        assert run(go()) == "got hello"
        # Several failed attempts before Redis came, one line: each outage
        # is logged once.
        assert srv.log().count("Room broker commands connection to") == 1
    finally:
        absent.stop()
    stray.add(*pids(tmp_path, "echo"))


def test_redis_restart_instances_reconnect_and_the_room_resumes_with_its_program(start_server, tmp_path, stray):
    store = Redis(str(tmp_path)).start()
    try:
        script = program(tmp_path, "echo", ECHO)
        servers = cluster(start_server, store.url, [script], count=2)

        async def go():
            owner_ws = await connect(servers[0].url("/restart"))
            relay_ws = await connect(servers[1].url("/restart"))
            await synchronise([owner_ws, relay_ws], relay_ws, "before")
            # Redis restarts empty (no persistence): the lease, the relays
            # set and the subscriptions are gone.
            store.stop()
            store.start(wait_for_claims=False)
            for srv in servers:
                assert srv.wait_log("Room broker commands connection restored", 10)
                assert srv.wait_log("Room broker subscriptions connection restored", 10)
            # Once resubscribed, both ways work again.
            await synchronise([owner_ws, relay_ws], relay_ws, "after")
            await owner_ws.send("from-owner")
            got = [await until_seen(ws, "got from-owner", 10) for ws in (owner_ws, relay_ws)]
            for ws in (owner_ws, relay_ws):
                await ws.close()
            return got

        got = run(go())
        stray.add(*pids(tmp_path, "echo"))
        assert [lines[-1] for lines in got] == ["got from-owner"] * 2
        # The outage was shorter than the owner's fence (2.5 s without a
        # renewal): it took its lease again and kept its program.
        assert len(pids(tmp_path, "echo")) == 1
        assert "killing the program" not in servers[0].log()
    finally:
        store.stop()


def test_owner_stopped_gracefully_hands_the_room_to_another_instance(start_server, redis, tmp_path, stray):
    script = program(tmp_path, "handover", 'echo "started $$"; ' + ECHO)
    servers = cluster(start_server, redis.url, [script], count=2)

    async def go():
        first = await connect(servers[0].url("/handover"))
        await asyncio.wait_for(first.recv(), 10)
        other = await connect(servers[1].url("/handover"))
        await synchronise([first, other], other, "sync")
        servers[0].stop()  # SIGTERM: its clients get 1001, its program ends
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(first.recv(), 10)
        notice = await until_seen(other, RESTARTED, TAKEOVER_BOUND)
        started = await asyncio.wait_for(other.recv(), 10)
        await other.send("still here")
        echo = await asyncio.wait_for(other.recv(), 10)
        await other.close()
        return first.close_code, notice, started, echo

    code, notice, started, echo = run(go())
    stray.add(*pids(tmp_path, "handover"))
    first_pid, second_pid = pids(tmp_path, "handover")
    assert code == 1001
    assert notice == [RESTARTED]
    assert (started, echo) == (f"started {second_pid}", "got still here")
    assert not wsb.pid_alive(first_pid)


@pytest.mark.skipif(proxies.find_program("haproxy") is None, reason="haproxy is not installed")
def test_behind_haproxy_clients_spread_over_three_instances_share_one_program(
        start_server, redis, haproxy, tmp_path, stray):
    script = program(tmp_path, "echo", ECHO)
    servers = cluster(start_server, redis.url, [script], flags=["--proxy-protocol"])
    proxy = haproxy([srv.port for srv in servers])

    async def go():
        clients = [await connect(f"ws://127.0.0.1:{proxy.port}/through") for _ in range(6)]
        await synchronise(clients, clients[0], "sync")
        for i, ws in enumerate(clients):
            await ws.send(f"c{i}")
        seen = [[await asyncio.wait_for(ws.recv(), 10) for _ in clients] for ws in clients]
        for ws in clients:
            await ws.close()
        return seen

    seen = run(go())
    stray.add(*pids(tmp_path, "echo"))
    assert all(lines == seen[0] for lines in seen)
    assert sorted(seen[0]) == sorted(f"got c{i}" for i in range(6))
    assert len(pids(tmp_path, "echo")) == 1, "one program behind the balancer"
    connects = [srv.log().count("| CONNECT") for srv in servers]
    assert sum(connects) == 6 and sum(1 for n in connects if n > 0) >= 2, connects
