"""wsbridge behind Debian's nginx, configured by examples/nginx/wsbridge.conf
(ports substituted): the WebSocket proxying from nginx's documentation, the
forwarding headers, and scale-out over two instances with fail-over.
"""
import signal
import stat
import subprocess
import time

import pytest

import proxies
import wsb

pytestmark = pytest.mark.skipif(
    proxies.find_program("nginx") is None,
    reason="nginx not installed (scripts/install-deps.sh --with-tests installs Debian's nginx)")


@pytest.fixture
def nginx(tmp_path, request):
    """Factory: nginx(backend_ports) -> running nginx on 127.0.0.1:<port>."""
    def start(backends, read_timeout="", ipv6=False):
        return proxies.start_nginx(str(tmp_path), list(backends), read_timeout=read_timeout, ipv6=ipv6)

    def error_log(_started):
        with open(tmp_path / "nginx-error.log", errors="replace") as f:
            return "--- nginx error log ---\n" + f.read()[-4000:]

    yield from proxies.stopped_at_teardown(request, start, error_log)


def echo(ws: wsb.RawWS, text: str):
    ws.send_text(text)
    assert ws.recv_message(5) == (wsb.OP_TEXT, text.encode())


def connects(srv) -> int:
    return srv.log().count("| CONNECT")


@pytest.mark.timeout(30)
def test_echo_through_nginx(start_server, nginx):
    backend = start_server([wsb.script("echo.sh")])
    proxy = nginx([backend.port])
    with wsb.RawWS(proxy.port) as ws:
        # nginx answered the upgrade with wsbridge's 101 and accept key
        # (RawWS checks it), and relays frames both ways.
        for text in ("hello through nginx", "ünïcødé ✓", "x" * 200_000):
            echo(ws, text)
        ws.send_frame(wsb.OP_PING, b"are you there")
        assert ws.recv_message(5, return_control=True) == (wsb.OP_PONG, b"are you there")
        ws.send_close(1000)
        code, _, seen = ws.expect_close(timeout=5)
        assert code == 1000 and seen == []
    assert backend.wait_log("| DISCONNECT", timeout=3)


@pytest.mark.timeout(30)
def test_child_sees_forwarding_headers(start_server, nginx):
    backend = start_server([wsb.script("env.sh")])
    proxy = nginx([backend.port])
    # The client claims an address of its own: nginx appends the real peer.
    with wsb.RawWS(proxy.port, path="/app?room=1",
                   headers={"X-Forwarded-For": "203.0.113.7"}) as ws:
        code, _, seen = ws.expect_close(timeout=5)
    env = dict(p.decode().split("=", 1) for _, p in seen if b"=" in p)
    assert code == 1000
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 127.0.0.1"
    assert env["HTTP_X_REAL_IP"] == "127.0.0.1"
    assert env["HTTP_X_FORWARDED_PROTO"] == "http"
    assert env["QUERY_STRING"] == "room=1"
    assert env["REQUEST_URI"] == "/app?room=1"
    # Host is $http_host (the client's, with its port), not the upstream name;
    # wsbridge leaves Host out of HTTP_* but uses it for SERVER_NAME.
    assert env["SERVER_NAME"] == "127.0.0.1"
    assert "HTTP_HOST" not in env
    # Hop-by-hop headers are nginx's business, not the program's.
    assert env.get("HTTP_UPGRADE", "websocket").lower() == "websocket"


@pytest.mark.timeout(40)
def test_two_instances_share_the_load_and_survive_one_stopping(start_server, nginx):
    a = start_server([wsb.script("echo.sh")])
    b = start_server([wsb.script("echo.sh")])
    proxy = nginx([a.port, b.port])

    n = 8
    clients = []
    try:
        for i in range(n):
            ws = wsb.RawWS(proxy.port)
            clients.append(ws)
            echo(ws, f"client {i}")
        # Every connection reached one instance or the other, and both got
        # a share (least_conn alternates while connections stay open).
        # The log has its own writer thread: a CONNECT line can come after
        # the echo that proves the connection, so wait for all of them.
        assert wsb.wait_until(lambda: connects(a) + connects(b) == n, 10), (connects(a), connects(b))
        assert connects(a) >= n // 4 and connects(b) >= n // 4, \
            f"unbalanced: a={connects(a)} b={connects(b)}"
        on_a = connects(a)

        # Stop instance a (as systemctl stop or a deploy would, by its PID).
        assert a.terminate(timeout=wsb.TEARDOWN_SECONDS) == 0
        # Its clients got wsbridge's close 1001 through nginx; b's still work.
        survivors, closed = [], 0
        for ws in clients:
            try:
                ws.send_text("still there?")
                msg = ws.recv_message(5)
            except (wsb.Closed, OSError):
                msg = ("gone",)
            if msg[0] == "close":
                assert msg[1] == 1001
                closed += 1
            elif msg[0] == "gone":
                closed += 1
            else:
                assert msg == (wsb.OP_TEXT, b"still there?")
                survivors.append(ws)
        assert closed == on_a and len(survivors) == n - on_a

        # New connections keep succeeding: nginx finds a refusing the
        # connection and passes each one to b.
        b_before = connects(b)
        for i in range(6):
            with wsb.RawWS(proxy.port) as ws:
                echo(ws, f"after failover {i}")
        assert wsb.wait_until(lambda: connects(b) == b_before + 6, 10), (b_before, connects(b))
        assert connects(a) == on_a
    finally:
        for ws in clients:
            ws.close()


