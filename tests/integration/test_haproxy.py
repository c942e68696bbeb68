"""wsbridge behind Debian's HAProxy, configured by examples/haproxy/haproxy.cfg
(addresses and ports substituted), which sends the PROXY protocol v2: the
program must see the client's address and port, not HAProxy's.
"""
import socket
import struct
import time

import pytest

import proxies
import wsb


pytestmark = pytest.mark.skipif(
    proxies.find_program("haproxy") is None,
    reason="haproxy not installed (scripts/install-deps.sh --with-tests installs Debian's haproxy)")

IPV6 = proxies.ipv6_loopback_ok()


@pytest.fixture
def haproxy(tmp_path, request):
    """Factory: haproxy(backend_ports) -> running HAProxy on 127.0.0.1 (and ::1)."""
    yield from proxies.stopped_at_teardown(
        request, lambda backend_ports: proxies.start_haproxy(str(tmp_path), list(backend_ports), IPV6),
        lambda started: "".join("--- haproxy output ---\n" + proxy.output() + "\n" for proxy in started))


def env_of(seen) -> dict:
    return dict(p.decode().split("=", 1) for _, p in seen if b"=" in p)


PP2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


@pytest.mark.timeout(30)
def test_example_config_sends_proxy_v2_with_the_client_address(haproxy):
    """What wsbridge will parse: HAProxy, as configured by the example, opens
    each backend connection with a PROXY v2 header naming the client."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        proxy = haproxy([listener.getsockname()[1]])
        host = "::1" if IPV6 else "127.0.0.1"
        family = socket.AF_INET6 if IPV6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect((host, proxy.port))
            client_port = client.getsockname()[1]
            client.sendall(wsb.upgrade_request(proxy.port))
            # Health checks connect too (plain TCP, no data): skip those.
            data = b""
            deadline = time.monotonic() + 10
            while b"GET " not in data and time.monotonic() < deadline:
                listener.settimeout(max(0.1, deadline - time.monotonic()))
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(1)
                    data = b""
                    try:
                        while b"\r\n\r\n" not in data[28:]:
                            chunk = conn.recv(65536)
                            if not chunk:
                                break
                            data += chunk
                    except (socket.timeout, ConnectionResetError):
                        pass  # a health check: HAProxy resets it once connected
    assert data.startswith(PP2_SIGNATURE), f"no PROXY v2 header: {data[:64]!r}"
    ver_cmd, fam, length = struct.unpack("!BBH", data[12:16])
    assert ver_cmd == 0x21, "version 2, command PROXY"
    if IPV6:
        assert fam == 0x21, "TCP over IPv6"
        src, _dst, sport, _dport = struct.unpack("!16s16sHH", data[16:52])
        assert socket.inet_ntop(socket.AF_INET6, src) == "::1"
    else:
        assert fam == 0x11, "TCP over IPv4"
        src, _dst, sport, _dport = struct.unpack("!4s4sHH", data[16:28])
        assert socket.inet_ntop(socket.AF_INET, src) == "127.0.0.1"
    assert sport == client_port
    # Then the client's upgrade request, as HAProxy forwards it.
    request = data[16 + length:]
    assert request.startswith(b"GET / HTTP/1.1\r\n")
    assert b"\r\nupgrade: websocket\r\n" in request.lower()


@pytest.mark.timeout(30)
def test_program_sees_the_client_address_from_proxy_v2(start_server, haproxy):
    backend = start_server([wsb.script("env.sh")], flags=["--proxy-protocol"])
    proxy = haproxy([backend.port])
    # HAProxy reaches wsbridge over 127.0.0.1 from a port of its own. Over
    # IPv6 the client's address differs from HAProxy's; over IPv4 its port does.
    host = "::1" if IPV6 else "127.0.0.1"
    with wsb.RawWS(proxy.port, path="/?via=haproxy", host=host) as ws:
        client_port = ws.sock.getsockname()[1]
        code, _, seen = ws.expect_close(timeout=5)
    env = env_of(seen)
    assert code == 1000
    assert env["REMOTE_ADDR"] == host
    assert env["REMOTE_PORT"] == str(client_port)
    assert env["QUERY_STRING"] == "via=haproxy"
    assert backend.wait_log(f"remote:'{host}'")


@pytest.mark.timeout(30)
def test_echo_through_haproxy(start_server, haproxy):
    backend = start_server([wsb.script("echo.sh")], flags=["--proxy-protocol"])
    proxy = haproxy([backend.port])
    with wsb.RawWS(proxy.port) as ws:
        for text in ("hello through haproxy", "ünïcødé ✓", "y" * 200_000):
            ws.send_text(text)
            assert ws.recv_message(5) == (wsb.OP_TEXT, text.encode())
        ws.send_frame(wsb.OP_PING, b"ping")
        assert ws.recv_message(5, return_control=True) == (wsb.OP_PONG, b"ping")
        ws.send_close(1000)
        code, _, seen = ws.expect_close(timeout=5)
        assert code == 1000 and seen == []


@pytest.mark.timeout(30)
def test_two_instances_behind_haproxy_share_connections(start_server, haproxy):
    a = start_server([wsb.script("echo.sh")], flags=["--proxy-protocol"])
    b = start_server([wsb.script("echo.sh")], flags=["--proxy-protocol"])
    proxy = haproxy([a.port, b.port])
    clients = [wsb.RawWS(proxy.port) for _ in range(6)]
    try:
        for i, ws in enumerate(clients):
            ws.send_text(f"c{i}")
            assert ws.recv_message(5) == (wsb.OP_TEXT, f"c{i}".encode())
        # CONNECT lines come from the log's own thread, maybe after the echo.
        assert wsb.wait_until(lambda: a.log().count("| CONNECT") + b.log().count("| CONNECT") == 6, 10)
        on_a = a.log().count("| CONNECT")
        on_b = b.log().count("| CONNECT")
        assert on_a + on_b == 6 and on_a >= 2 and on_b >= 2, f"a={on_a} b={on_b}"
    finally:
        for ws in clients:
            ws.close()


@pytest.mark.timeout(20)
def test_direct_connection_without_proxy_header_is_refused(start_server):
    """With --proxy-protocol, a client that bypasses HAProxy cannot claim any
    address: without the header there is no upgrade at all."""
    backend = start_server([wsb.script("echo.sh")], flags=["--proxy-protocol"])
    with pytest.raises((ConnectionError, TimeoutError, OSError)):
        with wsb.RawWS(backend.port, timeout=3):
            pass
