"""systemd integration: Type=notify messages on a fake NOTIFY_SOCKET (READY,
STATUS, WATCHDOG, STOPPING) and socket activation through Debian's
systemd-socket-activate, which passes a listening socket as LISTEN_FDS."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

import wsb


def fake_notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    return sock, path


def collect(sock, until, timeout):
    """Datagrams until one contains `until` (or the time runs out)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            continue
        if until in got[-1]:
            break
    return got


def test_notify_ready_status_watchdog_and_stopping(start_server, tmp_path):
    sock, path = fake_notify_socket(tmp_path)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
    srv = start_server(["cat"], env=env)
    try:
        got = collect(sock, "READY=1", 5)
        assert any("READY=1" in m for m in got), got
        # With WatchdogSec=0.2s the keep-alive comes every ~0.1 s, with the status line.
        got = collect(sock, "WATCHDOG=1", 3)
        assert any("WATCHDOG=1" in m for m in got), got
        with wsb.RawWS(srv.port) as c:
            c.send_text("x")
            assert c.recv_message(timeout=5)[1] == b"x"
            got = collect(sock, "STATUS=1 connection", 3)
            assert any(m.startswith("STATUS=1 connection(s), 1 child") for m in got), got
        assert srv.terminate() == 0
        got = collect(sock, "STOPPING=1", 3)
        assert any("STOPPING=1" in m for m in got), got
    finally:
        sock.close()


def test_no_watchdog_pings_without_watchdog_usec(start_server, tmp_path):
    sock, path = fake_notify_socket(tmp_path)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    start_server(["cat"], env=env)
    try:
        got = collect(sock, "WATCHDOG=1", 1.5)
        assert any("READY=1" in m for m in got), got
        assert not any("WATCHDOG=1" in m for m in got), got
    finally:
        sock.close()


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="systemd-socket-activate (package systemd) not installed")
def test_socket_activation_serves_on_the_inherited_socket(bin_path, tmp_path):
    port = wsb.free_port()
    log_path = tmp_path / "activated.log"
    with open(log_path, "wb") as log:
        # systemd-socket-activate binds, then execs wsbridge on the first
        # connection with LISTEN_FDS=1 (same PID). wsbridge is given a port
        # it must NOT bind (it would fail: it is taken by the inherited socket).
        proc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}", bin_path,
                                 f"--port={port}", "--address=127.0.0.1", "cat"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not wsb.tcp_connect_ok(port) and time.monotonic() < deadline:
            time.sleep(0.02)
        for text in ("first", "second"):
            with wsb.RawWS(port) as c:
                c.send_text(text)
                assert c.recv_message(timeout=5)[1] == text.encode()
        assert b"socket activation" in log_path.read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)


def test_shutdown_timeout_bounds_the_graceful_stop(start_server, stray):
    # A child that ignores every polite signal and a client that never
    # answers the close: --shutdown-timeout=1 ends it all within about 1 s.
    srv = start_server([wsb.script("ignore_signals.sh")], flags=["--shutdown-timeout=1", "--closems=5000"])
    with wsb.RawWS(srv.port) as c:
        pid = int(c.recv_message(timeout=5)[1])
        stray.add(pid)
        t0 = time.monotonic()
        # Without the deadline the child is killed only after about 15.85 s
        # (0.85 + 3 x 5 s): stopping within 10 s is the deadline at work.
        assert srv.terminate(timeout=10) == 0
        elapsed = time.monotonic() - t0
    assert elapsed > 0.8, f"stopped after {elapsed:.2f}s, before the 1 s deadline"
    assert "at the shutdown deadline" in srv.log(), srv.log()
    # Nothing outlives the server: the stubborn child was SIGKILLed and reaped.
    assert wsb.wait_pid_gone(pid, 2) is not None
