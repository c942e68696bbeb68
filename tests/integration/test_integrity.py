"""Data integrity at volume, checked with SHA-256: nothing the client sent
before its close is lost on the way to the child, nothing the child wrote
before it died is lost on the way to the client, and both directions carry
many megabytes at once without corruption."""
import hashlib
import importlib.util
import os
import random
import socket
import struct
import threading
import time

import pytest

import wsb
from wsb import script

_spec = importlib.util.spec_from_file_location("emit_then_die", script("emit_then_die.py"))
emit_then_die = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(emit_then_die)

MiB = 1048576


class FrameReader:
    """Server frames from a raw socket: data payloads in order, then the close."""

    def __init__(self, c: wsb.RawWS):
        self.c = c
        self.buf = bytearray(c.buf)
        c.buf = b""

    def frames(self, deadline):
        while True:
            yield from wsb.take_server_frames(self.buf)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no close frame in time")
            self.c.sock.settimeout(left)
            data = self.c.sock.recv(1 << 20)
            if not data:
                raise wsb.Closed("EOF before a close frame")
            self.buf += data


@pytest.mark.timeout(120)
def test_megabytes_both_ways_at_once_arrive_intact(start_server):
    # cat in binary mode: what goes in comes back, but message boundaries
    # follow the pipe reads, so the byte streams are compared.
    total = 24 * MiB
    srv = start_server(["/bin/cat"], flags=["--binary"])
    rng = random.Random(1)
    data = rng.randbytes(total)
    sent_hash = hashlib.sha256(data).hexdigest()
    c = wsb.RawWS(srv.port)
    reader = FrameReader(c)
    got = hashlib.sha256()
    got_bytes = [0]
    errors = []

    def receive():
        try:
            for fin, op, payload in reader.frames(time.monotonic() + 90):
                if op == wsb.OP_CLOSE:
                    return
                got.update(payload)
                got_bytes[0] += len(payload)
                if got_bytes[0] >= total:
                    return
        except Exception as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=receive)
    t.start()
    at = 0
    while at < total:
        n = min(rng.randrange(1, 300000), total - at)
        c.send_frame(wsb.OP_BIN, data[at:at + n])
        at += n
    t.join(100)
    assert not t.is_alive(), f"echo stalled at {got_bytes[0]} of {total} bytes"
    assert not errors, errors
    assert got_bytes[0] == total
    assert got.hexdigest() == sent_hash, "echoed bytes differ from the bytes sent"
    c.send_close(1000)
    c.close()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ending", ["close_frame", "fin_only"])
def test_every_message_sent_before_the_close_reaches_the_child(start_server, tmp_path, stray, ending):
    out_dir = str(tmp_path / "sums")
    os.mkdir(out_dir)
    srv = start_server([script("sha_stdin.py"), out_dir])
    rng = random.Random(ending)
    c = wsb.RawWS(srv.port)
    pid = int(c.recv_message(timeout=10)[1])
    stray.add(pid)
    expected = hashlib.sha256()
    size = 0
    printable = emit_then_die.PRINTABLE
    batch = []
    for i in range(3000):
        # Text messages of 0..12000 printable bytes; the child sees each as a line.
        msg = rng.randbytes(rng.randrange(0, 12000)).translate(printable)
        expected.update(msg + b"\n")
        size += len(msg) + 1
        batch.append(wsb.encode_frame(wsb.OP_TEXT, msg))
        if len(batch) == 50:
            c.sock.sendall(b"".join(batch))
            batch = []
    c.sock.sendall(b"".join(batch))
    # End at once, without waiting for anything: a close frame then FIN, or
    # FIN alone (the client vanishes). Either way what was sent counts.
    if ending == "close_frame":
        c.send_close(1000)
    c.sock.shutdown(socket.SHUT_WR)
    c.close()
    path = os.path.join(out_dir, f"{pid}.sum")
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "the child never reached stdin EOF"
        time.sleep(0.05)
    with open(path) as f:
        digest, got_size = f.read().split()
    assert int(got_size) == size, f"child read {got_size} of {size} bytes"
    assert digest == expected.hexdigest(), "child read different bytes than were sent"
    assert wsb.wait_pid_gone(pid, 5) is not None


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", ["text", "binary"])
@pytest.mark.parametrize("ending", ["exit", "kill"])
def test_everything_written_before_an_abrupt_exit_arrives_before_the_close(start_server, mode, ending):
    size = 16 * MiB
    seed = 7
    srv = start_server([script("emit_then_die.py"), str(seed), str(size), mode, ending],
                       flags=["--binary"] if mode == "binary" else [])
    expected = emit_then_die.generate(seed, size, mode)
    c = wsb.RawWS(srv.port)
    reader = FrameReader(c)
    got = hashlib.sha256()
    received = 0
    lines = 0
    close_code = None
    partial = False
    for fin, op, payload in reader.frames(time.monotonic() + 60):
        if op == wsb.OP_CLOSE:
            close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            break
        assert not partial or op == wsb.OP_CONT
        partial = not fin
        if mode == "text":
            # Each line is one text message without its "\n".
            got.update(payload + (b"\n" if fin else b""))
            received += len(payload) + (1 if fin else 0)
            lines += 1 if fin else 0
        else:
            got.update(payload)
            received += len(payload)
    c.close()
    assert received == len(expected), f"received {received} of {len(expected)} bytes before the close"
    assert got.hexdigest() == hashlib.sha256(expected).hexdigest()
    if mode == "text":
        assert lines == expected.count(b"\n")
    # The close frame says how the program ended: _exit(0), or SIGKILL.
    assert close_code == (1000 if ending == "exit" else 1011)
