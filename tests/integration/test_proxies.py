"""Behind proxies: --proxy-protocol (HAProxy's PROXY v1/v2 header) and
--trusted-proxy (X-Forwarded-For / X-Real-IP) decide REMOTE_ADDR."""
import socket
import struct

import wsb
from wsb import script


def env_via_raw(port, prefix=b"", headers=None):
    """Sends `prefix` then an upgrade; returns the env.sh output as a dict
    (None when the server answered no 101)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(prefix + wsb.upgrade_request(port, headers=headers))
        try:
            head, rest = wsb.read_http_head(s, timeout=5)
        except (ConnectionError, TimeoutError):
            return None
        if b" 101 " not in head.split(b"\r\n")[0]:
            return None
        data = rest
        s.settimeout(5)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\x88" in data:  # a close frame has started: output is complete
                break
    env = {}
    # Parse unmasked server text frames.
    i = 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n = struct.unpack("!H", data[i:i + 2])[0]
            i += 2
        elif n == 127:
            n = struct.unpack("!Q", data[i:i + 8])[0]
            i += 8
        payload = data[i:i + n]
        i += n
        if op == 8:
            break
        k, _, v = payload.decode().partition("=")
        env[k] = v
    return env


def v2_header(src, dst, sport, dport):
    addresses = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(addresses)) + addresses)


def test_proxy_protocol_v1_sets_remote_addr_and_port(start_server):
    srv = start_server([script("env.sh")], flags=["--proxy-protocol"])
    env = env_via_raw(srv.port, f"PROXY TCP4 203.0.113.9 127.0.0.1 40000 {srv.port}\r\n".encode())
    assert env is not None
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["REMOTE_PORT"] == "40000"


def test_proxy_protocol_v2_sets_remote_addr_and_port(start_server):
    srv = start_server([script("env.sh")], flags=["--proxy-protocol"])
    env = env_via_raw(srv.port, v2_header("198.51.100.4", "127.0.0.1", 51000, srv.port))
    assert env is not None
    assert env["REMOTE_ADDR"] == "198.51.100.4"
    assert env["REMOTE_PORT"] == "51000"


def test_connection_without_proxy_header_is_refused(start_server):
    srv = start_server(["cat"], flags=["--proxy-protocol"])
    assert env_via_raw(srv.port) is None
    assert srv.wait_log("PROXY protocol error")


def test_proxy_header_is_ignored_as_http_without_the_flag(start_server):
    srv = start_server(["cat"])
    resp = wsb.http_exchange(srv.port, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.status >= 400


def test_trusted_proxy_headers_set_remote_addr(start_server):
    srv = start_server([script("env.sh")], flags=["--trusted-proxy=127.0.0.1"])
    env = env_via_raw(srv.port, headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.7"})
    assert env["REMOTE_ADDR"] == "203.0.113.7"
    assert env["REMOTE_HOST"] == "203.0.113.7"
    assert env["REMOTE_PORT"] == ""
    env = env_via_raw(srv.port, headers={"X-Real-IP": "203.0.113.8"})
    assert env["REMOTE_ADDR"] == "203.0.113.8"


def test_forwarded_headers_from_untrusted_peers_are_ignored(start_server):
    srv = start_server([script("env.sh")], flags=["--trusted-proxy=10.0.0.0/8"])
    env = env_via_raw(srv.port, headers={"X-Forwarded-For": "203.0.113.7"})
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7"


def test_bad_trusted_proxy_exits_2(bin_path):
    # A value of the wrong form is a command-line error, like any other.
    r = wsb.run_cli(bin_path, ["--trusted-proxy=10.0.0.0/99", "cat"])
    assert r.returncode == 2
    assert b"trusted-proxy" in r.stderr
