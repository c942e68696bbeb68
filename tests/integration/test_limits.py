"""Admission and size limits: maxforks, origin policy, handshake errors, header
size, handshake timeout, message size."""
import socket
import time

import pytest

import procstat
import wsb
from wsb import script


def upgrade_status(port, **kw):
    return wsb.http_exchange(port, wsb.upgrade_request(port, **kw))


@pytest.fixture
def echo(start_server):
    return start_server([script("echo.sh")])


# ------------------------------------------------------------------ maxforks

@pytest.mark.timeout(30)
def test_maxforks_rejects_second_upgrade_with_429_then_recovers(start_server, stray):
    srv = start_server([script("pid_cat.sh")], flags=["--maxforks=1"])
    first = wsb.RawWS(srv.port)
    (pid,) = [int(x) for x in first.recv_message(timeout=5)[1].split()]
    stray.add(pid)
    r = upgrade_status(srv.port)
    assert r.status == 429, r
    assert wsb.holds_for(lambda: procstat.live_children(srv.pid) == [pid], 1.0), \
        f"a child was spawned for the rejected upgrade: {procstat.live_children(srv.pid)}"
    first.send_close(1000)
    first.expect_close(timeout=5)
    first.close()
    assert wsb.wait_pid_gone(pid, 3) is not None
    # The slot comes back (allow a moment for the release).
    deadline = time.monotonic() + 3
    while True:
        try:
            with wsb.RawWS(srv.port) as again:
                (pid2,) = [int(x) for x in again.recv_message(timeout=5)[1].split()]
                stray.add(pid2)
                again.send_text("works")
                assert again.recv_message(timeout=5) == (wsb.OP_TEXT, b"works")
            break
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# ------------------------------------------------------------------ origin

@pytest.fixture
def origin_server(start_server):
    return start_server([script("echo.sh")], flags=["--origin=http://good.example"])


def test_origin_not_listed_gets_403(origin_server):
    r = upgrade_status(origin_server.port, headers={"Origin": "http://evil.example"})
    assert r.status == 403, r


def test_missing_origin_gets_403_when_restricted(origin_server):
    r = upgrade_status(origin_server.port)
    assert r.status == 403, r


def test_listed_origin_accepted_on_any_port(origin_server):
    for origin in ("http://good.example", "http://good.example:8080"):
        with wsb.RawWS(origin_server.port, headers={"Origin": origin}) as c:
            c.send_text("hi")
            assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"hi")


def test_origin_host_comparison_is_exact(origin_server):
    r = upgrade_status(origin_server.port, headers={"Origin": "http://good.example.evil.example"})
    assert r.status == 403, r
    r = upgrade_status(origin_server.port, headers={"Origin": "https://good.example"})
    assert r.status == 403, r


def test_sameorigin(start_server):
    srv = start_server([script("echo.sh")], flags=["--sameorigin"])
    other = srv.port + 1 if srv.port < 65535 else srv.port - 1
    r = upgrade_status(srv.port, headers={"Origin": f"http://127.0.0.1:{other}"})
    assert r.status == 403, r
    r = upgrade_status(srv.port, headers={"Origin": "http://evil.example"})
    assert r.status == 403, r
    with wsb.RawWS(srv.port, headers={"Origin": f"http://127.0.0.1:{srv.port}"}) as c:
        c.send_text("same")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"same")


def test_any_origin_accepted_by_default(echo):
    with wsb.RawWS(echo.port, headers={"Origin": "http://anything.example"}) as c:
        c.send_text("ok")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"ok")


# ------------------------------------------------------------------ handshake errors

@pytest.mark.differs_from_websocketd("websocketd answers 400; RFC 6455 §4.4 wants 426 + "
                                     "Sec-WebSocket-Version")
def test_bad_version_gets_426_with_supported_version(echo):
    r = upgrade_status(echo.port, headers={"Sec-WebSocket-Version": "8"})
    assert r.status == 426, r
    assert r.header("sec-websocket-version") == "13", r


def test_missing_key_gets_400(echo):
    r = upgrade_status(echo.port, omit=("Sec-WebSocket-Key",))
    assert r.status == 400, r


@pytest.mark.differs_from_websocketd("the gorilla version in 0.4.1 accepts any non-empty key")
def test_short_key_gets_400(echo):
    r = upgrade_status(echo.port, key="c2hvcnRrZXk=")  # base64 of 8 bytes, not 16
    assert r.status == 400, r


def test_post_upgrade_gets_405(echo):
    r = upgrade_status(echo.port, method="POST")
    assert r.status == 405, r


