"""The spawner: a small helper process, forked at start-up, that starts every
child for the server so that the cost of a spawn does not grow with the
server's descriptor table (src/proc/spawner.h). Seen from outside through
/proc: who the children's parent is, what the spawner holds, and what
happens when it is gone."""
import os
import signal
import subprocess
import threading
import time

import pytest

import procstat
import wsb
from wsb import script


def read_pid(c, timeout=5):
    msg = c.recv_message(timeout=timeout)
    assert msg[0] == wsb.OP_TEXT, msg
    return int(msg[1])


def parent_and_group(pid):
    fields = procstat._stat_fields(pid)
    assert fields is not None, f"process {pid} is gone"
    return int(fields[1]), int(fields[2])


def running_spawner(server_pid, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = procstat.spawner_of(server_pid)
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise AssertionError(f"server {server_pid} has no spawner process")


@pytest.mark.timeout(30)
def test_children_are_the_servers_own_and_lead_their_own_group(start_server, stray):
    srv = start_server([script("pid_cat.sh")])
    spawner = running_spawner(srv.pid)
    c = wsb.RawWS(srv.port)
    pid = read_pid(c)
    stray.add(pid)
    parent, group = parent_and_group(pid)
    # CLONE_PARENT: the server, not the spawner, is the parent, so the server
    # reaps the child as one it forked itself.
    assert parent == srv.pid, f"child's parent is {parent}, spawner is {spawner}"
    assert group == pid, "the child does not lead a process group of its own"
    c.send_text("ping")
    assert c.recv_message(timeout=5) == (wsb.OP_TEXT, b"ping")
    c.close()
    assert wsb.wait_pid_gone(pid, 5) is not None
    deadline = time.monotonic() + 3
    while pid in procstat.children_of(srv.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pid not in procstat.children_of(srv.pid), "the server did not reap the child"


@pytest.mark.timeout(60)
def test_spawner_holds_a_few_descriptors_however_many_the_server_holds(start_server, stray):
    srv = start_server(["cat"])
    spawner = running_spawner(srv.pid)
    clients = []
    try:
        for i in range(60):
            c = wsb.RawWS(srv.port)
            c.send_text(f"hello {i}")
            assert c.recv_message(timeout=5) == (wsb.OP_TEXT, f"hello {i}".encode())
            clients.append(c)
        stray.add(*procstat.live_children(srv.pid))
        assert procstat.fd_count(srv.pid) >= 60 * 4, "the server should hold 4 descriptors per connection"
        # 0, 1, 2 and the control socket: what a clone has to copy.
        assert procstat.fd_count(spawner) <= 4, sorted(os.listdir(f"/proc/{spawner}/fd"))
    finally:
        for c in clients:
            c.close()


def spawner_news(srv):
    """The log lines where the server speaks of its spawner (fallbacks,
    replacements); none while all is well. Matched as a word before a space,
    so a path that contains "spawner" is not one."""
    return [line for line in srv.log().splitlines() if "spawner " in line.lower()]


def bytes_read_by(pid):
    """What the process has read so far (/proc/<pid>/io rchar): a spawner
    reads each request it serves."""
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError(f"no rchar for {pid}")


def connect_and_check_child(srv, stray, text, timeout=5):
    """One connection whose child (pid_cat.sh) is the server's and echoes."""
    c = wsb.RawWS(srv.port, timeout=timeout)
    pid = read_pid(c, timeout=timeout)
    stray.add(pid)
    assert parent_and_group(pid) == (srv.pid, pid)
    c.send_text(text)
    assert c.recv_message(timeout=timeout) == (wsb.OP_TEXT, text.encode())
    c.close()
    return pid


def replacement_spawner(srv, stray, old, timeout=10):
    """The spawner that replaced `old`. A replacement starts with the first
    spawn after the backoff (100 ms after a first failure), so connect until
    one runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = procstat.spawner_of(srv.pid)
        if pid is not None and pid != old:
            return pid
        connect_and_check_child(srv, stray, "waiting for a new spawner")
        time.sleep(0.05)
    raise AssertionError(f"no spawner replaced {old}: {procstat.children_of(srv.pid)}\n{srv.log()}")


def check_used(srv, stray, spawner):
    """The next child is started by `spawner`: it reads the request."""
    before = bytes_read_by(spawner)
    connect_and_check_child(srv, stray, "through the new spawner")
    assert bytes_read_by(spawner) > before, "the new spawner did not serve the request"
    assert procstat.spawner_of(srv.pid) == spawner


@pytest.mark.timeout(30)
def test_children_still_start_after_the_spawner_is_killed(start_server, stray):
    srv = start_server([script("pid_cat.sh")])
    spawner = running_spawner(srv.pid)
    os.kill(spawner, signal.SIGKILL)
    for attempt in range(3):
        connect_and_check_child(srv, stray, f"still here {attempt}")
    assert srv.wait_log("spawner process is gone", 3), "the fallback was not logged"
    assert srv.log().count("spawner process is gone") == 1, "the fallback should be logged once"
    assert spawner not in procstat.children_of(srv.pid), "the dead spawner was not reaped"


@pytest.mark.timeout(40)
def test_a_killed_spawner_is_replaced_and_the_replacement_used(start_server, stray):
    srv = start_server([script("pid_cat.sh")])
    first = running_spawner(srv.pid)
    os.kill(first, signal.SIGKILL)
    second = replacement_spawner(srv, stray, first)
    assert parent_and_group(second)[0] == srv.pid
    check_used(srv, stray, second)
    assert srv.wait_log(f"Started a new spawner process (pid {second})", 3), srv.log()
    # A second death is handled the same way: the backoff is bounded.
    os.kill(second, signal.SIGKILL)
    third = replacement_spawner(srv, stray, second)
    check_used(srv, stray, third)
    assert srv.log().count("spawner process is gone") == 2, srv.log()
    assert not set(procstat.children_of(srv.pid)) & {first, second}, "a dead spawner was not reaped"


@pytest.mark.timeout(60)
def test_a_stopped_spawner_is_killed_and_replaced_and_no_connection_hangs(start_server, stray):
    # SIGSTOP leaves the spawner's socket open but nobody reading it: every
    # spawn used to wait for it forever. Now each waits at most the answer
    # wait (2 s), then the server kills the spawner and starts the child
    # itself. More connections than libuv's four pool threads, all at once.
    srv = start_server([script("pid_cat.sh")])
    stopped = running_spawner(srv.pid)
    os.kill(stopped, signal.SIGSTOP)
    try:
        results = [None] * 8

        def connect(i):
            try:
                results[i] = connect_and_check_child(srv, stray, f"client {i}", timeout=20)
            except Exception as e:  # reported below, with the others
                results[i] = e

        threads = [threading.Thread(target=connect, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert all(isinstance(r, int) for r in results), results
        assert len(set(results)) == len(results), "a child was shared or started twice"
        assert srv.wait_log("did not answer within 2000 ms and was killed", 3), srv.log()
        assert srv.log().count("did not answer within") == 1, "the hang should be logged once"
        assert "did not take a request" not in srv.log(), srv.log()
        assert wsb.wait_until(lambda: stopped not in procstat.children_of(srv.pid), 5), \
            "the stopped spawner was not killed and reaped"
        replacement = replacement_spawner(srv, stray, stopped)
        assert parent_and_group(replacement)[0] == srv.pid
        check_used(srv, stray, replacement)
    finally:
        # Only if it is still the server's stopped spawner (not a reused pid).
        if procstat.spawner_of(srv.pid) == stopped or stopped in procstat.children_of(srv.pid):
            os.kill(stopped, signal.SIGCONT)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_spawner_ends_with_the_server(start_server, how):
    srv = start_server(["cat"])
    spawner = running_spawner(srv.pid)
    if how == "SIGTERM":
        assert srv.terminate() == 0
    else:
        # The kernel ends it (PR_SET_PDEATHSIG), even though the server had
        # no chance to.
        srv.expect_exit(-signal.SIGKILL)
        srv.proc.kill()
        srv.proc.wait(timeout=5)
        srv.returncode = srv.proc.returncode
    assert wsb.wait_pid_gone(spawner, 5) is not None, f"spawner outlived the server ({how})"


@pytest.mark.timeout(30)
def test_an_environment_larger_than_a_datagram_reaches_the_child(start_server, stray):
    # The request travels on a stream, not in the control datagram, whose
    # size the socket buffer bounds (about 200 KiB).
    # One variable may hold at most 128 KiB (MAX_ARG_STRLEN); three of them
    # make a request well over the datagram limit.
    names = ["BIG_A", "BIG_B", "BIG_C"]
    values = {name: name[-1] * (120 * 1024) for name in names}
    env = dict(os.environ, **values)
    srv = start_server([script("env.sh")], flags=["--passenv=" + ",".join(names)], env=env)
    c = wsb.RawWS(srv.port)
    lines = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        msg = c.recv_message(timeout=5, return_control=True)
        if msg[0] != wsb.OP_TEXT:
            break
        lines.append(msg[1])
    c.close()
    for name, value in values.items():
        assert f"{name}={value}".encode() in lines, f"{name} did not arrive whole"
    # ...and the spawner started it: nothing fell back to the server.
    assert not spawner_news(srv), srv.log()
    assert b"SERVER_SOFTWARE=" in b"\n".join(lines)


@pytest.mark.timeout(30)
def test_a_command_that_cannot_run_gets_500_and_leaves_no_zombie(start_server, tmp_path):
    not_executable = tmp_path / "not_executable.sh"
    not_executable.write_text("#!/bin/sh\necho hi\n")
    not_executable.chmod(0o755)
    srv = start_server([str(not_executable)])
    # Now make the exec fail inside the child the spawner started.
    not_executable.chmod(0o644)
    for _ in range(3):
        resp = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port))
        assert resp.status == 500, resp
        assert b"Permission denied" in resp.body
    assert wsb.wait_until(lambda: procstat.children_of(srv.pid) == {}, 5), \
        f"a child whose exec failed was not reaped: {procstat.children_of(srv.pid)}"


def signal_state(pid):
    """(ignored, blocked, caught) signal masks from /proc/<pid>/status."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = int(value.strip(), 16) if key in ("SigIgn", "SigBlk", "SigCgt") else None
    return fields["SigIgn"], fields["SigBlk"], fields["SigCgt"]


def signals_pending(pid):
    """True while a signal waits to be delivered to pid (false once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith(("SigPnd:", "ShdPnd:")) and int(line.split()[1], 16)
                       for line in f)
    except OSError:
        return False


# Signals 1-31; glibc's own real-time signals 32 and 33 may be ignored on the
# posix_spawn path, which a shell's children see as well.
STANDARD_SIGNALS = (1 << 31) - 1


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["spawner", "in-process fallback"])
def test_a_child_starts_with_default_signals_and_nothing_blocked(start_server, stray, path):
    # A shell script's `trap` and `kill` behave as from a terminal only if
    # the server's own SIGPIPE/SIGINT/SIGHUP handling is not inherited.
    srv = start_server([script("pid_cat.sh")])
    if path != "spawner":
        os.kill(running_spawner(srv.pid), signal.SIGKILL)
    c = wsb.RawWS(srv.port)
    pid = read_pid(c)
    stray.add(pid)
    ignored, blocked, _ = signal_state(pid)
    assert ignored & STANDARD_SIGNALS == 0, f"child ignores signals {ignored:#x}"
    assert blocked == 0, f"child blocks signals {blocked:#x}"
    c.close()


@pytest.mark.timeout(30)
def test_the_spawner_survives_sigint_and_sighup(start_server, stray):
    # ^C in a terminal reaches the whole foreground group; pkill -HUP
    # wsbridge matches the spawner's name. Neither may end it.
    srv = start_server([script("pid_cat.sh")])
    spawner = running_spawner(srv.pid)
    os.kill(spawner, signal.SIGINT)
    os.kill(spawner, signal.SIGHUP)
    # Once neither is pending any more, each has done whatever it does.
    assert wsb.wait_until(lambda: not signals_pending(spawner), 5), "the signals stayed pending"
    assert procstat.spawner_of(srv.pid) == spawner
    c = wsb.RawWS(srv.port)
    stray.add(read_pid(c))
    c.close()
    assert not spawner_news(srv), srv.log()


@pytest.mark.timeout(40)
def test_a_request_the_spawner_cannot_take_is_started_by_the_server(start_server, stray):
    # With no room for the four descriptors of a request, the spawner cannot
    # answer at all; the server must not wait for it forever, nor take it for
    # dead, and the connection still gets its child.
    srv = start_server([script("pid_cat.sh")])
    spawner = running_spawner(srv.pid)
    subprocess.run(["prlimit", f"--pid={spawner}", "--nofile=4:"], check=True)
    for attempt in range(2):
        c = wsb.RawWS(srv.port)
        pid = read_pid(c)
        stray.add(pid)
        c.send_text(f"ok {attempt}")
        assert c.recv_message(timeout=5) == (wsb.OP_TEXT, f"ok {attempt}".encode())
        c.close()
    # One line per attempt, each written by the log's own thread, maybe late.
    assert wsb.wait_until(lambda: srv.log().count("The spawner did not take a request") >= 2, 10), srv.log()
    assert "spawner process is gone" not in srv.log()
    assert procstat.spawner_of(srv.pid) == spawner, "the spawner was taken for dead"
    # Room again (the soft limit only: raising the hard one needs
    # CAP_SYS_RESOURCE): the spawner serves the next one.
    subprocess.run(["prlimit", f"--pid={spawner}", "--nofile=1024:"], check=True)
    before = srv.log().count("did not take")
    c = wsb.RawWS(srv.port)
    stray.add(read_pid(c))
    c.close()
    assert wsb.holds_for(lambda: srv.log().count("did not take") == before, 0.5)
    assert srv.terminate(timeout=wsb.TEARDOWN_SECONDS) == 0
