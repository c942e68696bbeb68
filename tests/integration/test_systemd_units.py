"""examples/systemd: the units are valid, and the service's command line
behaves as the unit promises when started the way systemd starts it.

systemd itself does not run in CI containers, so:
- `systemd-analyze verify` checks every directive of both units (with the
  binary path pointed at the build, since /usr/bin/wsbridge is not installed);
- the service's ExecStart runs under `systemd-socket-activate` listening where
  wsbridge.socket would, with a datagram socket standing in for
  $NOTIFY_SOCKET and WATCHDOG_USEC set as WatchdogSec= sets it. We check
  READY=1, WATCHDOG=1, STATUS=, and that SIGTERM (KillMode=mixed: to wsbridge alone) gives STOPPING=1, a
  close frame 1001 and exit 0.
"""
import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time

import pytest

import wsb

UNITS = os.path.normpath(os.path.join(wsb.HERE, "..", "..", "examples", "systemd"))


def unit_text(name: str) -> str:
    with open(os.path.join(UNITS, name)) as f:
        return f.read()


def directives(text: str, section: str) -> list[tuple[str, str]]:
    """(key, value) pairs of the uncommented lines in [section]."""
    out, current = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        if current == section and "=" in line:
            k, _, v = line.partition("=")
            out.append((k.strip(), v.strip()))
    return out


def service_value(key: str) -> str:
    values = [v for k, v in directives(unit_text("wsbridge.service"), "Service") if k == key]
    assert len(values) == 1, f"expected one {key}= in wsbridge.service, got {values}"
    return values[0]


def service_flags() -> list[str]:
    """The wsbridge flags of the service's ExecStart (without binary and program)."""
    return shlex.split(service_value("ExecStart"))[1:-1]


def test_service_declares_what_the_deployment_relies_on():
    svc = dict(directives(unit_text("wsbridge.service"), "Service"))
    assert svc["Type"] == "notify"
    assert svc["KillMode"] == "mixed"
    assert svc["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert re.fullmatch(r"\d+s?", svc["WatchdogSec"])
    for key, value in [("DynamicUser", "yes"), ("NoNewPrivileges", "yes"),
                       ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                       ("PrivateTmp", "yes"), ("SystemCallArchitectures", "native"),
                       ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")]:
        assert svc.get(key) == value, f"{key}= should be {value}, is {svc.get(key)}"
    sock = dict(directives(unit_text("wsbridge.socket"), "Socket"))
    assert "ListenStream" in sock


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze not installed (Debian package systemd)")
def test_units_pass_systemd_analyze_verify(bin_path, tmp_path):
    # verify resolves ExecStart's binary on this machine, so point it at the
    # build; everything else is checked as written.
    (tmp_path / "wsbridge.socket").write_text(unit_text("wsbridge.socket"))
    (tmp_path / "wsbridge.service").write_text(
        unit_text("wsbridge.service").replace("/usr/bin/wsbridge", bin_path))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                        str(tmp_path / "wsbridge.socket"), str(tmp_path / "wsbridge.service")],
                       capture_output=True, text=True, timeout=60)
    # An unknown or misspelt key is only a warning (exit 0), so any output fails.
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", \
        f"systemd-analyze verify: rc={r.returncode}\n{r.stdout}\n{r.stderr}"


class FakeNotifySocket:
    """A datagram socket playing systemd's side of sd_notify(3)."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages: list[str] = []

    def wait_for(self, prefix: str, timeout: float) -> str:
        """First message line starting with prefix (already received or arriving)."""
        deadline = time.monotonic() + timeout
        while True:
            for m in self.messages:
                for line in m.splitlines():
                    if line.startswith(prefix):
                        return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {prefix!r} within {timeout}s; got {self.messages}")
            self.sock.settimeout(left)
            with contextlib.suppress(socket.timeout):
                self.messages.append(self.sock.recv(4096).decode())

    def close(self):
        self.sock.close()


@pytest.mark.timeout(40)
@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="systemd-socket-activate not installed (Debian package systemd)")
def test_service_command_under_socket_activation(bin_path, tmp_path):
    argv = shlex.split(service_value("ExecStart"))
    assert argv[0] == "/usr/bin/wsbridge"
    # The unit's flags, our binary, and an echo program instead of the app.
    argv = [bin_path] + argv[1:-1] + [wsb.script("echo.sh")]
    watchdog_sec = int(service_value("WatchdogSec").rstrip("s"))

    notify = FakeNotifySocket(str(tmp_path / "notify.sock"))
    port = wsb.free_port()
    env = dict(os.environ, NOTIFY_SOCKET=notify.path,
               # As systemd does for WatchdogSec= (wsbridge pings at half of it).
               WATCHDOG_USEC=str(2 * 1000 * 1000))
    log_path = tmp_path / "wsbridge.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["systemd-socket-activate", f"--listen=127.0.0.1:{port}", "--fdname=wsbridge",
             "-E", "NOTIFY_SOCKET", "-E", "WATCHDOG_USEC", *argv],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=str(tmp_path), start_new_session=True)
    try:
        # systemd-socket-activate binds (and says so), then execs wsbridge
        # (same pid) on the first connection, which waits in the backlog as it
        # would under systemd.
        deadline = time.monotonic() + 5
        while b"Listening on" not in log_path.read_bytes() and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text(errors="replace")
            time.sleep(0.02)
        with wsb.RawWS(port, timeout=10) as ws:
            notify.wait_for("READY=1", timeout=10)
            ws.send_text("through the socket unit")
            assert ws.recv_message(5) == (wsb.OP_TEXT, b"through the socket unit")
            assert notify.wait_for("STATUS=", timeout=5)
            # WatchdogSec=2s: a ping within the interval.
            notify.wait_for("WATCHDOG=1", timeout=3)

            # systemctl stop with KillMode=mixed: SIGTERM to the main pid only.
            os.kill(proc.pid, signal.SIGTERM)
            code, _, _ = ws.expect_close(timeout=5)
            assert code == 1001
        notify.wait_for("STOPPING=1", timeout=5)
        # The unit's own stop timeout bounds the whole shutdown.
        stop_timeout = int(service_value("TimeoutStopSec").rstrip("s"))
        assert proc.wait(timeout=stop_timeout) == 0
        assert watchdog_sec > 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        notify.close()
        if proc.returncode not in (0, None):
            print(log_path.read_text(errors="replace")[-3000:])


@pytest.mark.timeout(20)
def test_reload_signal_keeps_a_plain_server_serving(start_server):
    """ExecReload=/bin/kill -HUP $MAINPID is in the unit for TLS, but a user
    may reload any instance (or a config tool may reload all of them)."""
    assert service_value("ExecReload") == "/bin/kill -HUP $MAINPID"
    srv = start_server([wsb.script("echo.sh")], flags=service_flags())
    with wsb.RawWS(srv.port) as ws:
        ws.send_text("before reload")
        assert ws.recv_message(5) == (wsb.OP_TEXT, b"before reload")
        os.kill(srv.pid, signal.SIGHUP)
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and srv.proc.poll() is None:
            time.sleep(0.02)
        assert srv.proc.poll() is None, f"SIGHUP ended wsbridge (status {srv.proc.returncode})"
        ws.send_text("after reload")
        assert ws.recv_message(5) == (wsb.OP_TEXT, b"after reload")
