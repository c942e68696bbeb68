"""Bounded memory: the server must push back on the fast side instead of buffering.

Both directions: a child flooding a slow client, and a client flooding a child
that never reads. The server's RSS (/proc/<pid>/status VmRSS) must stay flat.
"""
import socket
import struct
import time

import pytest

import procstat
import wsb
from wsb import script

RSS_BOUND_KIB = 30 * 1024  # growth over the baseline


def watched_server_and_client(start_server, command, flags=(), rcvbuf=16384):
    """(server, its RssWatch, a client) for a memory-bound test: the RSS
    baseline is taken once start-up has settled, before the client connects;
    a small receive buffer (rcvbuf) makes backpressure reach the server soon."""
    srv = start_server(command, flags=list(flags))
    time.sleep(0.2)  # start-up's own allocations stay out of the baseline
    rss = procstat.RssWatch(srv.pid)
    return srv, rss, wsb.RawWS(srv.port, rcvbuf=rcvbuf)


class FrameCounter:
    """Incremental server-frame parser that only counts payload bytes."""

    def __init__(self):
        self.buf = bytearray()
        self.payload_bytes = 0
        self.a_bytes = 0
        self.messages = 0
        self.closed_code = None

    def feed(self, data: bytes):
        self.buf += data
        for fin, op, payload in wsb.take_server_frames(self.buf):
            if op == wsb.OP_CLOSE:
                self.closed_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            elif op in (wsb.OP_TEXT, wsb.OP_BIN, wsb.OP_CONT):
                self.payload_bytes += len(payload)
                self.a_bytes += payload.count(b"a")
                if fin:
                    self.messages += 1


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", ["text", "binary"])
def test_slow_client_does_not_make_server_buffer(start_server, mode):
    total = 10 * 1048576
    srv, rss, c = watched_server_and_client(start_server, [script("flood.sh"), "10"],
                                            flags=["--binary"] if mode == "binary" else [])
    counter = FrameCounter()
    counter.feed(c.buf)
    c.buf = b""
    try:
        # Read nothing for 3 s while the child tries to write 10 MiB.
        rss.sample_for(3)
        # Then read slowly at first, then at full speed, sampling RSS. A
        # stall of 5 s fails at once; the test's timeout bounds the rest.
        c.sock.settimeout(5)
        reads = 0
        while counter.a_bytes < total and counter.closed_code is None:
            try:
                data = c.sock.recv(8192 if reads < 200 else 262144)
            except socket.timeout:
                pytest.fail(f"stalled after {counter.a_bytes} of {total} bytes")
            if not data:
                break
            counter.feed(data)
            reads += 1
            if reads < 200:
                time.sleep(0.005)
            if reads % 20 == 0:
                rss.sample()
    finally:
        c.close()
    growth = rss.peak_growth
    assert counter.a_bytes == total, f"received {counter.a_bytes} of {total} bytes"
    assert growth < RSS_BOUND_KIB, (f"server RSS grew {growth} KiB (baseline {rss.baseline} KiB) "
                                    f"while the client read slowly")


@pytest.mark.timeout(90)
def test_child_not_reading_stdin_stops_server_reading_socket(start_server, stray):
    limit = 50 * 1048576
    srv, rss, c = watched_server_and_client(start_server, [script("noread.sh")], rcvbuf=None)
    (pid,) = [int(x) for x in c.recv_message(timeout=5)[1].split()]
    stray.add(pid)
    chunk = 65536 - 1
    frame = wsb.encode_frame(wsb.OP_TEXT, b"b" * chunk, mask_key=b"\x11\x22\x33\x44")
    try:
        sent, blocked = wsb.send_until_blocked(c.sock, frame, limit, timeout=2.0, seconds=40,
                                               counted=chunk, sample=rss.sample, sample_every=8)
        # Let the server settle, then sample again.
        rss.sample_times(20)
        growth = rss.peak_growth
        assert growth < RSS_BOUND_KIB, (f"server RSS grew {growth} KiB after the client sent "
                                        f"{sent} bytes to a child that never reads")
        assert blocked, (f"the client sent all {sent} bytes without blocking: the server "
                         f"kept reading although the child reads nothing")
        # The server as a whole stays responsive.
        with wsb.RawWS(srv.port) as other:
            (other_pid,) = [int(x) for x in other.recv_message(timeout=5)[1].split()]
            stray.add(other_pid)
    finally:
        c.close()


