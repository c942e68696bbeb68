"""Descriptors per WebSocket connection, counted in /proc/<server>/fd with
real connections open: the open-files limit divided by this number is how
many connections one server holds (docs/security.md). A socket and the
child's three pipes make four, as websocketd; a child's exit is reported
without a descriptor of its own (src/proc/child_reaper.h)."""
import os
import signal

import pytest

import procstat
import wsb
from wsb import script

CONNECTIONS = 24


def open_echoing(port, count, stray):
    """`count` connections, each with its child running: the child's pid
    came back, and one message went through it both ways. Returns
    [(client, child pid)]."""
    opened = []
    for _ in range(count):
        c = wsb.RawWS(port)
        msg = c.recv_message(timeout=5)
        assert msg[0] == wsb.OP_TEXT, msg
        pid = int(msg[1])
        stray.add(pid)
        opened.append((c, pid))
        c.send_text("ping")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"ping")
    return opened


@pytest.mark.timeout(60)
def test_a_connection_holds_at_most_four_descriptors(start_server, stray):
    srv = start_server([script("pid_cat.sh")])
    # One connection first, so whatever the server makes once, on its first
    # connection or child, is in the baseline and not charged to the rest.
    first = open_echoing(srv.port, 1, stray)
    # The harness's readiness probe may still be closing on another worker:
    # the baseline is a count that has stopped moving.
    settled = [procstat.fd_count(srv.pid)]

    def unchanged():
        now = procstat.fd_count(srv.pid)
        same = now == settled[0]
        settled[0] = now
        return same

    assert wsb.wait_until(lambda: wsb.holds_for(unchanged, 0.3), 5)
    baseline = procstat.fd_count(srv.pid)
    opened = open_echoing(srv.port, CONNECTIONS, stray)
    held = procstat.fd_count(srv.pid)
    per_connection = (held - baseline) / CONNECTIONS
    assert per_connection <= 4, (
        f"{per_connection:.2f} descriptors per connection: {held - baseline} for {CONNECTIONS}; "
        f"{sorted(procstat.fd_targets(srv.pid).values())}")
    # Each connection holds its socket and the child's stdin, stdout and
    # stderr, so no fewer than four either: nothing was left unopened.
    assert per_connection >= 4, f"{per_connection:.2f} descriptors per connection"
    for c, _ in opened + first:
        c.close()
    # All of them are given back once the connections and children are gone.
    assert wsb.wait_until(lambda: procstat.fd_count(srv.pid) <= baseline - 4, 10), (
        f"{procstat.fd_count(srv.pid)} descriptors left, {baseline - 4} expected; "
        f"{sorted(procstat.fd_targets(srv.pid).values())}")


@pytest.mark.timeout(60)
def test_each_exit_among_many_live_children_reaches_its_own_connection(start_server, stray):
    """One reaper serves every child: killing children one at a time, out of
    order, ends exactly their connections, each child reaped, while the
    others keep echoing."""
    srv = start_server([script("pid_cat.sh")])
    opened = open_echoing(srv.port, 8, stray)
    for victim in (5, 1, 6):
        c, pid = opened[victim]
        os.kill(pid, signal.SIGKILL)
        c.expect_close(timeout=10)
        assert wsb.wait_until(lambda: pid not in procstat.children_of(srv.pid), 5), \
            f"child {pid} was not reaped"
        for other, (c2, _) in enumerate(opened):
            if other in (5, 1, 6)[: (5, 1, 6).index(victim) + 1]:
                continue
            c2.send_text(f"still {other}")
            assert c2.recv_message(timeout=5) == (wsb.OP_TEXT, f"still {other}".encode())
    assert len(procstat.live_children(srv.pid)) >= 5
    for c, _ in opened:
        c.close()
