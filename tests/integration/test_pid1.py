"""wsbridge as a container's PID 1 (src/proc/pid1_init.h): it forks a small
init that reaps orphans and forwards signals, and exits with the server's
status. A container is imitated with a new PID namespace
(`unshare --pid --fork --mount-proc`), seen from the host's /proc: the
namespace's PID 1 is unshare's child, and every process of the namespace
descends from it (orphans are re-parented to it).

The normal case (not PID 1: no init, the server's children are its spawner
and the sessions' children) is covered by test_spawner.py and test_lifecycle.py.
"""
import contextlib
import fcntl
import os
import pty
import signal
import socket
import subprocess
import termios
import time

import pytest

import procstat
import wsb
from wsb import script

# --kill-child: if unshare itself dies, the kernel SIGKILLs the namespace's
# PID 1, and with it the whole namespace; nothing can outlive a test.
UNSHARE = ["/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
INIT_NAME = "wsbridge-init"


@pytest.fixture(scope="module")
def pid_namespaces():
    try:
        probe = subprocess.run([*UNSHARE, "/bin/true"], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot run unshare: {e}")
    if probe.returncode != 0:
        pytest.skip("cannot make a PID namespace with unshare (needs root or user namespaces): "
                    + probe.stderr.decode(errors="replace").strip())


def processes():
    """{pid: (parent pid, comm, state letter)} of every process on the host."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = procstat._read_stat(int(entry))
            if stat is not None:
                table[int(entry)] = (int(stat[1][1]), stat[0], stat[1][0])
    return table


def namespace_pid(pid):
    """The pid of a host process inside its own (innermost) PID namespace."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    raise AssertionError(f"no NSpid for {pid}")


class Namespace:
    """wsbridge started as PID 1 of a new PID namespace, its log in a file."""

    def __init__(self, binary, args, workdir, env=None, name="ns", terminal=False):
        self.binary = binary
        self.args = list(args)
        self.workdir = workdir
        self.env = env
        self.name = name
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.returncode = None
        # terminal: stdin is a pseudo-terminal that is the namespace's
        # controlling terminal (docker run -it); write to self.terminal.
        self.terminal = None
        self._wants_terminal = terminal

    def start(self, port=None):
        env = dict(os.environ)
        env.update(self.env or {})
        stdin, take_terminal = subprocess.DEVNULL, None
        if self._wants_terminal:
            self.terminal, stdin = pty.openpty()
            # After setsid (start_new_session): make the pty our controlling terminal.
            take_terminal = lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # noqa: E731
        try:
            with open(self.log_path, "wb") as out:
                self.proc = subprocess.Popen([*UNSHARE, self.binary, *self.args], stdin=stdin,
                                             stdout=out, stderr=subprocess.STDOUT, env=env,
                                             cwd=self.workdir, start_new_session=True,
                                             preexec_fn=take_terminal)
        finally:
            if self._wants_terminal:
                os.close(stdin)
        return self

    def serve(self, command, flags=(), ready_timeout=5.0):
        """Starts a server on a free loopback port and waits until it accepts."""
        self.port = wsb.free_port()
        self.args = [f"--port={self.port}", "--address=127.0.0.1", *flags, *command]
        self.start()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited with {self.proc.returncode}:\n{self.log()}")
            if wsb.tcp_connect_ok(self.port):
                return self
            time.sleep(0.02)
        raise AssertionError(f"not accepting within {ready_timeout}s:\n{self.log()}")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, count=1, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.log().count(needle) < count:
            time.sleep(0.02)
        return self.log().count(needle) >= count

    @property
    def init_pid(self):
        """Host pid of the namespace's PID 1 (unshare's child), once it runs wsbridge."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for pid, comm, _ in procstat._processes_with_parent(self.proc.pid):
                if comm in (INIT_NAME, "wsbridge") and namespace_pid(pid) == 1:
                    return pid
            time.sleep(0.01)
        raise AssertionError(f"no PID 1 under unshare {self.proc.pid}")

    @property
    def server_pid(self):
        """Host pid of the server: the init's child named wsbridge."""
        kids = [pid for pid, comm, state in procstat._processes_with_parent(self.init_pid)
                if comm == "wsbridge" and state not in ("Z", "X")]
        assert len(kids) == 1, f"init {self.init_pid} has server children {kids}"
        return kids[0]

    def members(self):
        """{host pid: (comm, state)} of every process of the namespace, PID 1 included."""
        table = processes()
        try:
            found = {self.init_pid}
        except AssertionError:
            return {}
        frontier = list(found)
        while frontier:
            parent = frontier.pop()
            for pid, (ppid, _, _) in table.items():
                if ppid == parent and pid not in found:
                    found.add(pid)
                    frontier.append(pid)
        return {pid: table[pid][1:] for pid in found if pid in table}

    def zombies(self):
        return {pid: comm for pid, (comm, state) in self.members().items() if state == "Z"}

    def wait(self, timeout):
        """unshare's exit status, which is its child's: the namespace's PID 1."""
        self.returncode = self.proc.wait(timeout=timeout)
        return self.returncode

    def stop(self):
        """Ends the namespace if still running: SIGKILL to its PID 1 ends every
        process in it; unshare then exits."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for pid, comm, _ in procstat._processes_with_parent(self.proc.pid):
            if comm in (INIT_NAME, "wsbridge", "unshare"):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def close_terminal(self):
        if self.terminal is not None:
            os.close(self.terminal)
            self.terminal = None


@pytest.fixture
def namespace(pid_namespaces, bin_path, tmp_path, request):
    """Factory: namespace(env=None) -> Namespace, ended at teardown."""
    made = []

    def make(env=None, terminal=False):
        ns = Namespace(bin_path, [], str(tmp_path), env=env, name=f"ns{len(made)}", terminal=terminal)
        made.append(ns)
        return ns

    yield make
    for ns in made:
        ns.stop()
        ns.close_terminal()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for ns in made:
            with contextlib.suppress(OSError):
                print(f"\n--- {ns.name} log ---\n{ns.log()[-4000:]}")


# How long a connection's end may take to show "SIGKILL did not terminate":
# SIGINT after 100 ms, SIGTERM 250 ms later, SIGKILL 500 ms later, and the
# report 1 s after that (src/proc/child_process.cpp), with room for a loaded
# machine.
ESCALATION_SECONDS = 3.0


def leave_three_orphans(ns):
    """Three connections to a script that leaves `sleep 30 &` behind (holding
    its stdout): two closed by the client while the script waits for input,
    one closed after the script has exited by itself."""
    for i in range(3):
        with wsb.RawWS(ns.port) as c:
            assert c.recv_message() == (wsb.OP_TEXT, b"started")
            if i == 2:
                c.send_text("bye")
                assert ns.wait_log("Process exited with status 0"), ns.log()
    assert ns.wait_log("DISCONNECT", count=3, timeout=10), ns.log()
    time.sleep(ESCALATION_SECONDS)


# ------------------------------------------------------------------ reaping

@pytest.mark.timeout(60)
def test_orphans_are_reaped_and_no_connection_escalates_to_sigkill(namespace):
    ns = namespace().serve([script("background_sleep.sh")])
    assert procstat._read_stat(ns.init_pid)[0] == INIT_NAME
    leave_three_orphans(ns)
    deadline = time.monotonic() + 2
    while ns.zombies() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ns.zombies() == {}, f"zombies in the namespace: {ns.zombies()}"
    assert "SIGKILL did not terminate" not in ns.log()
    # Still serving.
    with wsb.RawWS(ns.port) as c:
        assert c.recv_message() == (wsb.OP_TEXT, b"started")


@pytest.mark.timeout(60)
def test_wsbridge_no_init_runs_the_server_as_pid1_itself(namespace):
    # The opt-out: the server is PID 1 itself, with no init to forward
    # signals. Orphans are re-parented to it, and its one reaper (which
    # waits for any child, src/proc/child_reaper.h) reaps them as well.
    ns = namespace(env={"WSBRIDGE_NO_INIT": "1"}).serve([script("background_sleep.sh")])
    init = ns.init_pid
    assert procstat._read_stat(init)[0] == "wsbridge"
    # The spawner is forked just after the first listen: wait for it.
    deadline = time.monotonic() + 5
    while procstat.spawner_of(init) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert procstat.spawner_of(init) is not None, "PID 1 should be the server itself"
    leave_three_orphans(ns)
    deadline = time.monotonic() + 2
    while ns.zombies() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ns.zombies() == {}, f"zombies in the namespace: {ns.zombies()}"
    assert "SIGKILL did not terminate" not in ns.log()


# ------------------------------------------------------------------ signals

@pytest.mark.timeout(30)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_to_pid1_stops_the_server_cleanly(namespace, signum):
    ns = namespace().serve([script("background_sleep.sh")])
    init, server = ns.init_pid, ns.server_pid
    c = wsb.RawWS(ns.port)
    assert c.recv_message() == (wsb.OP_TEXT, b"started")
    os.kill(init, signum)
    assert ns.wait(timeout=10) == 0, ns.log()
    c.close()
    log = ns.log()
    assert f"Received {signum.name}" in log and "Stopped" in log, log
    assert not wsb.pid_alive(init) and not wsb.pid_alive(server)
    assert ns.members() == {}


@pytest.mark.timeout(30)
def test_ctrl_c_at_the_terminal_is_one_graceful_stop(namespace):
    # docker run -it: the terminal sends SIGINT to its whole foreground
    # process group. The server leads a group of its own and holds the
    # terminal, so it hears Ctrl-C once; with the init in the same group it
    # also got the init's forwarded copy, and a second SIGINT means "exit now".
    ns = namespace(terminal=True).serve([script("background_sleep.sh")])
    ns.server_pid  # noqa: B018 (waits until the server runs under the init)
    c = wsb.RawWS(ns.port)
    assert c.recv_message() == (wsb.OP_TEXT, b"started")
    os.write(ns.terminal, b"\x03")
    assert ns.wait(timeout=10) == 0, ns.log()
    c.close()
    log = ns.log()
    assert log.count("Received SIGINT") == 1 and "Stopped" in log, log
    assert "Second signal" not in log, log


@pytest.mark.timeout(30)
def test_sighup_to_pid1_reaches_the_server_which_keeps_serving(namespace):
    ns = namespace().serve([script("background_sleep.sh")])
    os.kill(ns.init_pid, signal.SIGHUP)
    assert ns.wait_log("SIGHUP: nothing to reload"), ns.log()
    with wsb.RawWS(ns.port) as c:
        assert c.recv_message() == (wsb.OP_TEXT, b"started")
    assert ns.proc.poll() is None


@pytest.mark.timeout(30)
def test_the_init_exits_with_128_plus_the_signal_that_killed_the_server(namespace):
    ns = namespace().serve([script("background_sleep.sh")])
    os.kill(ns.server_pid, signal.SIGKILL)
    assert ns.wait(timeout=10) == 128 + signal.SIGKILL


# ------------------------------------------------------------------ what the init holds

def signal_state(pid):
    """(ignored, blocked) signal masks of a process's main thread."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["SigIgn"], 16), int(fields["SigBlk"], 16)


@pytest.mark.timeout(30)
def test_the_server_starts_as_it_would_alone_and_the_init_holds_only_stdio(namespace, start_server):
    alone = start_server([script("background_sleep.sh")])
    ns = namespace().serve([script("background_sleep.sh")])
    # Compared once both have finished starting (spawner forked, workers up).
    # The log line can come before the spawner's fork ends, and the server
    # blocks every signal across that fork (slow under ASan): so the two
    # must come to the same state, not be in it at one instant.
    assert alone.wait_log("Starting WebSocket server") and ns.wait_log("Starting WebSocket server")
    assert wsb.wait_until(lambda: signal_state(ns.server_pid) == signal_state(alone.pid), 10), \
        (signal_state(ns.server_pid), signal_state(alone.pid))
    assert sorted(int(fd) for fd in os.listdir(f"/proc/{ns.init_pid}/fd")) == [0, 1, 2]
    kids = procstat._processes_with_parent(ns.init_pid)
    assert [comm for _, comm, _ in kids] == ["wsbridge"]


# ------------------------------------------------------------------ start-up failures

@pytest.mark.timeout(40)
@pytest.mark.parametrize("case", ["port taken", "unknown flag", "--help"])
def test_the_init_exits_with_the_status_the_server_has_without_it(namespace, bin_path, case):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        args = {
            "port taken": [f"--port={taken.getsockname()[1]}", "--address=127.0.0.1", script("echo.sh")],
            "unknown flag": ["--no-such-flag", script("echo.sh")],
            "--help": ["--help"],
        }[case]
        alone = wsb.run_cli(bin_path, args)
        ns = namespace()
        ns.args = args
        status = ns.start().wait(timeout=10)
    assert status == alone.returncode, ns.log()
    assert status == {"port taken": 3, "unknown flag": 2, "--help": 0}[case]
    needle = {"port taken": "Can't start server", "unknown flag": "no-such-flag", "--help": "Usage"}[case]
    assert needle in ns.log()


@pytest.mark.timeout(30)
def test_the_init_exits_with_the_server_even_if_started_with_sigchld_ignored(namespace, bin_path):
    # An ignored SIGCHLD survives exec. Left so in the init, the kernel
    # would reap the server unseen and the init (and the container) would
    # run on after it. Python, as PID 1 of the namespace, ignores SIGCHLD and
    # then becomes wsbridge (exec keeps the pid).
    ns = namespace()
    ns.binary = "/usr/bin/python3"
    ns.args = ["-c", "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); "
               "os.execv(sys.argv[1], sys.argv[1:])", bin_path, "--no-such-flag", script("echo.sh")]
    try:
        status = ns.start().wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("the init did not exit after the server had:\n" + ns.log())
    assert status == 2, ns.log()
    assert "no-such-flag" in ns.log()