def _drain_ticks(sock, counter_box, seconds):
    """Read whatever arrives for `seconds`; returns the highest tick number seen."""
    end = time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < end:
        try:
            data = sock.recv(262144)
        except socket.timeout:
            continue
        if not data:
            break
        counter_box["buf"] += data
    best = counter_box["max"]
    for line in bytes(counter_box["buf"]).split(b"tick ")[1:]:
        digits = b""
        for ch in line:
            if 48 <= ch <= 57:
                digits += bytes([ch])
            else:
                break
        if digits:
            best = max(best, int(digits))
    counter_box["buf"] = counter_box["buf"][-64:]
    counter_box["max"] = best
    return best


@pytest.mark.differs_from_websocketd("one goroutine relays both directions: while blocked "
                                     "writing the child's full stdin it forwards no output")
@pytest.mark.timeout(60)
def test_output_keeps_flowing_while_child_stdin_is_full(start_server, stray):
    srv = start_server([script("ticker.sh")])
    c = wsb.RawWS(srv.port)
    try:
        (pid,) = [int(x) for x in c.recv_message(timeout=5)[1].split()]
        stray.add(pid)
        frame = wsb.encode_frame(wsb.OP_TEXT, b"s" * 32767, mask_key=b"\x01\x02\x03\x04")
        # The child never reads: its stdin pipe fills, then the server's
        # buffers, then the socket; stop once sending blocks (bounded at 8 MiB).
        sent, _ = wsb.send_until_blocked(c.sock, frame, 8 * 1048576, timeout=1.0)
        box = {"buf": bytearray(c.buf), "max": -1}
        c.buf = b""
        first = _drain_ticks(c.sock, box, 0.5)
        # Ten more ticks within 10 s: a slow fork of the ticker's `sleep`
        # only delays them, output that has really stalled never comes.
        later, end = first, time.monotonic() + 10
        while later - first < 10 and time.monotonic() < end:
            later = _drain_ticks(c.sock, box, 0.5)
        assert later - first >= 10, (f"output stalled while stdin was full: tick {first} "
                                     f"then {later} 10 s later (sent {sent} bytes)")
    finally:
        c.close()


@pytest.mark.timeout(60)
def test_ping_flood_without_reading_pongs_stays_bounded(start_server):
    srv, rss, c = watched_server_and_client(start_server, [script("echo.sh")])
    ping = wsb.encode_frame(wsb.OP_PING, b"p" * 125, mask_key=b"\x05\x06\x07\x08")
    batch = ping * 256  # 33 KiB of pings → 32 KiB of pongs
    try:
        # Up to 40 MiB of pongs owed to a client that reads none of them;
        # dropping such a client is acceptable too.
        sent, _ = wsb.send_until_blocked(c.sock, batch, 40 * 1048576, timeout=2.0, seconds=20,
                                         counted=256 * 127, dropped_ok=True,
                                         sample=rss.sample, sample_every=16)
        rss.sample_times(10)
    finally:
        c.close()
    growth = rss.peak_growth
    assert growth < RSS_BOUND_KIB, (f"server RSS grew {growth} KiB while owing pongs to a client "
                                    f"that does not read ({sent} bytes of pongs owed)")


@pytest.mark.timeout(60)
def test_echo_to_client_that_never_reads_stays_bounded(start_server):
    # client → server → cat → server → client: with the client reading nothing,
    # every buffer on the way must fill and the server must stop reading.
    srv, rss, c = watched_server_and_client(start_server, [script("echo.sh")])
    frame = wsb.encode_frame(wsb.OP_TEXT, b"e" * 16383, mask_key=b"\x09\x0a\x0b\x0c")
    try:
        sent, blocked = wsb.send_until_blocked(c.sock, frame, 50 * 1048576, timeout=2.0, seconds=30,
                                               sample=rss.sample, sample_every=32)
        rss.sample_times(10)
    finally:
        c.close()
    growth = rss.peak_growth
    assert growth < RSS_BOUND_KIB, f"server RSS grew {growth} KiB ({sent} bytes sent)"
    assert blocked, f"all {sent} bytes accepted although the client reads nothing"
