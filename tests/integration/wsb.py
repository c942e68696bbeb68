"""Helpers for wsbridge's integration tests.

Everything here talks only to 127.0.0.1 (or ::1), every loop is bounded in
count and time, and the only processes ended are the ones these helpers
started (by PID).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")
WEBSOCKETD = "/usr/bin/websocketd"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def script(name: str) -> str:
    """Absolute path of a child script in tests/integration/scripts/."""
    path = os.path.join(SCRIPTS, name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"script {path} missing or not executable")
    return path


def binary_under_test() -> str:
    path = os.environ.get("WSBRIDGE_BIN", "")
    if not path:
        raise RuntimeError("WSBRIDGE_BIN is not set (ctest sets it to the built wsbridge)")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"WSBRIDGE_BIN={path} is not an executable file")
    return path


def is_websocketd(path: str) -> bool:
    return os.path.basename(os.path.realpath(path)).startswith("websocketd")


def _ephemeral_port_floor() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_EPHEMERAL_FLOOR = _ephemeral_port_floor()
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port that is free now, below the kernel's ephemeral range.

    Asking the kernel for port 0 would give one from the ephemeral range,
    which every test's outgoing connections also draw from: under parallel
    ctest a client could take the port before the server binds it, or (worse)
    a server started meanwhile by another test could answer on it. Ports
    below that range are taken only by servers that ask for them."""
    low = max(1024, min(10000, _EPHEMERAL_FLOOR - 2000))
    for _ in range(200):
        port = random.randrange(low, _EPHEMERAL_FLOOR)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # a crowded range: let the kernel pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_connect_ok(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# Process helpers
# --------------------------------------------------------------------------

def pid_recording_program(tmp_path, name: str, body: str) -> str:
    """A shell program that appends its pid to <name>.pids, then runs `body`."""
    path = tmp_path / f"{name}.sh"
    path.write_text(f"#!/bin/sh\necho $$ >> {tmp_path / (name + '.pids')}\n{body}\n")
    path.chmod(0o755)
    return str(path)


def recorded_pids(tmp_path, name: str) -> list[int]:
    """The pids a pid_recording_program named `name` recorded, in order."""
    path = tmp_path / f"{name}.pids"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def pid_alive(pid: int) -> bool:
    """True while /proc/<pid> exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return False
    # Field 3 (after the parenthesised comm) is the state.
    state = data[data.rfind(")") + 2:].split()[0]
    return state not in ("Z", "X")


def wait_pid_gone(pid: int, timeout: float) -> float | None:
    """Seconds until pid disappeared, or None if it is still alive at timeout."""
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return time.monotonic() - start
        time.sleep(0.01)
    return None if pid_alive(pid) else time.monotonic() - start


def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    """Polls predicate until it holds (True) or timeout passes (False): for
    what must happen eventually, instead of a sleep that guesses how long."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(interval)
    return True


