"""Faults, each caused for real: children that crash or are killed, clients
that send nothing or a byte at a time, a server out of descriptors, every
fork slot taken, and 100 MiB pushed at a client that reads slowly.

Other faults have their tests elsewhere: a child that never reads stdin
(test_backpressure), a client vanishing without a close and a child that
ignores SIGINT/SIGTERM (test_lifecycle), a child closing stdout but living
on (test_lifecycle).
"""
import contextlib
import math
import os
import signal
import socket
import struct
import threading
import time

import pytest

import procstat
import wsb
from wsb import script


def read_pid(c, timeout=5):
    msg = c.recv_message(timeout=timeout)
    assert msg[0] == wsb.OP_TEXT, msg
    return int(msg[1])


def echo_ok(c, text):
    c.send_text(text)
    return c.recv_message(timeout=5) == (wsb.OP_TEXT, text.encode())


# ------------------------------------------------------------ child crashes

@pytest.mark.timeout(40)
@pytest.mark.parametrize("fault", ["segfault", "sigkill"])
def test_dead_child_closes_its_connection_only(start_server, stray, fault):
    srv = start_server([script("fault_child.sh")])
    bystanders = []
    try:
        for i in range(3):
            c = wsb.RawWS(srv.port, f"/echo{i}")
            stray.add(read_pid(c))
            bystanders.append(c)
        for i, c in enumerate(bystanders):
            assert echo_ok(c, f"before {i}")

        victim = wsb.RawWS(srv.port, "/segv" if fault == "segfault" else "/echo")
        pid = read_pid(victim)
        stray.add(pid)
        if fault == "segfault":
            # Output written before the crash arrives, then a close frame.
            assert victim.recv_message(timeout=5) == (wsb.OP_TEXT, b"last words")
        else:
            assert echo_ok(victim, "alive")
            os.kill(pid, signal.SIGKILL)
        code, reason, extra = victim.expect_close(timeout=5)
        assert extra == [], f"unexpected messages after the child died: {extra}"
        # The close frame says how the child died.
        expected = b"killed by SIGSEGV" if fault == "segfault" else b"killed by SIGKILL"
        assert (code, reason) == (1011, expected), f"close {code} {reason!r} after the child died"
        # This client never answers the close: the server's close-handshake
        # timer (2 s) ends the connection; 10 s is the hang bound.
        assert victim.wait_eof(10), "TCP stayed open after the close frame"
        victim.close()
        assert wsb.wait_pid_gone(pid, 3) is not None
        assert pid not in procstat.children_of(srv.pid), "dead child was not reaped"

        # Everybody else carries on, with their own children.
        assert len(procstat.live_children(srv.pid)) == 3
        for i, c in enumerate(bystanders):
            assert echo_ok(c, f"after {i}")
        assert srv.wait_log("SIGSEGV" if fault == "segfault" else "SIGKILL", 3), \
            "the signal that ended the child was not logged"
    finally:
        for c in bystanders:
            c.close()


# ------------------------------------------------------------ slow clients

def _held_open_for(sock, limit):
    """Seconds until the server ended the connection (EOF or reset), at most limit."""
    t0 = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - t0 < limit:
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not data:
            break
    return time.monotonic() - t0


@pytest.mark.differs_from_websocketd("websocketd 0.4.1 has no request timeout")
@pytest.mark.timeout(60)
def test_silent_and_slowloris_clients_are_dropped_in_bounded_time(start_server):
    # kRequestTimeoutMs (src/net/server_context.h) is 10 s for the whole head,
    # however slowly it trickles in.
    srv = start_server([script("echo.sh")])
    results = {}

    def silent():
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            results["silent"] = _held_open_for(s, 25)

    def slowloris():
        sent = 0
        head = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nX-Slow: " + "z" * 200).encode()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            t0 = time.monotonic()
            s.settimeout(0.5)
            while time.monotonic() - t0 < 25:
                try:
                    s.sendall(head[sent % len(head):sent % len(head) + 1])
                    sent += 1
                except (BrokenPipeError, ConnectionResetError):
                    break
                try:
                    if s.recv(4096) == b"":
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    break
            results["slowloris"] = time.monotonic() - t0
            results["slowloris_bytes"] = sent

    threads = [threading.Thread(target=silent), threading.Thread(target=slowloris)]
    for t in threads:
        t.start()
    # While both hang around, the server serves everybody else.
    time.sleep(1)
    with wsb.RawWS(srv.port) as c:
        assert echo_ok(c, "not blocked by slow clients")
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    # Not before the 10 s (a timer never fires early; a little slack for the
    # clock), and at all: the clients would hold on for 25 s.
    assert 9 <= results["silent"] < 25, f"silent client held {results['silent']:.1f} s"
    assert 9 <= results["slowloris"] < 25, f"slowloris client held {results['slowloris']:.1f} s"
    # At a byte per 0.5 s it never got near the 16 KiB head limit: time, not
    # size, is what ends it.
    assert results["slowloris_bytes"] < 40


