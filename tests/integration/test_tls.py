"""TLS: --ssl/--sslcert/--sslkey/--sslca, certificate chains, ALPN, SIGHUP
reload without dropping connections, and --redirport. Real clients: python's
ssl module (through websockets) and `openssl s_client`."""
import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest
import websockets

import key_update_client
import procstat
import wsb

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")


def openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Pki:
    """A root CA, an intermediate CA, server leaf certificates signed by the
    intermediate (so the server must send a chain), and a client certificate."""

    def __init__(self, d):
        self.d = d
        ext = os.path.join(d, "ca.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "root.key", "-out", "root.pem", "-subj", "/CN=wsbridge test root",
                "-days", "2", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "inter.key", "-out", "inter.csr", "-subj", "/CN=wsbridge test intermediate", cwd=d)
        openssl("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key",
                "-CAcreateserial", "-out", "inter.pem", "-days", "2", "-extfile", ext, cwd=d)
        self.root = os.path.join(d, "root.pem")

    def leaf(self, name):
        """Server certificate for 127.0.0.1/localhost; returns (chain path, key path, serial)."""
        ext = os.path.join(self.d, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=self.d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "inter.pem", "-CAkey", "inter.key",
                "-CAcreateserial", "-out", f"{name}.leaf.pem", "-days", "2", "-extfile", ext, cwd=self.d)
        chain = os.path.join(self.d, f"{name}.chain.pem")
        with open(chain, "w") as out:
            for part in (f"{name}.leaf.pem", "inter.pem"):
                with open(os.path.join(self.d, part)) as f:
                    out.write(f.read())
        return chain, os.path.join(self.d, f"{name}.key")

    def client(self, name):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=self.d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "root.pem", "-CAkey", "root.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", cwd=self.d)
        return os.path.join(self.d, f"{name}.pem"), os.path.join(self.d, f"{name}.key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


def client_context(pki, **versions):
    ctx = ssl.create_default_context(cafile=pki.root)
    for k, v in versions.items():
        setattr(ctx, k, v)
    return ctx


def tls_server(start_server, pki, command=("cat",), extra=()):
    chain, key = pki.leaf("server")
    # Copies the test may overwrite to exercise SIGHUP reload.
    d = os.path.dirname(chain)
    live_chain, live_key = os.path.join(d, f"live-{time.monotonic_ns()}.pem"), os.path.join(d, f"live-{time.monotonic_ns()}.key")
    shutil.copy(chain, live_chain)
    shutil.copy(key, live_key)
    srv = start_server(list(command), ["--ssl", f"--sslcert={live_chain}", f"--sslkey={live_key}", *extra])
    return srv, live_chain, live_key


def wss(srv, path="/"):
    return f"wss://127.0.0.1:{srv.port}{path}"


async def echo_once(uri, ctx, text):
    async with websockets.connect(uri, ssl=ctx, compression=None) as ws:
        await ws.send(text)
        return await asyncio.wait_for(ws.recv(), 5)


def peer_cert_der(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return s.getpeercert(binary_form=True)


def test_wss_echo_through_a_certificate_chain(start_server, pki):
    srv, _, _ = tls_server(start_server, pki)
    assert asyncio.run(echo_once(wss(srv), client_context(pki), "over tls")) == "over tls"
    # The banner is written once the workers run, so a client can be served
    # before it is on the log: wait for it.
    assert srv.wait_log("Starting WebSocket server   : wss://"), srv.log()


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_12_and_13_are_both_served(start_server, pki, version):
    srv, _, _ = tls_server(start_server, pki)
    v = getattr(ssl.TLSVersion, version)
    ctx = client_context(pki, minimum_version=v, maximum_version=v)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert s.version() == version.replace("_", ".").replace("TLSv1.", "TLSv1.")


def test_large_messages_both_ways_over_tls(start_server, pki):
    srv, _, _ = tls_server(start_server, pki, command=("cat",), extra=("--binary",))

    async def run():
        async with websockets.connect(wss(srv), ssl=client_context(pki), max_size=None,
                                      compression=None) as ws:
            payload = os.urandom(1 << 20)
            await ws.send(payload)
            got = b""
            while len(got) < len(payload):
                got += await asyncio.wait_for(ws.recv(), 10)
            return got == payload

    assert asyncio.run(run())


def test_child_sees_https_on(start_server, pki):
    srv, _, _ = tls_server(start_server, pki, command=(wsb.script("env.sh"),))

    async def run():
        async with websockets.connect(wss(srv, "/p?q=1"), ssl=client_context(pki)) as ws:
            lines = []
            try:
                while True:
                    lines.append(await asyncio.wait_for(ws.recv(), 5))
            except websockets.ConnectionClosed:
                return lines

    env = dict(line.split("=", 1) for line in asyncio.run(run()) if "=" in line)
    assert env.get("HTTPS") == "on"
    assert env.get("SERVER_PORT") == str(srv.port)


def test_alpn_selects_http11(start_server, pki):
    srv, _, _ = tls_server(start_server, pki)
    out = subprocess.run([OPENSSL, "s_client", "-connect", f"127.0.0.1:{srv.port}", "-alpn", "h2,http/1.1",
                          "-CAfile", pki.root], input=b"", capture_output=True, timeout=10)
    text = (out.stdout + out.stderr).decode()
    assert "ALPN protocol: http/1.1" in text, text
    assert "Verify return code: 0 (ok)" in text, text


def test_plain_http_to_the_tls_port_is_refused_and_serving_goes_on(start_server, pki):
    srv, _, _ = tls_server(start_server, pki)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(wsb.upgrade_request(srv.port))
        s.settimeout(5)
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
    assert b"101" not in data
    assert srv.wait_log("TLS error")
    assert asyncio.run(echo_once(wss(srv), client_context(pki), "still here")) == "still here"


@pytest.mark.timeout(60)
def test_sighup_reloads_the_certificate_without_dropping_connections(start_server, pki):
    srv, live_chain, live_key = tls_server(start_server, pki)
    before = peer_cert_der(srv.port, pki.root)

    async def run():
        ctx = client_context(pki)
        async with websockets.connect(wss(srv), ssl=ctx) as held:
            await held.send("before reload")
            assert await asyncio.wait_for(held.recv(), 5) == "before reload"
            new_chain, new_key = pki.leaf("renewed")
            shutil.copy(new_chain, live_chain)
            shutil.copy(new_key, live_key)
            os.kill(srv.pid, signal.SIGHUP)
            assert srv.wait_log("reloaded TLS certificate", timeout=5)
            after = await asyncio.get_running_loop().run_in_executor(None, peer_cert_der, srv.port, pki.root)
            # The held connection still works after the reload.
            await held.send("after reload")
            assert await asyncio.wait_for(held.recv(), 5) == "after reload"
            return after

    after = asyncio.run(run())
    assert after != before

    # A broken file on reload keeps the current certificate serving.
    with open(live_key, "w") as f:
        f.write("not a key\n")
    os.kill(srv.pid, signal.SIGHUP)
    assert srv.wait_log("keeping the previous certificate", timeout=5)
    assert peer_cert_der(srv.port, pki.root) == after
    assert srv.proc.poll() is None


def test_redirport_sends_plain_http_to_the_https_url(start_server, pki):
    redirect_port = wsb.free_port()
    srv, _, _ = tls_server(start_server, pki, extra=(f"--redirport={redirect_port}",))
    deadline = time.monotonic() + 5
    while not wsb.tcp_connect_ok(redirect_port) and time.monotonic() < deadline:
        time.sleep(0.02)
    resp = wsb.http_exchange(redirect_port, f"GET /a/b?c=d HTTP/1.1\r\nHost: localhost:{redirect_port}\r\n\r\n".encode())
    assert resp.status == 301
    assert resp.header("Location") == f"https://localhost:{srv.port}/a/b?c=d"
    # A Host without a port crashed websocketd's redirect handler.
    resp = wsb.http_exchange(redirect_port, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert resp.status == 301
    assert resp.header("Location") == f"https://localhost:{srv.port}/"


def test_sslca_requires_a_client_certificate(start_server, pki):
    cert, key = pki.client("alice")
    srv, _, _ = tls_server(start_server, pki, extra=(f"--sslca={pki.root}",))
    anonymous = client_context(pki)
    with pytest.raises((ssl.SSLError, websockets.InvalidHandshake, ConnectionError, OSError)):
        asyncio.run(echo_once(wss(srv), anonymous, "no cert"))
    with_cert = client_context(pki)
    with_cert.load_cert_chain(cert, key)
    assert asyncio.run(echo_once(wss(srv), with_cert, "with cert")) == "with cert"


def test_ssl_flag_errors_exit_1(bin_path, pki):
    chain, key = pki.leaf("cli")
    r = wsb.run_cli(bin_path, ["--ssl", "--port=1", "cat"])
    assert r.returncode == 1
    r = wsb.run_cli(bin_path, [f"--sslcert={chain}", f"--sslkey={key}", "--port=1", "cat"])
    assert r.returncode == 1


def test_unreadable_certificate_fails_at_start_with_a_clear_message(bin_path, pki, tmp_path):
    r = wsb.run_cli(bin_path, ["--address=127.0.0.1", f"--port={wsb.free_port()}", "--ssl",
                               f"--sslcert={tmp_path}/missing.pem", f"--sslkey={tmp_path}/missing.key", "cat"])
    assert r.returncode == 3
    assert b"missing.pem" in (r.stdout + r.stderr)


@pytest.mark.timeout(120)
def test_key_update_flood_from_a_client_that_never_reads_is_bounded(start_server, pki, bin_path):
    # Every KeyUpdate(update_requested) makes the server owe a KeyUpdate
    # record of its own. A client that never reads would have them queued
    # without end; the server must stop reading it instead, as for pongs,
    # once its output is over the high-water mark. The client then finds
    # its sends blocked (2 s without progress) long before its last one.
    srv, _, _ = tls_server(start_server, pki)
    count = 300_000
    before = procstat.rss_kib(srv.pid)
    sent = key_update_client.flood_key_updates(srv.port, wsb.upgrade_request(srv.port), count, blocked_after=2.0)
    grown_mib = (procstat.rss_kib(srv.pid) - before) / 1024
    assert sent < count, f"all {count} KeyUpdates were read; the server grew by {grown_mib:.1f} MiB"
    if not procstat.is_sanitized_build(bin_path):  # there RSS is mostly the sanitizer's own memory
        assert grown_mib < 4, f"{sent} KeyUpdates grew the server by {grown_mib:.1f} MiB"
    # The server still serves others.
    assert asyncio.run(echo_once(wss(srv), client_context(pki), "still here")) == "still here"


def test_a_rooms_members_over_tls_each_get_the_shared_frames_encrypted_for_them(start_server, pki):
    # Room frames are shared by the members' queues, but ciphertext cannot
    # be: each TLS member's stream encrypts them for itself.
    srv, _, _ = tls_server(start_server, pki, command=("cat",), extra=("--broadcast", "--workers=1"))
    lines = [f"{n} " + "x" * 100000 for n in range(5)]

    async def run():
        ctx = client_context(pki)
        clients = [await websockets.connect(wss(srv, "/room"), ssl=ctx, max_size=None, compression=None)
                   for _ in range(3)]
        for line in lines:
            await clients[0].send(line)
        got = [[await asyncio.wait_for(ws.recv(), 10) for _ in lines] for ws in clients]
        for ws in clients:
            await ws.close()
        return got

    got = asyncio.run(asyncio.wait_for(run(), 30))
    assert got == [lines, lines, lines]
