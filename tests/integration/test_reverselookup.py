"""--reverselookup with a resolver that never answers.

The lookups used to run on libuv's four pool threads, which also start every
child: four lookups waiting on DNS held up every new connection, and lookups
went through four at a time. Each lookup now has a thread of its own
(src/net/host_name_lookups.h), as each has a goroutine in websocketd.

The server runs in a mount namespace of its own whose /etc/resolv.conf names
a DNS server on 127.0.0.3 that this test runs and that never answers; the
slow clients connect from 127.0.2.x addresses, which only DNS could name.
"""
import collections
import os
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

import wsb
from wsb import script

DNS_ADDRESS = "127.0.0.3"
SLOW_CLIENTS = [f"127.0.2.{i}" for i in range(1, 9)]  # twice libuv's pool
RESOLVER_TIMEOUT = 5  # seconds glibc waits for the silent server
LONG_RESOLVER_TIMEOUT = 10  # where the test shows that nobody waits for it


class SilentDns:
    """A DNS server on DNS_ADDRESS:53 that records each query's name and
    never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((DNS_ADDRESS, 53))
        self.sock.settimeout(0.1)
        self.names = collections.Counter()  # queries per name
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                packet, _ = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            labels, i = [], 12  # the question's name follows the 12-byte header
            while i < len(packet) and packet[i] != 0:
                labels.append(packet[i + 1:i + 1 + packet[i]].decode("ascii", "replace"))
                i += 1 + packet[i]
            with self.lock:
                self.names[".".join(labels).lower()] += 1

    def queries(self, address):
        ptr = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
        with self.lock:
            return self.names[ptr]

    def queried(self, address):
        return self.queries(address) > 0

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def silent_dns():
    if os.geteuid() != 0:
        pytest.skip("needs root: a mount namespace, and a DNS server on port 53")
    probe = subprocess.run(["/usr/bin/unshare", "--mount", "/bin/true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        pytest.skip("cannot make a mount namespace: " + probe.stderr.decode(errors="replace").strip())
    try:
        socket.gethostbyaddr("127.0.0.1")
    except OSError:
        pytest.skip("127.0.0.1 has no name in /etc/hosts here")
    with open("/etc/hosts") as f:
        if any(address in f.read().split() for address in SLOW_CLIENTS):
            pytest.skip("/etc/hosts names one of the slow clients' addresses")
    try:
        dns = SilentDns()
    except OSError as e:
        pytest.skip(f"cannot listen on {DNS_ADDRESS}:53: {e}")
    yield dns
    dns.close()


def upgrade_from(source, port, headers=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(wsb.upgrade_request(port, headers=headers))
    return s


def answered(sock):
    """True once the server has sent anything on sock."""
    return bool(select.select([sock], [], [], 0)[0])


def remote_host(sock):
    """REMOTE_HOST from env.sh's output (sorted, a short text frame a line),
    after the 101."""
    head, rest = wsb.read_http_head(sock, timeout=30)
    assert b" 101 " in head.split(b"\r\n")[0], head
    data = rest
    while b"REMOTE_IDENT=" not in data:  # the variable after it
        chunk = sock.recv(65536)
        assert chunk, f"closed before REMOTE_HOST: {data!r}"
        data += chunk
    value = data[data.index(b"REMOTE_HOST=") + len(b"REMOTE_HOST="):]
    return value[:value.index(b"\x81")].decode()  # up to the next frame's header


class ResolverServer:
    """The server under test with --reverselookup, in a mount namespace whose
    /etc/resolv.conf names the silent DNS server (glibc gives up on it after
    `resolver_timeout` seconds). unshare execs the shell, which execs the
    server: one process, the test's own, ended and reaped by stop()."""

    def __init__(self, bin_path, tmp_path, resolver_timeout, command=None):
        resolv = tmp_path / "resolv.conf"
        resolv.write_text(f"nameserver {DNS_ADDRESS}\noptions timeout:{resolver_timeout} attempts:1\n")
        self.port = wsb.free_port()
        self.log_path = tmp_path / "server.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                 'mount --bind "$0" /etc/resolv.conf && exec "$@"', str(resolv),
                 bin_path, f"--port={self.port}", "--address=127.0.0.1", "--reverselookup",
                 *(command or [script("env.sh")])],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while not wsb.tcp_connect_ok(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"server not accepting:\n{self.log()}")
            time.sleep(0.02)

    def log(self):
        return self.log_path.read_text()

    def stop(self):
        """SIGTERM; its exit status, or None if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode


@pytest.fixture
def resolver_server(bin_path, tmp_path):
    """Factory: resolver_server(resolver_timeout, command=None) -> a running
    ResolverServer. At teardown each must exit 0 on SIGTERM, as the
    start_server fixture's servers must."""
    started = []

    def start(resolver_timeout, command=None):
        server = ResolverServer(bin_path, tmp_path, resolver_timeout, command)
        started.append(server)
        return server

    yield start
    bad = [f"exit status {status}:\n{server.log()}"
           for server, status in ((server, server.stop()) for server in started) if status != 0]
    assert not bad, "server did not exit cleanly: " + "\n".join(bad)


