"""The README's first set-up command, scripts/demo.sh, run for real.

It must build (a no-op here: ctest already built build/) and then serve
examples/count.sh with the developer console: a browser's plain GET gets the
console page, and a WebSocket client gets the count. Only the plain build's
binary is what demo.sh serves, so sanitizer runs (another build folder) skip.
"""
import os
import signal
import subprocess
import time

import pytest

import wsb

ROOT = os.path.normpath(os.path.join(wsb.HERE, "..", ".."))
DEMO = os.path.join(ROOT, "scripts", "demo.sh")


@pytest.mark.timeout(120)
def test_demo_serves_count_with_the_console(bin_path):
    if os.path.realpath(bin_path) != os.path.realpath(os.path.join(ROOT, "build", "wsbridge")):
        pytest.skip("demo.sh serves build/wsbridge; this run tests another binary")
    port = wsb.free_port()
    proc = subprocess.Popen([DEMO], env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 100
        while not wsb.tcp_connect_ok(port):
            assert proc.poll() is None, f"demo.sh exited with {proc.returncode}: {proc.stdout.read()!r}"
            assert time.monotonic() < deadline, "demo.sh did not start serving"
            time.sleep(0.1)
        page = wsb.http_request(port, "/")
        assert page.status == 200
        assert b'id="connect"' in page.body and b'id="send"' in page.body
        with wsb.RawWS(port) as ws:
            assert ws.recv_message(timeout=10) == (wsb.OP_TEXT, b"1")
            assert ws.recv_message(timeout=4) == (wsb.OP_TEXT, b"2")
    finally:
        # demo.sh execs wsbridge, so its pid is the server's: SIGTERM stops it cleanly.
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}/".encode() in out
