"""Reading a process's resources from /proc, for the fault, integrity and
soak tests: children, zombies, descriptors, CPU time, RSS."""
from __future__ import annotations

import os


# wsbridge's helper process that starts children (src/proc/spawner.h).
SPAWNER_NAME = "wsbridge-spawn"


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
    return {kid: state for kid, comm, state in _processes_with_parent(pid) if comm != SPAWNER_NAME}


def spawner_of(pid: int) -> int | None:
    """The pid of the server's spawner process, if it has one running."""
    for kid, comm, state in _processes_with_parent(pid):
        if comm == SPAWNER_NAME and state not in ("Z", "X"):
            return kid
    return None


def live_children(pid: int) -> list[int]:
    return sorted(k for k, state in children_of(pid).items() if state not in ("Z", "X"))


def zombie_children(pid: int) -> list[int]:
    return sorted(k for k, state in children_of(pid).items() if state == "Z")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


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


def is_asan_build(binary: str) -> bool:
    """True when the binary under test links AddressSanitizer (build-asan):
    memory and speed bounds are then looser."""
    try:
        with open(binary, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False