@pytest.mark.timeout(30)
def test_full_instance_passes_upgrades_to_the_other(start_server, nginx):
    """--maxforks per instance: an instance at its limit answers 429 and
    nginx (proxy_next_upstream http_429) retries the upgrade on the other."""
    full = start_server([wsb.script("echo.sh")], flags=["--maxforks=1"])
    roomy = start_server([wsb.script("echo.sh")])
    proxy = nginx([full.port, roomy.port])
    clients = []
    try:
        # least_conn keeps choosing `full` (it has the fewest connections)
        # once it holds its one child, so within a few upgrades it refuses one.
        for i in range(6):
            ws = wsb.RawWS(proxy.port)
            clients.append(ws)
            echo(ws, f"client {i}")
            if "upgrade rejected" in full.log() and i >= 2:
                break
        assert full.wait_log("Max of possible forks already active, upgrade rejected")
        assert wsb.wait_until(lambda: connects(roomy) == len(clients) - 1, 10), (len(clients), connects(roomy))
        assert connects(full) == 1
    finally:
        for ws in clients:
            ws.close()


@pytest.mark.timeout(30)
def test_server_pings_keep_a_quiet_connection_open_through_nginx(start_server, nginx):
    # nginx closes a WebSocket that is quiet for proxy_read_timeout (2 s
    # here); the server's pings, every 500 ms, are the only traffic.
    backend = start_server([wsb.script("echo.sh")], flags=["--pingms=500"])
    proxy = nginx([backend.port], read_timeout="2s")
    with wsb.RawWS(proxy.port) as ws:
        echo(ws, "hello")
        # Two and a half read timeouts of silence from the program; only the
        # server's pings cross nginx (RawWS answers them).
        deadline = time.monotonic() + 5
        pings = 0
        while time.monotonic() < deadline:
            try:
                msg = ws.recv_message(max(0.05, deadline - time.monotonic()),
                                      return_control=True)
            except TimeoutError:
                break
            assert msg[0] == wsb.OP_PING, f"unexpected {msg!r}"
            pings += 1
        assert pings >= 2
        echo(ws, "still here")


@pytest.mark.timeout(30)
def test_unix_socket_upstream(bin_path, nginx, tmp_path):
    """wsbridge on a Unix socket (--address=unix:PATH), nginx in front."""
    path = tmp_path / "wsbridge.sock"
    log = open(tmp_path / "unix-backend.log", "wb")
    proc = subprocess.Popen([bin_path, f"--address=unix:{path}", "--unixsocket-mode=0660",
                             wsb.script("echo.sh")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=str(tmp_path), start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "unix-backend.log").read_text()
            time.sleep(0.02)
        assert path.exists(), "wsbridge did not create its Unix socket"
        assert stat.S_ISSOCK(path.stat().st_mode)
        assert stat.S_IMODE(path.stat().st_mode) == 0o660
        proxy = nginx([f"unix:{path}"])
        with wsb.RawWS(proxy.port) as ws:
            echo(ws, "over a unix socket")
        # The log has a writer thread of its own: the line may trail the echo.
        assert wsb.wait_until(lambda: b"CONNECT" in (tmp_path / "unix-backend.log").read_bytes(), 5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()
    # A clean stop removes the socket file, so the next start can bind.
    assert proc.returncode == 0
    assert not path.exists()


def env_via(port: int, host: str = "127.0.0.1", headers=None) -> dict:
    with wsb.RawWS(port, host=host, headers=headers) as ws:
        code, _, seen = ws.expect_close(timeout=5)
    assert code == 1000
    return dict(p.decode().split("=", 1) for _, p in seen if b"=" in p)


@pytest.mark.timeout(30)
@pytest.mark.skipif(not proxies.ipv6_loopback_ok(), reason="no IPv6 loopback")
def test_trusted_proxy_sets_remote_addr_from_nginx_headers(start_server, nginx):
    """The client reaches nginx over ::1, nginx reaches wsbridge over
    127.0.0.1: with nginx trusted, the program sees ::1; without, 127.0.0.1."""
    trusting = start_server([wsb.script("env.sh")], flags=["--trusted-proxy=127.0.0.1"])
    plain = start_server([wsb.script("env.sh")])
    via_trusting = nginx([trusting.port], ipv6=True)
    via_plain = nginx([plain.port], ipv6=True)

    env = env_via(via_trusting.port, host="::1")
    assert env["HTTP_X_REAL_IP"] == "::1"
    assert env["REMOTE_ADDR"] == "::1"
    env = env_via(via_plain.port, host="::1")
    assert env["HTTP_X_REAL_IP"] == "::1"
    assert env["REMOTE_ADDR"] == "127.0.0.1", "headers believed from an untrusted peer"


@pytest.mark.timeout(30)
@pytest.mark.skipif(not proxies.ipv6_loopback_ok(), reason="no IPv6 loopback")
def test_untrusted_client_cannot_claim_an_address(start_server):
    """A client that is not a trusted proxy sends forged headers directly."""
    srv = start_server([wsb.script("env.sh")], flags=["--trusted-proxy=127.0.0.1"],
                       address="[::1]")
    env = env_via(srv.port, host="::1",
                  headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"})
    assert env["REMOTE_ADDR"] == "::1"
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7"
