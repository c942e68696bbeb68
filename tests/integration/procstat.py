"""Reading a process's resources from /proc, for the tests that bound what
the server holds (backpressure, faults, limits, soak, CGI and static
streaming): children, zombies, descriptors, CPU time, RSS."""
from __future__ import annotations

import os
import time


# wsbridge's helper process that starts children (src/proc/spawner.h). A
# child between its clone and its exec is named "wsbridge-exec", so only the
# spawner itself carries this name.
SPAWNER_NAME = "wsbridge-spawn"
# Processes of a server that are not children it started for a client: its
# spawner, and the symbolizer a sanitizer runtime starts to write a report
# (the TSan stage keeps servers running through descriptor-number reports).
NOT_CLIENT_CHILDREN = {SPAWNER_NAME, "llvm-symbolizer", "addr2line"}


def _read_stat(pid: int) -> tuple[str, list[str]] | None:
    """(comm, fields after the parenthesised comm) of /proc/<pid>/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.find("(") + 1:data.rfind(")")], data[data.rfind(")") + 2:].split()


def _stat_fields(pid: int) -> list[str] | None:
    stat = _read_stat(pid)
    return None if stat is None else stat[1]


def _processes_with_parent(pid: int):
    """(child pid, comm, state letter) for every process whose parent is pid."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read_stat(int(entry))
        if stat is not None and int(stat[1][1]) == pid:
            yield int(entry), stat[0], stat[1][0]


def children_of(pid: int) -> dict[int, str]:
    """{child pid: state letter} for every child the server started for a
    client (its spawner process is not one), zombies included (state "Z")."""
    return {kid: state for kid, comm, state in _processes_with_parent(pid)
            if comm not in NOT_CLIENT_CHILDREN}


def descendants(pid: int) -> list[int]:
    """Every process below pid (children, their children, ...)."""
    found, frontier = [], [pid]
    while frontier:
        kids = [kid for parent in frontier for kid, _, _ in _processes_with_parent(parent)]
        found += kids
        frontier = kids
    return found


def blocked_writing_a_pipe(pid: int) -> bool:
    """True when some process below pid sleeps in a write to a full pipe
    (its wchan): a child whose output the server has stopped reading."""
    for kid in descendants(pid):
        try:
            with open(f"/proc/{kid}/wchan") as f:
                if "pipe_write" in f.read():
                    return True
        except OSError:
            continue
    return False


def spawner_of(pid: int) -> int | None:
    """The pid of the server's spawner process, if it has one running."""
    for kid, comm, state in _processes_with_parent(pid):
        if comm == SPAWNER_NAME and state not in ("Z", "X"):
            return kid
    return None


def live_children(pid: int) -> list[int]:
    return sorted(k for k, state in children_of(pid).items() if state not in ("Z", "X"))


def zombie_children(pid: int) -> list[int]:
    """Every unreaped child, the spawner included: a dead spawner must be
    reaped too."""
    return sorted(kid for kid, _, state in _processes_with_parent(pid) if state == "Z")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_targets(pid: int) -> dict[int, str]:
    """{descriptor: what it refers to} ("socket:[123]", "pipe:[45]", a path),
    for saying which descriptors a test found left over."""
    targets = {}
    for entry in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets[int(entry)] = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:  # closed between the listing and the readlink
            pass
    return targets


def cpu_seconds(pid: int) -> float:
    """utime + stime of pid (not its children), in seconds."""
    fields = _stat_fields(pid)
    if fields is None:
        raise RuntimeError(f"process {pid} is gone")
    # stat fields 14 and 15 (1-based, counting pid and comm) are utime and stime.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class RssWatch:
    """A process's resident memory (KiB) against the baseline taken when
    the watch is made, for the tests that bound how much the server may
    grow while a peer does not keep up.

    `peak` keeps the highest sample: sampling while the pressure lasts, not
    only afterwards, catches a buffer that grows and is freed again.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.baseline = rss_kib(pid)
        self.peak = self.baseline

    def sample(self) -> int:
        """Growth over the baseline now (negative if it shrank)."""
        now = rss_kib(self.pid)
        self.peak = max(self.peak, now)
        return now - self.baseline

    def sample_for(self, seconds: float, interval: float = 0.05):
        """Samples every `interval` for `seconds`: pressure building up while
        the test deliberately does nothing."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.sample()
            time.sleep(interval)

    def sample_times(self, count: int, interval: float = 0.05):
        """`count` samples `interval` apart: lets the server settle after a flood."""
        for _ in range(count):
            self.sample()
            time.sleep(interval)

    @property
    def peak_growth(self) -> int:
        return self.peak - self.baseline


def is_asan_build(binary: str) -> bool:
    """True when the binary under test links AddressSanitizer (build-asan):
    memory and speed bounds are then looser."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def is_sanitized_build(binary: str) -> bool:
    """True when the binary links AddressSanitizer or ThreadSanitizer: its
    RSS then holds the sanitizer's shadow memory and bookkeeping, which
    grows with every allocation, so RSS bounds say nothing about leaks."""
    try:
        with open(binary, "rb") as f:
            image = f.read()
        return b"__asan_init" in image or b"__tsan_init" in image
    except OSError:
        return False
