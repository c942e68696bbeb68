"""--workers: N event loops on their own threads, all accepting on the same
listeners. Which worker served a connection is seen from outside through
the kernel's per-thread I/O counters (/proc/PID/task/TID/io): a loop that
relays a connection's bytes is the thread that reads and writes them.
Threads are found by their names (wsbridge-w1, wsbridge-w2, ...)."""
import asyncio
import os
import re
import shutil
import signal
import socket
import threading
import time

import pytest
import websockets

import wsb
from procstat import live_children
from wsb import script

pytestmark = pytest.mark.skipif(
    wsb.is_websocketd(os.environ.get("WSBRIDGE_BIN", "")), reason="websocketd has no --workers")


def worker_threads(pid):
    """{thread name: tid} for the server's worker loops."""
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith("wsbridge-w"):
            threads[name] = int(tid)
    return threads


def wait_worker_threads(pid, count, timeout=5.0):
    """worker_threads() once `count` have named themselves (each thread sets
    its own name as it starts, which can be after the port accepts)."""
    deadline = time.monotonic() + timeout
    threads = worker_threads(pid)
    while len(threads) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        threads = worker_threads(pid)
    return threads


def bytes_written(pid, tid):
    """Bytes the thread has written with write/send calls (its wchar)."""
    with open(f"/proc/{pid}/task/{tid}/io") as f:
        for line in f:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    raise RuntimeError("no wchar")


def read_pid_line(c, timeout=5):
    msg = c.recv_message(timeout=timeout)
    assert msg[0] == wsb.OP_TEXT, msg
    return int(msg[1].split()[0])


def hold_clients(srv, count, clients):
    """Opens `count` connections to a child that prints its pid (appended to
    `clients` as they open, so the caller closes them); returns the pids."""
    pids = []
    for _ in range(count):
        c = wsb.RawWS(srv.port)
        clients.append(c)
        pids.append(read_pid_line(c))
    return pids


