"""A log reader that falls behind never stalls the server.

The server's log goes to its stdout, usually a pipe to journald or a shell.
Before the log had a writer thread of its own, a reader that stopped reading
stopped the server once the pipe's 64 KiB were full: new connections hung
after about a hundred (websocketd behaves the same). Here the test itself
holds the read end of the server's stdout and does not read it while a
thousand clients come and go; afterwards it reads, and the log says how many
lines were dropped meanwhile.
"""
import os
import subprocess
import threading
import time

import pytest

import wsb

CLIENTS = 1000
THREADS = 8
# Each child writes this many stderr lines, each logged by the server, so the
# log outgrows the writer's 1 MiB queue and lines must be dropped.
NOISE_LINES = 40
CHILD = ("i=0; while [ $i -lt %d ]; do echo \"noise line $i from a chatty child\" >&2; "
         "i=$((i+1)); done; exec cat" % NOISE_LINES)


def one_client(port: int) -> bool:
    try:
        with wsb.RawWS(port, timeout=10.0) as ws:
            ws.send_text("ping")
            op, payload = ws.recv_message(timeout=10.0)
            ws.send_close(1000)
            return op == wsb.OP_TEXT and payload == b"ping"
    except (OSError, wsb.Closed, TimeoutError, ConnectionError):
        return False


@pytest.mark.timeout(180)
def test_clients_are_served_while_the_log_reader_does_not_read():
    binary = wsb.binary_under_test()
    if wsb.is_websocketd(binary):
        pytest.skip("websocketd blocks on its log writes (the behaviour this test rejects)")
    workdir = wsb.workdir("wsb-logreader-")
    read_end, write_end = os.pipe()
    port = wsb.free_port()
    proc = subprocess.Popen([binary, f"--port={port}", "--address=127.0.0.1", "/bin/sh", "-c", CHILD],
                            stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.DEVNULL,
                            cwd=workdir, start_new_session=True)
    os.close(write_end)
    try:
        deadline = time.monotonic() + 10
        while not wsb.tcp_connect_ok(port) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert wsb.tcp_connect_ok(port), "server did not start"

        served = [0] * THREADS
        failed = threading.Event()

        def run(index: int):
            for _ in range(CLIENTS // THREADS):
                if failed.is_set():
                    return
                if one_client(port):
                    served[index] += 1
                else:
                    failed.set()  # a stalled server fails every later client too

        workers = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=150)
        assert not any(w.is_alive() for w in workers), "clients still waiting: the server stalled"
        # Every client was answered although nobody read the log meanwhile.
        assert sum(served) == CLIENTS

        # Now read: the queued lines arrive, then one line with the count.
        received = bytearray()
        os.set_blocking(read_end, False)
        deadline = time.monotonic() + 20
        while b"log lines were dropped" not in received and time.monotonic() < deadline:
            try:
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                received += chunk
            except BlockingIOError:
                time.sleep(0.01)
        text = received.decode("utf-8", "replace")
        report = [line for line in text.splitlines() if "log lines were dropped" in line]
        assert len(report) == 1, text[-2000:]
        dropped = int(report[0].split("|")[-1].split()[0])
        assert dropped > 0
        # Lines are dropped whole: every line that arrived is complete.
        for line in text.splitlines():
            assert line.count(" | ") >= 4, line
    finally:
        if proc.poll() is None:
            proc.terminate()
        # Drain while it stops, so its last lines cannot hold the exit.
        os.set_blocking(read_end, False)
        deadline = time.monotonic() + 15
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                os.read(read_end, 1 << 16)
            except BlockingIOError:
                time.sleep(0.02)
        status = proc.wait(timeout=10)
        os.close(read_end)
    assert status == 0
