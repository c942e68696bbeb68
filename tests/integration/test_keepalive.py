"""--pingms / --ping-interval: server pings keep proxies' read timeouts from
cutting idle connections, and a peer that answers nothing is dropped."""
import time

import wsb
from wsb import script


def test_server_pings_and_an_answering_client_stays(start_server):
    # 1 s between pings: a peer silent for 3 ticks is dropped, and a
    # shorter tick would let a test process stalled on a loaded machine
    # look silent.
    srv = start_server(["cat"], flags=["--pingms=1000"])
    with wsb.RawWS(srv.port) as c:
        pings = 0
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            try:
                op, payload = c.recv_message(timeout=0.5, return_control=True)  # answers pings
            except TimeoutError:
                continue
            if op == wsb.OP_PING:
                pings += 1
        assert pings >= 5, pings
        # Still open: answering pings is enough.
        c.send_text("alive")
        assert c.recv_message(timeout=5)[1] == b"alive"


def test_silent_client_is_dropped_and_its_child_reaped(start_server, stray):
    srv = start_server([script("pid_cat.sh")], flags=["--ping-interval=0.2"])
    with wsb.RawWS(srv.port) as c:
        pid = int(c.recv_message(timeout=5)[1])
        stray.add(pid)
        # Read frames without answering: after two silent intervals the
        # server gives up on us and closes TCP.
        t0 = time.monotonic()
        assert c.wait_eof(timeout=8)
        # Not before two intervals have passed (timers never fire early);
        # how late is only bounded by the wait above.
        elapsed = time.monotonic() - t0
        assert elapsed > 0.3, elapsed
    assert wsb.wait_pid_gone(pid, 3) is not None
    assert srv.wait_log("No answer to pings")


def test_no_pings_by_default(start_server):
    srv = start_server(["cat"])
    with wsb.RawWS(srv.port) as c:
        try:
            frame = c.recv_frame(timeout=1.0)
        except TimeoutError:
            frame = None
        assert frame is None


def test_accepted_sockets_use_tcp_keepalive(start_server):
    # A peer that disappears without a FIN is found by keepalive probes even
    # when nobody writes (half-open TCP); `ss -o` shows the timer.
    import shutil
    import subprocess

    import pytest
    if shutil.which("ss") is None:
        pytest.skip("ss (iproute2) not installed")
    srv = start_server(["cat"])
    with wsb.RawWS(srv.port) as c:
        c.send_text("x")
        assert c.recv_message(timeout=5)[1] == b"x"
        # While data is unacknowledged ss shows the retransmit timer instead.
        for _ in range(40):
            out = subprocess.run(["ss", "-tno", "state", "established", f"( sport = :{srv.port} )"],
                                 capture_output=True, text=True, timeout=5).stdout
            if "keepalive" in out:
                break
            time.sleep(0.05)
    assert "keepalive" in out, out