def upgrade_status_held(port):
    """Sends an upgrade request; returns (status, socket left open)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(wsb.upgrade_request(port))
    head, _ = wsb.read_http_head(s, timeout=10)
    status = int(head.split(b" ", 2)[1])
    return status, s


def open_connections(metrics_port: int) -> float:
    body = wsb.http_request(metrics_port, "/metrics", connection_close=True).body.decode()
    return float(re.search(r"^wsbridge_connections_open (\S+)$", body, re.MULTILINE).group(1))


def test_threads_are_named_and_counted(start_server):
    srv = start_server(["cat"], flags=["--workers=3"])
    assert sorted(wait_worker_threads(srv.pid, 3)) == ["wsbridge-w1", "wsbridge-w2", "wsbridge-w3"]


def test_default_is_one_worker_per_core(start_server):
    srv = start_server(["cat"])
    expected = min(max(os.cpu_count() or 1, 1), 64)
    assert len(wait_worker_threads(srv.pid, expected)) == expected


@pytest.mark.timeout(60)
def test_both_workers_serve_connections(start_server):
    srv = start_server(["cat"], flags=["--workers=2"])
    threads = wait_worker_threads(srv.pid, 2)
    assert len(threads) == 2
    before = {name: bytes_written(srv.pid, tid) for name, tid in threads.items()}
    payload = "x" * 8192

    async def client():
        async with websockets.connect(srv.url(), max_size=None, compression=None) as ws:
            for _ in range(20):
                await ws.send(payload)
                assert await asyncio.wait_for(ws.recv(), 10) == payload

    async def run():
        # Waves of concurrent clients: whichever loop is busy accepts less,
        # so the other takes its share.
        for _ in range(4):
            await asyncio.gather(*(client() for _ in range(12)))

    asyncio.run(run())
    relayed = {name: bytes_written(srv.pid, tid) - before[name] for name, tid in threads.items()}
    # Each connection moves 20 x 8 KiB to the child and back: a worker that
    # served even one connection wrote well over 100 KiB.
    print("bytes written per worker:", relayed)
    for name, written in relayed.items():
        assert written > 100_000, f"{name} served nothing: bytes written per worker {relayed}"


@pytest.mark.timeout(60)
def test_maxforks_is_exact_across_workers_under_a_burst(start_server, stray):
    limit = 3
    mport = wsb.free_port()
    srv = start_server([script("pid_cat.sh")], flags=["--workers=2", f"--maxforks={limit}",
                                                      f"--metrics=127.0.0.1:{mport}"])
    most_children = [0]
    sampling = threading.Event()

    def sample():
        while not sampling.is_set():
            most_children[0] = max(most_children[0], len(live_children(srv.pid)))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for _ in range(3):
            burst = 24
            start = threading.Barrier(burst)
            results = [None] * burst

            def connect(i):
                start.wait()
                results[i] = upgrade_status_held(srv.port)

            threads = [threading.Thread(target=connect, args=(i,)) for i in range(burst)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(20)
            statuses = sorted(r[0] for r in results)
            try:
                assert statuses.count(101) == limit, statuses
                assert statuses.count(429) == burst - limit, statuses
            finally:
                for _, s in results:
                    s.close()
            # The held children end with their clients; the slots come back.
            deadline = time.monotonic() + 5
            while live_children(srv.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert live_children(srv.pid) == []
            # A slot comes back after the child is reaped and its pipes are
            # closed, a moment after the process is gone; a connection is
            # counted closed only after that, so the next burst waits for it.
            assert wsb.wait_until(lambda: open_connections(mport) == 0, 10), "connections still open"
    finally:
        sampling.set()
        sampler.join()
    assert most_children[0] <= limit, f"{most_children[0]} children alive with --maxforks={limit}"
    assert "Max of possible forks already active, upgrade rejected" in srv.log()


@pytest.mark.timeout(40)
def test_sigterm_closes_every_client_with_1001_and_reaps_children(start_server, stray):
    srv = start_server([script("pid_cat.sh")], flags=["--workers=2"])
    clients = []
    try:
        pids = hold_clients(srv, 8, clients)
        stray.add(*pids)
        rc = srv.terminate(timeout=10)
        codes = [c.expect_close(timeout=3)[0] for c in clients]
        assert codes == [1001] * len(clients), f"close codes on server shutdown: {codes}"
        for pid in pids:
            assert wsb.wait_pid_gone(pid, 3) is not None, f"child {pid} survived the server"
        assert rc == 0, f"server exit status on SIGTERM: {rc}"
        assert "Stopped" in srv.log()
    finally:
        for c in clients:
            c.close()


@pytest.mark.timeout(40)
def test_shutdown_deadline_applies_to_every_worker(start_server, stray):
    # Children that ignore SIGINT/SIGTERM on both loops: the one deadline
    # SIGKILLs them all and the server still exits 0. --closems=5000 puts
    # their own SIGKILL 15.85 s away, so the 1 s deadline is what ends them
    # (without it the stop sequence's SIGKILL at 0.85 s came first).
    srv = start_server([script("ignore_signals.sh")],
                       flags=["--workers=2", "--shutdown-timeout=1", "--closems=5000"])
    clients = []
    try:
        pids = hold_clients(srv, 6, clients)
        stray.add(*pids)
        rc = srv.terminate(timeout=10)
        assert rc == 0
        assert "at the shutdown deadline" in srv.log(), srv.log()
        for pid in pids:
            assert wsb.wait_pid_gone(pid, 3) is not None, f"child {pid} survived the server"
    finally:
        for c in clients:
            c.close()


@pytest.mark.timeout(60)
def test_sighup_reloads_tls_for_every_worker_and_keeps_connections(start_server, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not installed")
    from test_tls import Pki, client_context, peer_cert_der, wss  # the PKI helpers live there

    pki = Pki(str(tmp_path))
    chain, key = pki.leaf("server")
    live_chain, live_key = str(tmp_path / "live.pem"), str(tmp_path / "live.key")
    shutil.copy(chain, live_chain)
    shutil.copy(key, live_key)
    srv = start_server(["cat"], ["--workers=2", "--ssl", f"--sslcert={live_chain}", f"--sslkey={live_key}"])
    before = peer_cert_der(srv.port, pki.root)

    async def run():
        ctx = client_context(pki)
        held = [await websockets.connect(wss(srv), ssl=ctx) for _ in range(8)]
        try:
            for i, ws in enumerate(held):
                await ws.send(f"before {i}")
                assert await asyncio.wait_for(ws.recv(), 5) == f"before {i}"
            new_chain, new_key = pki.leaf("renewed")
            shutil.copy(new_chain, live_chain)
            shutil.copy(new_key, live_key)
            os.kill(srv.pid, signal.SIGHUP)
            assert srv.wait_log("reloaded TLS certificate", timeout=5)
            loop = asyncio.get_running_loop()
            # Enough new handshakes that both loops make some.
            afters = [await loop.run_in_executor(None, peer_cert_der, srv.port, pki.root) for _ in range(8)]
            for i, ws in enumerate(held):
                await ws.send(f"after {i}")
                assert await asyncio.wait_for(ws.recv(), 5) == f"after {i}"
            return afters
        finally:
            for ws in held:
                await ws.close()

    afters = asyncio.run(run())
    assert all(after != before for after in afters)
    assert len(set(afters)) == 1
    assert srv.proc.poll() is None


@pytest.mark.timeout(30)
def test_one_worker_serves_as_before(start_server, stray):
    srv = start_server([script("pid_cat.sh")], flags=["--workers=1", "--maxforks=1"])
    assert list(wait_worker_threads(srv.pid, 1)) == ["wsbridge-w1"]
    with wsb.RawWS(srv.port) as c:
        stray.add(read_pid_line(c))
        c.send_text("hello")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"hello")
        status, s = upgrade_status_held(srv.port)
        s.close()
        assert status == 429
    rc = srv.terminate(timeout=10)
    assert rc == 0
