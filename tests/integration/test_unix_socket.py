"""--unixsocket / --address=unix:PATH: a Unix domain socket listener for a
proxy on the same host."""
import asyncio
import os
import signal
import socket
import stat
import subprocess
import time

import pytest
import websockets

import wsb
from wsb import script


def unix_connect_ok(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


class UnixServer:
    def __init__(self, bin_path, tmp_path, flags, command):
        self.log_path = tmp_path / f"unix-{time.monotonic_ns()}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([bin_path, *flags, *command], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=tmp_path, start_new_session=True)

    def wait_socket(self, path, timeout=5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # The file appears at bind(), a moment before listen(): ready
            # means accepting, as for a TCP port.
            if os.path.exists(path) and unix_connect_ok(path):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def wait_log(self, needle, timeout=5):
        deadline = time.monotonic() + timeout
        while needle not in self.log_path.read_text():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            return None


@pytest.fixture
def unix_server(bin_path, tmp_path):
    started = []

    def start(flags, command=("cat",)):
        s = UnixServer(bin_path, tmp_path, flags, command)
        started.append(s)
        return s

    yield start
    # As the start_server fixture: each must exit 0 on SIGTERM.
    statuses = [s.stop() for s in started]
    assert all(status == 0 for status in statuses), f"exit statuses on SIGTERM: {statuses}"


async def unix_echo(path, text):
    async with websockets.unix_connect(path, "ws://localhost/") as ws:
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), 5)


async def unix_env(path):
    async with websockets.unix_connect(path, "ws://localhost/") as ws:
        lines = []
        try:
            while True:
                lines.append(await asyncio.wait_for(ws.recv(), 5))
        except websockets.ConnectionClosed:
            return dict(line.split("=", 1) for line in lines if "=" in line)


def test_unix_socket_alone_serves_and_is_removed_on_exit(unix_server, tmp_path):
    path = str(tmp_path / "ws.sock")
    srv = unix_server([f"--unixsocket={path}", "--unixsocket-mode=0600"])
    assert srv.wait_socket(path), srv.log_path.read_text()
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert asyncio.run(unix_echo(path, "over unix")) == "over unix"
    # No TCP listener on port 80 was attempted (it would have failed as non-root
    # or collided); the log names only the Unix socket. The banner follows the
    # listeners, so a client can be served before it is written: poll for it.
    assert srv.wait_log("Starting WebSocket server   : unix:" + path), srv.log_path.read_text()
    assert "ws://" not in srv.log_path.read_text()
    assert srv.stop() == 0
    assert not os.path.exists(path)


def test_child_sees_unix_socket_as_remote_addr(unix_server, tmp_path):
    path = str(tmp_path / "env.sock")
    srv = unix_server([f"--address=unix:{path}"], [script("env.sh")])
    assert srv.wait_socket(path), srv.log_path.read_text()
    env = asyncio.run(unix_env(path))
    assert env["REMOTE_ADDR"] == "unix-socket"
    assert env["REMOTE_PORT"] == ""


def test_stale_socket_file_is_replaced_and_live_one_refused(unix_server, bin_path, tmp_path):
    path = str(tmp_path / "stale.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nothing listens: stale
    srv = unix_server([f"--unixsocket={path}"])
    deadline = time.monotonic() + 5
    ok = False
    while time.monotonic() < deadline and not ok:
        try:
            ok = asyncio.run(unix_echo(path, "fresh")) == "fresh"
        except OSError:
            time.sleep(0.05)
    assert ok, srv.log_path.read_text()
    # A second server must not take over the live socket.
    r = wsb.run_cli(bin_path, [f"--unixsocket={path}", "cat"], timeout=5)
    assert r.returncode == 3
    assert b"another server" in r.stdout + r.stderr
    assert asyncio.run(unix_echo(path, "still first")) == "still first"


def test_tcp_and_unix_together(start_server, tmp_path):
    path = str(tmp_path / "both.sock")
    srv = start_server(["cat"], flags=[f"--unixsocket={path}"])
    with wsb.RawWS(srv.port) as c:
        c.send_text("tcp")
        assert c.recv_message(timeout=5)[1] == b"tcp"
    assert asyncio.run(unix_echo(path, "unix")) == "unix"