def holds_for(predicate, seconds: float, interval: float = 0.02) -> bool:
    """True when predicate holds at every poll for `seconds`; False at the
    first poll where it does not. For what must not happen: a late event is
    caught anywhere in the window, and an early one at once."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not predicate():
            return False
        time.sleep(interval)
    return predicate()


class StrayPids:
    """Pids of children our test scripts reported (e.g. grandchildren).

    At teardown any that are still alive and still run one of our scripts or
    `sleep` are SIGKILLed, so a server under test that leaks processes cannot
    leave them behind. The cmdline check avoids hitting a reused pid.
    """

    def __init__(self):
        self.pids: set[int] = set()

    def add(self, *pids: int):
        self.pids.update(int(p) for p in pids)

    def cleanup(self):
        for pid in sorted(self.pids):
            if not pid_alive(pid):
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if SCRIPTS.encode() in cmd or cmd.startswith(b"sleep") or b"/sleep" in cmd:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        self.pids.clear()


# --------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------

class ServerStartError(RuntimeError):
    pass


# What the sanitizer stages (scripts/test-asan.sh, test-tsan.sh) set for every
# process they run: where reports go and which exit status a report causes.
SANITIZER_VARIABLES = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS")

# How long a server may take to exit on SIGTERM at teardown: the default
# --shutdown-timeout (10 s with --closems=0) and room for a sanitizer's exit
# report. A hang bound only; a server that needs it has a bug anyway.
TEARDOWN_SECONDS = 20.0


def server_environment(env: dict | None) -> dict:
    """The environment to start a server under test with: `env` (the test's
    own, replacing ours) or ours, and in both cases the sanitizer variables we
    run under, so that a sanitized server's reports reach their log files
    whatever environment the test gives it. The server passes none of them to
    its children unless --passenv names them."""
    result = dict(os.environ) if env is None else dict(env)
    for name in SANITIZER_VARIABLES:
        if name in os.environ and name not in result:
            result[name] = os.environ[name]
    return result


def exit_status_name(status: int | None) -> str:
    if status is None:
        return f"still running after SIGTERM and {TEARDOWN_SECONDS:.0f} s (killed)"
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-status).name}"
    return f"exit status {status}"


class Server:
    """One server process (wsbridge or websocketd) on 127.0.0.1:<free port>.

    Its stdout (the log) and stderr go to files in `workdir`.
    """

    def __init__(self, binary: str, flags: list[str], command: list[str],
                 workdir: str, env: dict | None = None, port: int | None = None,
                 address: str = "127.0.0.1", name: str = "server", argv_fn=None):
        self.binary = binary
        self.flags = list(flags)
        self.command = list(command)
        self.workdir = workdir
        self.env = env
        self.fixed_port = port
        self.address = address
        self.name = name
        self.argv_fn = argv_fn  # port -> full argv, for tests of flag spellings
        self.connect_host = address.strip("[]") if address else "127.0.0.1"
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.stdout_path = ""
        self.stderr_path = ""
        self.returncode: int | None = None
        # Exit statuses the test expects at the end; anything else (a crash on
        # SIGTERM, a sanitizer's exit status, a hang) fails it at teardown.
        self.expected_exit: set[int] = {0}
        self.needed_kill = False  # SIGTERM was not enough

    def expect_exit(self, *statuses: int) -> None:
        """Declare the exit statuses this test ends the server with, e.g.
        -signal.SIGKILL for a test that kills it."""
        self.expected_exit = set(statuses)

    def exit_problem(self) -> str | None:
        """Why the way the server ended is wrong, or None when it is as
        expected. websocketd (the reference) dies of SIGTERM by design: only
        wsbridge is held to a clean exit."""
        if self.proc is None or is_websocketd(self.binary):
            return None
        if self.returncode in self.expected_exit and not self.needed_kill:
            return None
        status = None if self.needed_kill else self.returncode
        return (f"{self.name} ({' '.join(self.argv(self.port))}) ended with "
                f"{exit_status_name(status)}, expected "
                f"{sorted(self.expected_exit)}\n{self.stderr()[-3000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def argv(self, port: int) -> list[str]:
        if self.argv_fn is not None:
            return [self.binary, *self.argv_fn(port)]
        # WSBRIDGE_TEST_WORKERS (scripts/test-tsan.sh) sets the number of
        # worker loops; a test's own --workers comes later and wins.
        workers = os.environ.get("WSBRIDGE_TEST_WORKERS", "")
        extra = [f"--workers={workers}"] if workers and not is_websocketd(self.binary) else []
        return [self.binary, f"--port={port}", f"--address={self.address}",
                *extra, *self.flags, *self.command]

    def start(self, ready_timeout: float = 5.0, attempts: int = 5) -> "Server":
        last_err = ""
        for attempt in range(attempts):
            port = self.fixed_port or free_port()
            tag = f"{self.name}-{port}-{attempt}"
            self.stdout_path = os.path.join(self.workdir, f"{tag}.stdout")
            self.stderr_path = os.path.join(self.workdir, f"{tag}.stderr")
            env = server_environment(self.env)
            self.returncode = None
            self.needed_kill = False
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(self.argv(port), stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=err, env=env,
                                             cwd=self.workdir, start_new_session=True)
            self.port = port
            deadline = time.monotonic() + ready_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if tcp_connect_ok(port, self.connect_host):
                    return self
                time.sleep(0.02)
            rc = self.proc.poll()
            text = self.log() + self.stderr()
            if rc is None:
                self.stop()
                raise ServerStartError(f"{self.argv(port)} not accepting within "
                                       f"{ready_timeout}s\n{text}")
            self.proc.wait()
            self.returncode = rc
            last_err = f"exit {rc}: {text}"
            if "in use" in text.lower() and self.fixed_port is None:
                continue  # someone took the port between probe and bind
            raise ServerStartError(f"{self.argv(port)} exited: {last_err}")
        raise ServerStartError(f"could not start after {attempts} attempts: {last_err}")

    def died_unexpectedly(self) -> bool:
        """True when the server exited although nobody asked it to."""
        return (self.proc is not None and self.returncode is None
                and self.proc.poll() is not None)

    def url(self, path: str = "/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, needle: str, timeout: float = 3.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.02)
        return needle in self.log()

    def terminate(self, timeout: float = 5.0) -> int | None:
        """SIGTERM our server pid; returns its exit status (None if it had to be killed)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.returncode = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.returncode = None
                self.needed_kill = True
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait(timeout=5)
        else:
            self.returncode = self.proc.returncode
        return self.returncode

    def stop(self) -> int | None:
        """SIGTERM unless it has already ended; its exit status (None if it
        had to be killed)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            return self.terminate(timeout=TEARDOWN_SECONDS)
        if self.returncode is None and not self.needed_kill:
            self.returncode = self.proc.returncode
        return self.returncode


def run_cli(binary: str, args: list[str], timeout: float = 5.0, env=None,
            cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the binary with args, expecting it to exit by itself (bounded)."""
    p = subprocess.Popen([binary, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=5)
        raise AssertionError(f"{args} did not exit within {timeout}s; stdout={out!r} stderr={err!r}")
    return subprocess.CompletedProcess([binary, *args], p.returncode, out, err)


# --------------------------------------------------------------------------
# Raw HTTP / WebSocket client
# --------------------------------------------------------------------------

def make_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def upgrade_request(port: int, path: str = "/", headers: dict | None = None,
                    method: str = "GET", omit: tuple = (), key: str | None = None) -> bytes:
    hdrs = {
        "Host": f"127.0.0.1:{port}",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key or make_key(),
        "Sec-WebSocket-Version": "13",
    }
    for k in omit:
        hdrs.pop(k, None)
    if headers:
        hdrs.update(headers)
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in hdrs.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HttpResponse:
    def __init__(self, status: int, reason: str, headers: list, body: bytes, rest: bytes):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (lower-case name, value)
        self.body = body
        self.rest = rest  # bytes after the head that were not body (e.g. WS frames)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<HTTP {self.status} {self.reason} {self.headers} body={self.body[:200]!r}>"


def read_http_head(sock: socket.socket, timeout: float, limit: int = 1 << 20):
    """Read bytes until CRLFCRLF; returns (head bytes, leftover bytes)."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        if time.monotonic() > deadline or len(buf) > limit:
            raise TimeoutError(f"no complete HTTP head; got {buf[:300]!r}")
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before HTTP head complete; got {buf[:300]!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def parse_head(head: bytes):
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip().lower(), v.strip()))
    return status, reason, headers


def http_exchange(port: int, request: bytes, timeout: float = 5.0,
                  host: str = "127.0.0.1") -> HttpResponse:
    """Send a raw request, read one response (head + Content-Length body, or
    until close when there is no length). Not for 101 responses."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        head, rest = read_http_head(s, timeout)
        status, reason, headers = parse_head(head)
        body = rest
        length = None
        for k, v in headers:
            if k == "content-length":
                length = int(v)
        deadline = time.monotonic() + timeout
        if status != 101:
            while (length is None or len(body) < length) and time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    break
                if not chunk:
                    break
                body += chunk
        if length is not None:
            body, rest = body[:length], body[length:]
        else:
            rest = b""
        return HttpResponse(status, reason, headers, body, rest)


def half_closed_exchange(port: int, request: bytes, timeout: float = 20.0,
                         linger: float = 0.5) -> HttpResponse:
    """Send a raw request, then shut down the sending side (SHUT_WR, as
    `nc -N` and some HTTP/1.0 tools do), wait `linger` seconds without
    reading, and read the whole response until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        time.sleep(linger)  # the server sees the end of input before we read
        data = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    if b"\r\n\r\n" not in data:
        return HttpResponse(0, "", [], bytes(data), b"")
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    status, reason, headers = parse_head(head)
    return HttpResponse(status, reason, headers, body, b"")


def http_request(port: int, path: str, method: str = "GET", headers: dict | None = None,
                 body: bytes | None = None, timeout: float = 5.0,
                 connection_close: bool = False) -> HttpResponse:
    """One plain HTTP/1.1 request to 127.0.0.1:port, and its response.

    The Host header names the real address, so the server sees what a
    browser would send. `connection_close` adds "Connection: close" for
    servers that would otherwise keep the connection open (websocketd); a
    body, even an empty one, goes with its Content-Length so that a POST
    without a body is still a complete request.
    """
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if connection_close:
        lines.append("Connection: close")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return http_exchange(port, head + (body or b""), timeout=timeout)


def assert_only_listed_differences(observe, reference_port: int, subject_port: int,
                                   paths, differences: dict):
    """Compares observe(port, path) on websocketd and on wsbridge for every path.

    A difference not listed in `differences` fails (a new incompatibility),
    and so does a listed one that is no longer observed (the list would
    otherwise go stale and hide a change of behaviour).
    """
    observed = {}
    for path in paths:
        ref, got = observe(reference_port, path), observe(subject_port, path)
        if ref != got:
            observed[path] = (ref, got)
    new = {p: v for p, v in observed.items() if p not in differences}
    gone = set(differences) - set(observed)
    assert not new, "\n".join(f"NEW difference on {p}: websocketd={a!r} wsbridge={b!r}"
                              for p, (a, b) in new.items())
    assert not gone, f"listed differences not observed: {sorted(gone)}"


OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def encode_frame(opcode: int, payload: bytes = b"", fin: bool = True, mask: bool = True,
                 rsv: int = 0, mask_key: bytes | None = None) -> bytes:
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return hdr + key + mask_bytes(payload, key)


def mask_bytes(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def send_until_blocked(sock: socket.socket, data: bytes, limit: int, *, timeout: float,
                       seconds: float | None = None, counted: int | None = None,
                       dropped_ok: bool = False, sample=None, sample_every: int = 1):
    """Sends `data` again and again until a send blocks for `timeout` s (the
    peer has stopped reading: backpressure reached us), `limit` bytes are
    counted, or `seconds` have passed. Returns (bytes counted, blocked).

    Each send counts `counted` bytes (default len(data)), so a test can count
    payload or owed pongs rather than frame bytes. `sample` (e.g. an RSS
    sample) is called after every `sample_every`-th send, to see memory while
    the flood goes on. With `dropped_ok` a peer that drops the connection
    ends the flood too, for tests where being dropped is acceptable.
    """
    counted = len(data) if counted is None else counted
    ended_by = (BrokenPipeError, ConnectionResetError) if dropped_ok else ()
    deadline = None if seconds is None else time.monotonic() + seconds
    sock.settimeout(timeout)
    sent = sends = 0
    while sent < limit and (deadline is None or time.monotonic() < deadline):
        try:
            sock.sendall(data)
        except (socket.timeout, BlockingIOError):
            return sent, True
        except ended_by:
            break
        sent += counted
        sends += 1
        if sample is not None and sends % sample_every == 0:
            sample()
    return sent, False


def take_server_frames(buf: bytearray):
    """Yields (fin, opcode, payload) for each whole frame at the front of
    buf, removing it; a partial frame stays for the next call.

    For tests that read megabytes straight off the socket (RawWS re-slices
    its buffer for every frame, which is too slow there). Server frames are
    never masked (RFC 6455 §5.1), so a mask bit is an error.
    """
    i = 0
    try:
        while len(buf) - i >= 2:
            b0, b1 = buf[i], buf[i + 1]
            assert not (b1 & 0x80), "server frames must not be masked"
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(buf) - i < 4:
                    break
                n, off = struct.unpack_from("!H", buf, i + 2)[0], 4
            elif n == 127:
                if len(buf) - i < 10:
                    break
                n, off = struct.unpack_from("!Q", buf, i + 2)[0], 10
            if len(buf) - i < off + n:
                break
            payload = bytes(buf[i + off:i + off + n])
            i += off + n
            yield bool(b0 & 0x80), b0 & 0x0F, payload
    finally:
        del buf[:i]


class Closed(Exception):
    """The TCP connection ended (EOF or reset)."""


class RawWS:
    """A WebSocket client on a plain socket, so tests can send anything."""

    def __init__(self, port: int, path: str = "/", headers: dict | None = None,
                 rcvbuf: int | None = None, timeout: float = 5.0, host: str = "127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                  socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        key = make_key()
        self.sock.sendall(upgrade_request(port, path, headers, key=key))
        head, self.buf = read_http_head(self.sock, timeout)
        status, reason, hdrs = parse_head(head)
        self.response = HttpResponse(status, reason, hdrs, b"", b"")
        if status != 101:
            self.sock.close()
            raise ConnectionError(f"upgrade refused: {status} {reason} {hdrs}")
        accept = self.response.header("sec-websocket-accept")
        if accept != accept_for(key):
            self.sock.close()
            raise ConnectionError(f"bad Sec-WebSocket-Accept {accept!r}")

    # -- sending --
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kw):
        self.sock.sendall(encode_frame(opcode, payload, **kw))

    def send_text(self, text: str | bytes):
        self.send_frame(OP_TEXT, text.encode() if isinstance(text, str) else text)

    def send_close(self, code: int | None = 1000, reason: bytes = b""):
        self.send_frame(OP_CLOSE, b"" if code is None else close_payload(code, reason))

    # -- receiving --
    def _fill(self, n: int, deadline: float):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"timed out waiting for {n} bytes (have {len(self.buf)})")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, n - len(self.buf)))
            except socket.timeout:
                raise TimeoutError(f"timed out waiting for {n} bytes (have {len(self.buf)})")
            except ConnectionResetError as e:
                raise Closed(f"reset: {e}")
            if not chunk:
                raise Closed("EOF")
            self.buf += chunk

    def recv_frame(self, timeout: float = 5.0):
        """Returns (fin, opcode, payload, masked). Raises Closed / TimeoutError."""
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            self._fill(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            off = 4
        elif n == 127:
            self._fill(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            off = 10
        masked = bool(b1 & 0x80)
        if masked:
            off += 4
        self._fill(off + n, deadline)
        payload = self.buf[off:off + n]
        if masked:
            payload = mask_bytes(payload, self.buf[off - 4:off])
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload, masked

    def recv_message(self, timeout: float = 5.0, return_control: bool = False):
        """Next data message as (opcode, payload). Pings are answered. Close →
        ("close", code, reason). Pongs are skipped unless return_control."""
        deadline = time.monotonic() + timeout
        parts, first_op = [], None
        while True:
            fin, op, payload, _ = self.recv_frame(max(0.0, deadline - time.monotonic()))
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return ("close", code, payload[2:])
            if op == OP_PING:
                self.send_frame(OP_PONG, payload)
                if return_control:
                    return (OP_PING, payload)
                continue
            if op == OP_PONG:
                if return_control:
                    return (OP_PONG, payload)
                continue
            if first_op is None:
                first_op = op
            parts.append(payload)
            if fin:
                return (first_op, b"".join(parts))

    def expect_close(self, timeout: float = 5.0, skip_data: bool = True):
        """Read until a close frame; returns (code, reason, data messages seen)."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            msg = self.recv_message(max(0.0, deadline - time.monotonic()))
            if msg[0] == "close":
                return msg[1], msg[2], seen
            if not skip_data:
                raise AssertionError(f"expected close, got {msg!r}")
            seen.append(msg)

    def messages_until_end(self, limit: int = 100000, timeout: float = 20.0):
        """Data payloads until the server closes, by a close frame or by
        ending TCP; returns (payloads, close code or None without a frame).
        More than `limit` messages fail (a runaway); timeout is for the lot."""
        out = []
        deadline = time.monotonic() + timeout
        for _ in range(limit + 1):
            try:
                msg = self.recv_message(timeout=max(0.1, deadline - time.monotonic()))
            except Closed:
                return out, None
            if msg[0] == "close":
                return out, msg[1]
            out.append(msg[1])
        raise AssertionError(f"more than {limit} messages before the end")

    def wait_eof(self, timeout: float = 5.0) -> bool:
        """True when the server closes TCP within timeout (data is discarded)."""
        deadline = time.monotonic() + timeout
        self.buf = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
        return False

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def ws_close_code_from_exc(exc) -> int | None:
    """Close code the server sent, from a websockets ConnectionClosed exception."""
    rcvd = getattr(exc, "rcvd", None)
    return rcvd.code if rcvd is not None else None


def workdir(prefix: str = "wsb-") -> str:
    return tempfile.mkdtemp(prefix=prefix)