def wait_queried(dns, addresses, timeout):
    deadline = time.monotonic() + timeout
    while not all(dns.queried(a) for a in addresses) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [a for a in addresses if dns.queried(a)]


@pytest.mark.timeout(90)
def test_lookups_waiting_on_dns_hold_up_nobody_else(silent_dns, resolver_server):
    server = resolver_server(RESOLVER_TIMEOUT)
    slow, fast = [], None
    try:
        slow = [upgrade_from(address, server.port) for address in SLOW_CLIENTS]
        # Every slow client's name is asked for at once, not four at a time:
        # all eight queries reach the DNS server before any lookup gives up.
        asked = wait_queried(silent_dns, SLOW_CLIENTS, 3 * RESOLVER_TIMEOUT)
        early = [a for a, s in zip(SLOW_CLIENTS, slow) if answered(s)]
        assert asked == SLOW_CLIENTS, f"only {asked} were looked up"
        assert not early, f"{early} were answered before every lookup had begun: lookups queued"

        # A client whose name is in /etc/hosts is served while those wait.
        fast = upgrade_from("127.0.0.1", server.port)
        assert remote_host(fast) == socket.gethostbyaddr("127.0.0.1")[0]
        early = [a for a, s in zip(SLOW_CLIENTS, slow) if answered(s)]
        assert not early, f"{early} were answered before the client from /etc/hosts: it waited behind DNS"

        # The slow ones get their sessions once the resolver gives up, with
        # REMOTE_HOST the address, as websocketd does.
        for address, s in zip(SLOW_CLIENTS, slow):
            assert remote_host(s) == address
    finally:
        for s in slow + ([fast] if fast else []):
            s.close()



@pytest.mark.timeout(90)
def test_clients_from_one_address_share_one_lookup(silent_dns, resolver_server):
    """More clients from one address than there are lookup threads: they
    share one resolver call, so they neither fill the threads nor hold up a
    client from elsewhere, and each still gets its answer."""
    crowd, alone = SLOW_CLIENTS[0], SLOW_CLIENTS[1]
    server = resolver_server(RESOLVER_TIMEOUT, command=["/bin/cat"])
    clients, fast = [], None
    try:
        # The one client from `alone` shows how many queries one lookup makes.
        clients.append(upgrade_from(alone, server.port))
        clients += [upgrade_from(crowd, server.port) for _ in range(70)]
        assert wait_queried(silent_dns, [crowd, alone], RESOLVER_TIMEOUT) == [crowd, alone]
        fast = upgrade_from("127.0.0.1", server.port)
        head, _ = wsb.read_http_head(fast, timeout=30)
        assert b" 101 " in head.split(b"\r\n")[0], head
        early = [i for i, s in enumerate(clients) if answered(s)]
        assert not early, f"clients {early} were answered before the one from /etc/hosts: it waited"
        for s in clients:
            head, _ = wsb.read_http_head(s, timeout=30)
            assert b" 101 " in head.split(b"\r\n")[0], head
        assert silent_dns.queries(crowd) == silent_dns.queries(alone), \
            f"{silent_dns.queries(crowd)} queries for 70 clients from one address, " \
            f"{silent_dns.queries(alone)} for one client"
    finally:
        for s in clients + ([fast] if fast else []):
            s.close()