def test_plain_get_gets_404(echo):
    r = wsb.http_exchange(echo.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert r.status == 404, r
    r = wsb.http_exchange(echo.port, b"GET /some/path?q=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     b"Connection: close\r\n\r\n")
    assert r.status == 404, r


@pytest.mark.differs_from_websocketd("Go's limit is 1 MiB of headers; wsbridge caps the "
                                     "request head and answers 431")
def test_oversized_header_block_gets_431(echo):
    filler = "".join(f"X-Filler-{i}: {'v' * 1000}\r\n" for i in range(64))  # ~64 KiB
    req = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{echo.port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {wsb.make_key()}\r\n"
           f"Sec-WebSocket-Version: 13\r\n{filler}\r\n").encode()
    r = wsb.http_exchange(echo.port, req)
    assert r.status == 431, r


@pytest.mark.differs_from_websocketd("websocketd 0.4.1 has no handshake timeout (slowloris)")
@pytest.mark.timeout(40)
def test_incomplete_request_is_closed_in_bounded_time(echo):
    with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        t0 = time.monotonic()
        s.settimeout(25)
        closed = False
        while time.monotonic() - t0 < 25:
            try:
                data = s.recv(4096)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not data:
                closed = True
                break
            # A 408 response is fine; keep reading until the close.
        elapsed = time.monotonic() - t0
        # The head timeout is 10 s; the client gives up after 25 s.
        assert closed, f"half-sent request still open after {elapsed:.1f}s"


# ------------------------------------------------------------------ message size

@pytest.mark.differs_from_websocketd("--maxmessage does not exist in websocketd 0.4.1 "
                                     "(unlimited messages)")
def test_message_over_maxmessage_gets_1009(start_server):
    srv = start_server([script("echo.sh")], flags=["--maxmessage=1000"])
    with wsb.RawWS(srv.port) as c:
        c.send_text(b"m" * 1000)  # at the limit: fine
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"m" * 1000)
        c.send_text(b"m" * 1001)
        code, _, data = c.expect_close(timeout=5)
        assert code == 1009, f"close code {code}"
        assert data == [], "the oversized message must not be delivered"


# The documented default, 16 MiB, and one byte more.
DEFAULT_MAXMESSAGE = 16 * 1024 * 1024


@pytest.mark.differs_from_websocketd("websocketd has no limit: the default closes with 1009")
@pytest.mark.timeout(90)
@pytest.mark.parametrize("flags,unlimited", [([], False), (["--maxmessage=0"], True)],
                         ids=["default-16MiB", "maxmessage-0-unlimited"])
def test_message_just_over_16_mib(start_server, flags, unlimited):
    # --maxmessage=0 lifts both limits: the message reaches cat whole and
    # its echo (one stdout line as long) comes back as one message. Sent as
    # 16 MiB and then one byte more, so that the default's refusal comes
    # after the client has sent what it is allowed to.
    srv = start_server(["cat"], flags=flags)
    message = b"u" * (DEFAULT_MAXMESSAGE + 1)
    with wsb.RawWS(srv.port, timeout=30) as c:
        if not unlimited:
            # A message of exactly the limit still passes, both ways, so a
            # smaller default fails here.
            c.send_text(message[:DEFAULT_MAXMESSAGE])
            assert c.recv_message(timeout=60) == (wsb.OP_TEXT, message[:DEFAULT_MAXMESSAGE])
        c.send_frame(wsb.OP_TEXT, message[:DEFAULT_MAXMESSAGE], fin=False)
        c.send_frame(wsb.OP_CONT, message[DEFAULT_MAXMESSAGE:], fin=True)
        if unlimited:
            assert c.recv_message(timeout=60) == (wsb.OP_TEXT, message)
            c.send_text("after")
            assert c.recv_message(timeout=10) == (wsb.OP_TEXT, b"after")
        else:
            code, _, data = c.expect_close(timeout=30)
            assert code == 1009 and data == [], (code, len(data))


@pytest.mark.differs_from_websocketd("--maxmessage does not exist in websocketd 0.4.1")
def test_fragmented_message_over_maxmessage_gets_1009(start_server):
    srv = start_server([script("echo.sh")], flags=["--maxmessage=1000"])
    with wsb.RawWS(srv.port) as c:
        c.send_frame(wsb.OP_TEXT, b"f" * 600, fin=False)
        c.send_frame(wsb.OP_CONT, b"f" * 600, fin=True)
        code, _, data = c.expect_close(timeout=5)
        assert code == 1009, f"close code {code}"
        assert data == []


@pytest.mark.differs_from_websocketd("--maxframesize exists only on websocketd main")
def test_maxframesize_alias(start_server):
    srv = start_server([script("echo.sh")], flags=["--maxframesize=1000"])
    with wsb.RawWS(srv.port) as c:
        c.send_text(b"m" * 2000)
        code, _, _ = c.expect_close(timeout=5)
        assert code == 1009, f"close code {code}"


@pytest.mark.differs_from_websocketd("Go has no header-count limit")
def test_too_many_headers_rejected(echo):
    filler = "".join(f"X-H{i}: v\r\n" for i in range(300))
    req = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{echo.port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {wsb.make_key()}\r\n"
           f"Sec-WebSocket-Version: 13\r\n{filler}\r\n").encode()
    r = wsb.http_exchange(echo.port, req)
    assert r.status in (431, 400), r


@pytest.mark.differs_from_websocketd("Go accepts URLs up to its 1 MiB header limit")
def test_huge_request_uri_rejected(echo):
    path = "/" + "u" * 40000
    r = wsb.http_exchange(echo.port, wsb.upgrade_request(echo.port, path=path))
    assert r.status in (414, 431), r


@pytest.mark.differs_from_websocketd("gorilla upgrades HTTP/1.0 requests; RFC 6455 §4.1 "
                                     "requires HTTP/1.1 or later")
def test_http10_upgrade_rejected(echo):
    req = wsb.upgrade_request(echo.port).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    r = wsb.http_exchange(echo.port, req)
    assert r.status != 101 and 400 <= r.status < 500, r


def test_missing_host_rejected(echo):
    r = wsb.http_exchange(echo.port, wsb.upgrade_request(echo.port, omit=("Host",)))
    assert r.status == 400, r