# ------------------------------------------------------------ descriptors

# How long a knock on a saturated server may wait for any answer: a hang
# bound (a wedged worker never answers), not a speed.
KNOCK_HANG_SECONDS = 10
KNOCKS = 40


def knock(address, request):
    """One client on a saturated server: "shed" (accepted and closed
    unanswered, by libuv's reserve-descriptor trick or a worker's own drop:
    EOF, reset or broken pipe), the HTTP status line it got, or None with no
    answer in KNOCK_HANG_SECONDS (left waiting in the backlog)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(KNOCK_HANG_SECONDS)
            s.connect(address)
            s.sendall(request)
            answer = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return "shed"  # a Unix socket's client sees the close as EPIPE at once
    except OSError:
        return None
    return "shed" if answer == b"" else answer.split(b"\r\n", 1)[0].decode(errors="replace")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workers,unix", [(1, False), (2, False), (2, True)],
                         ids=["1-worker", "2-workers", "2-workers-tcp-and-unix"])
def test_descriptor_exhaustion_sheds_load_without_spinning_and_recovers(bin_path, start_server, stray, tmp_path,
                                                                        workers, unix):
    limit = 64
    www = tmp_path / "www"
    www.mkdir()
    (www / "hello.txt").write_text("hello\n")
    flags = [f"--workers={workers}", f"--staticdir={www}"]
    unix_path = str(tmp_path / "ws.sock")
    if unix:
        flags.append(f"--unixsocket={unix_path}")
    # wsbridge raises its soft limit to the hard one, so set both (ulimit -n).
    srv = start_server([], binary="/bin/bash", argv_fn=lambda port: [
        "-c", f'ulimit -n {limit} && exec "$0" "$@"', bin_path, f"--port={port}",
        "--address=127.0.0.1", *flags, script("pid_cat.sh")])
    held = []
    try:
        # One session first: it must survive the exhaustion untouched.
        session = wsb.RawWS(srv.port)
        held.append(session)
        stray.add(read_pid(session))
        saturating_since = time.monotonic()
        # Idle connections (no request yet) until the server has no
        # descriptors left: more than the limit, so some are refused.
        for _ in range(limit + 20):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            held.append(s)
        deadline = time.monotonic() + 10  # the server accepts the queued connections at its own pace
        while procstat.fd_count(srv.pid) < limit - 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procstat.fd_count(srv.pid) >= limit - 2, \
            f"server holds only {procstat.fd_count(srv.pid)} descriptors: not saturated"

        # Saturated: new clients keep knocking, on every listener, for a
        # WebSocket and for a static file. Every knock must be answered: a
        # worker that cannot listen again must still drop what waits (CI once
        # saw two workers wedged, their reserves holding the last two
        # numbers, and knocks left unanswered), on each of its listeners.
        # (Whether the server spins meanwhile is a CPU figure, measured by
        # scripts/bench-saturated.py, not here.)
        addresses = [("127.0.0.1", srv.port)] + ([unix_path] if unix else [])
        requests = [wsb.upgrade_request(srv.port), b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n"]
        outcomes = []
        for i in range(KNOCKS):
            address, request = addresses[i % len(addresses)], requests[(i // len(addresses)) % 2]
            outcome = knock(address, request)
            assert outcome is not None, \
                f"knock {i} on {address} unanswered for {KNOCK_HANG_SECONDS} s; before it: {outcomes}"
            outcomes.append((address, request is requests[1], outcome))
            time.sleep(0.05)  # knocks spread over a couple of seconds, as clients come
        saturated_for = time.monotonic() - saturating_since
        # Shed, or accepted with the one number free: a WebSocket is then
        # refused with 503 (the child's pipes found none: try again later)
        # and a file served or refused with 503. Never a 404 (the file is
        # there) and never a 500 (nothing is wrong with the command).
        fine = {"shed", "HTTP/1.1 503 Service Unavailable", "HTTP/1.1 200 OK"}
        wrong = [o for o in outcomes if o[2] not in fine]
        print(f"saturated: {procstat.fd_count(srv.pid)} descriptors, {len(outcomes)} knocks "
              f"in {saturated_for:.1f} s")
        assert not wrong, f"wrong answers while out of descriptors: {wrong[:5]}"
        # Said, not shouted: at most one "Accept failed" line a second per
        # worker (it used to be ten a second), counted over however long
        # the server was saturated, so a slow machine only raises the bound.
        said = srv.log().count("Accept failed")
        allowed = workers * (math.ceil(saturated_for) + 2)
        assert said <= allowed, f"{said} 'Accept failed' lines in {saturated_for:.1f} s while out of descriptors"
        assert srv.proc.poll() is None
        assert echo_ok(session, "still here"), "existing session broken by the exhaustion"

        # Free the idle connections: the server serves new clients again.
        for s in held[1:]:
            s.close()
        del held[1:]
        deadline = time.monotonic() + 20  # one slow attempt may itself take 5 s
        while True:
            try:
                with wsb.RawWS(srv.port) as c:
                    stray.add(read_pid(c))
                    assert echo_ok(c, "served again")
                break
            except (ConnectionError, OSError, TimeoutError):
                assert time.monotonic() < deadline, "server did not recover once descriptors were free"
                time.sleep(0.2)
    finally:
        for s in held:
            s.close()


# ------------------------------------------------------------ fork slots

@pytest.mark.timeout(40)
def test_maxforks_exhaustion_refuses_only_new_sessions(start_server, stray):
    srv = start_server([script("pid_cat.sh")], flags=["--maxforks=2"])
    sessions = [wsb.RawWS(srv.port) for _ in range(2)]
    try:
        pids = [read_pid(c) for c in sessions]
        stray.add(*pids)
        results = []

        def knock():
            results.append(wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port)).status)

        threads = [threading.Thread(target=knock) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert results == [429] * 8, results
        # Plain HTTP needs no child and is still answered.
        assert wsb.http_exchange(srv.port, f"GET / HTTP/1.1\r\nHost: x\r\n\r\n".encode()).status == 404
        assert procstat.live_children(srv.pid) == sorted(pids), "a child was spawned over --maxforks"
        for i, c in enumerate(sessions):
            assert echo_ok(c, f"session {i} unaffected")
    finally:
        for c in sessions:
            c.close()


@pytest.mark.timeout(60)
def test_maxforks_counts_a_program_until_its_group_and_pipes_are_gone(start_server, stray):
    # The program exits at once but leaves a grandchild holding its stdout:
    # the connection, its pipes and its process group live on, so its fork
    # slot is still taken (websocketd: 2 x 101, 4 x 429). Each upgrade is
    # made only once the previous program has exited, so a slot given back
    # at the direct child's exit would be free again.
    srv = start_server([script("exit_leaving_grandchild.sh")], flags=["--maxforks=2"])
    held, statuses, groups = [], [], []
    try:
        for _ in range(6):
            try:
                c = wsb.RawWS(srv.port)
            except ConnectionError as e:
                statuses.append(int(str(e).split()[2]))
                continue
            statuses.append(101)
            held.append(c)
            child, grandchild = (int(p) for p in c.recv_message()[1].split())
            groups.append(child)
            stray.add(grandchild)
            assert wsb.wait_pid_gone(child, 10) is not None, "the program did not exit"
        assert statuses == [101, 101, 429, 429, 429, 429], statuses
        # Once a connection closes, its group is ended and the slot is free.
        held.pop().close()
        assert wsb.wait_until(lambda: wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port)).status == 101, 10,
                              interval=0.2)
    finally:
        for c in held:
            c.close()
        for group in groups:
            with contextlib.suppress(OSError):
                os.killpg(group, signal.SIGKILL)


# ------------------------------------------------------------ upgrade flood

def knock_and_leave(port, count, deadline):
    """`count` times: connect, send an upgrade request and close at once,
    the request and the FIN in one segment (TCP_CORK), as a flooding client
    that never waits for an answer does. Bounded by `deadline` too."""
    for _ in range(count):
        if time.monotonic() > deadline:
            return
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                s.sendall(wsb.upgrade_request(port))
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # a full backlog or a reset: the flood goes on


@pytest.mark.timeout(180)
def test_upgrade_flood_from_clients_that_left_starts_no_programs(start_server, tmp_path):
    # 2 threads x 300 clients send an upgrade and leave at once while one
    # established session echoes through its program. A program is started
    # only for a client still there when its launch leaves the loop's queue,
    # so the flood starts (almost) none, and the session is still served.
    started = tmp_path / "started"
    program = tmp_path / "count_then_cat.sh"
    program.write_text(f"#!/bin/sh\necho $$ >> {started}\nexec cat\n")
    program.chmod(0o755)
    srv = start_server([str(program)])
    flood_size = 2 * 300
    with wsb.RawWS(srv.port, timeout=10) as session:
        assert echo_ok(session, "before")
        deadline = time.monotonic() + 60
        threads = [threading.Thread(target=knock_and_leave, args=(srv.port, flood_size // 2, deadline))
                   for _ in range(2)]
        for t in threads:
            t.start()
        echoes = 0
        while any(t.is_alive() for t in threads) and echoes < 200:
            session.send_text(f"during {echoes}")
            assert session.recv_message(timeout=30) == (wsb.OP_TEXT, f"during {echoes}".encode())
            echoes += 1
        for t in threads:
            t.join(90)
            assert not t.is_alive()
        assert echo_ok(session, "after")
    # Every program of the flood appends its pid when it starts; the
    # established session's is the first line.
    spawner = procstat.spawner_of(srv.pid)
    assert wsb.wait_until(lambda: [p for p in procstat.live_children(srv.pid) if p != spawner] == [], 20)
    flood_programs = len(started.read_text().split()) - 1
    assert flood_programs < flood_size // 10, f"{flood_programs} programs started for {flood_size} clients that left"


# ------------------------------------------------------------ big stream, slow reader

@pytest.mark.timeout(120)
def test_100_mib_to_a_slow_reader_arrives_whole_with_bounded_memory(bin_path, start_server):
    total = 100 * 1048576
    srv = start_server(["/usr/bin/head", "-c", str(total), "/dev/zero"], flags=["--binary"])
    time.sleep(0.2)
    rss = procstat.RssWatch(srv.pid)
    c = wsb.RawWS(srv.port, rcvbuf=16384)
    buf = bytearray(c.buf)
    received = 0
    nonzero = 0
    close_code = None
    t0 = time.monotonic()
    reads = 0
    try:
        c.sock.settimeout(10)
        while close_code is None:  # bounded by the socket's 10 s and the test's timeout
            # Slow for the first ~3 s (4 KiB every 10 ms), then full speed.
            slow = time.monotonic() - t0 < 3
            data = c.sock.recv(4096 if slow else 1 << 20)
            if not data:
                break
            if slow:
                time.sleep(0.01)
            buf += data
            reads += 1
            # Whole frames only; payloads are counted, not kept.
            for _, op, payload in wsb.take_server_frames(buf):
                if op == wsb.OP_CLOSE:
                    close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    assert received == total, f"close after {received} of {total} bytes"
                elif op in (wsb.OP_BIN, wsb.OP_CONT):
                    received += len(payload)
                    nonzero += len(payload) - payload.count(0)
            if reads % 16 == 0:
                rss.sample()
    finally:
        c.close()
    elapsed = time.monotonic() - t0
    growth = rss.peak_growth
    print(f"100 MiB in {elapsed:.1f} s, server RSS {rss.baseline} KiB -> peak {rss.peak} KiB")
    assert received == total and nonzero == 0
    assert close_code == 1000
    bound = 60 * 1024 if procstat.is_asan_build(bin_path) else 20 * 1024
    assert growth < bound, f"server RSS grew {growth} KiB relaying to a slow reader"
