"""Teardown corner cases found in review: each test failed before its fix."""
import socket
import time

import procstat
import wsb
from wsb import script


def send_until_blocked(c, total, chunk=64 * 1024, seconds=3.0):
    """Text messages of `chunk` bytes until `total` bytes, 3 s, or the socket
    stops taking them for 0.2 s: enough to fill what the server buffers."""
    frame = wsb.encode_frame(wsb.OP_TEXT, b"x" * chunk)
    return wsb.send_until_blocked(c.sock, frame, total, timeout=0.2, seconds=seconds, counted=chunk)[0]


def test_grandchild_holding_unread_stdin_is_still_signalled(start_server, stray):
    # The child exits at once, its grandchild keeps stdin open without
    # reading, and the client has sent more than the pipe holds. When the
    # client leaves, the process group must still get the stop sequence.
    srv = start_server([script("grandchild_holds_stdin.sh")])
    with wsb.RawWS(srv.port) as c:
        grandchild = int(c.recv_message(timeout=5)[1])
        stray.add(grandchild)
        # More than the pipe holds (64 KiB), less than makes the server stop
        # reading (256 KiB): the server sees the client leave at once.
        send_until_blocked(c, 160 * 1024, chunk=16 * 1024)
        time.sleep(0.3)
    gone = wsb.wait_pid_gone(grandchild, 4)
    assert gone is not None, "the grandchild was never signalled"
    # And the server is not left waiting on that connection until the 10 s
    # shutdown deadline, as the bug did.
    assert srv.terminate(timeout=20) == 0
    assert "at the shutdown deadline" not in srv.log(), srv.log()


def test_pings_do_not_drop_a_client_while_reading_is_paused(start_server, stray):
    # The child never reads, so the server stops reading the socket once its
    # stdin queue is full: the client's pongs wait in the kernel, and the
    # connection must not be taken for dead.
    srv = start_server([script("noread.sh")], flags=["--pingms=200"])
    with wsb.RawWS(srv.port) as c:
        stray.add(int(c.recv_message(timeout=5)[1]))
        send_until_blocked(c, 8 << 20)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                c.recv_message(timeout=0.3, return_control=True)  # answers pings
            except TimeoutError:
                pass
        assert wsb.holds_for(lambda: "No answer to pings" not in srv.log(), 0.5)


def test_close_without_a_code_still_bounds_the_close_handshake(start_server, stray):
    # The client sends a close with no status code and then reads nothing
    # while the child floods: the server's close must not wait forever.
    srv = start_server([script("flood.sh"), "50"])
    with wsb.RawWS(srv.port) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.recv_message(timeout=5)
        # The flood fills the kernel's buffers and the server's queue, until
        # the server stops reading the child, whose writes then block.
        assert wsb.wait_until(lambda: procstat.blocked_writing_a_pipe(srv.pid), 20), \
            "the flood never filled the buffers"
        c.send_close(None)
        assert srv.wait_log("DISCONNECT", timeout=6), "connection still open after an empty close"