@pytest.mark.differs_from_websocketd("websocketd dies of SIGTERM")
@pytest.mark.timeout(60)
def test_sigterm_does_not_wait_for_a_lookup(silent_dns, resolver_server):
    """A lookup nobody wants any more is dropped, not waited for: SIGTERM
    while one waits on DNS stops the server at once (it used to wait for the
    resolver to give up)."""
    server = resolver_server(LONG_RESOLVER_TIMEOUT)
    pending = None
    try:
        pending = upgrade_from(SLOW_CLIENTS[0], server.port)
        assert wait_queried(silent_dns, SLOW_CLIENTS[:1], RESOLVER_TIMEOUT), "the lookup did not begin"
        t0 = time.monotonic()
        assert server.stop() == 0, server.log()
        stopped = time.monotonic() - t0
        assert stopped < LONG_RESOLVER_TIMEOUT / 2, f"the server waited {stopped:.1f} s for a lookup nobody wanted"
        assert pending.recv(100) == b"", "the waiting client was not let go"
        assert "| CONNECT" not in server.log(), "a child was started for the dropped lookup"
    finally:
        if pending:
            pending.close()


@pytest.mark.differs_from_websocketd("websocketd notices a client that left only once its lookup is over")
@pytest.mark.timeout(60)
def test_the_socket_is_read_during_a_lookup(silent_dns, resolver_server):
    """A client that leaves while its name is looked up is seen at once: no
    child is started for it. One that sends a message meanwhile has it
    delivered once its session starts."""
    server = resolver_server(RESOLVER_TIMEOUT, command=["/bin/cat"])
    leaving = staying = None
    try:
        leaving = upgrade_from(SLOW_CLIENTS[0], server.port)
        staying = upgrade_from(SLOW_CLIENTS[1], server.port)
        assert wait_queried(silent_dns, SLOW_CLIENTS[:2], RESOLVER_TIMEOUT) == SLOW_CLIENTS[:2], \
            "the lookups did not begin"
        leaving.close()
        staying.sendall(wsb.encode_frame(wsb.OP_TEXT, b"sent during the lookup", mask_key=b"\x01\x02\x03\x04"))
        head, rest = wsb.read_http_head(staying, timeout=30)
        assert b" 101 " in head.split(b"\r\n")[0], head
        data = rest
        while b"sent during the lookup" not in data:
            chunk = staying.recv(4096)
            assert chunk, f"closed before the echo: {data!r}"
            data += chunk
        # The leaving client's lookup began first, so it has ended by now;
        # its (dropped) answer may still be on its way to the loop, so no
        # child may show up for it over a while.
        def connects():
            return [line for line in server.log().splitlines() if line.endswith("| CONNECT")]

        # The log has a writer thread of its own: the line may trail the echo.
        assert wsb.wait_until(lambda: any(f"remote:'{SLOW_CLIENTS[1]}'" in line for line in connects()), 10), \
            connects()
        assert wsb.holds_for(lambda: not any(f"remote:'{SLOW_CLIENTS[0]}'" in line for line in connects()),
                             2.0), f"a child was started for a client that had left: {connects()}"
    finally:
        for s in (leaving, staying):
            if s:
                s.close()

@pytest.mark.differs_from_websocketd("websocketd has no --trusted-proxy")
@pytest.mark.timeout(60)
def test_the_name_looked_up_is_remote_addrs_not_the_proxys(start_server):
    """Behind a trusted proxy REMOTE_ADDR is the client the proxy names, and
    REMOTE_HOST must be that client's name, not the proxy's. The proxy here
    connects from 127.0.2.1, which has no name, and names 127.0.0.1 (in
    /etc/hosts) as the client."""
    try:
        expected = socket.gethostbyaddr("127.0.0.1")[0]
    except OSError:
        pytest.skip("127.0.0.1 has no name in /etc/hosts here")
    srv = start_server([script("env.sh")], flags=["--reverselookup", "--trusted-proxy=127.0.2.1"])
    with upgrade_from("127.0.2.1", srv.port, headers={"X-Forwarded-For": "127.0.0.1"}) as s:
        assert remote_host(s) == expected


@pytest.mark.differs_from_websocketd("websocketd has no --proxy-protocol")
@pytest.mark.timeout(60)
def test_an_ipv4_client_in_a_proxy_tcp6_header_is_looked_up_as_ipv4(start_server):
    """::ffff:127.0.0.1 is 127.0.0.1: only as IPv4 does it match /etc/hosts."""
    try:
        expected = socket.gethostbyaddr("127.0.0.1")[0]
    except OSError:
        pytest.skip("127.0.0.1 has no name in /etc/hosts here")
    srv = start_server([script("env.sh")], flags=["--reverselookup", "--proxy-protocol"])
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
        s.sendall(f"PROXY TCP6 ::ffff:127.0.0.1 ::1 40000 {srv.port}\r\n".encode() + wsb.upgrade_request(srv.port))
        assert remote_host(s) == expected
