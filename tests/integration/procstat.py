"""Reading a process's resources from /proc, for the fault, integrity and
soak tests: children, zombies, descriptors, CPU time, RSS."""
from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the parenthesised comm, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(")") + 2:].split()


def children_of(pid: int) -> dict[int, str]:
    """{child pid: state letter} for every process whose parent is pid,
    zombies included (state "Z")."""
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and int(fields[1]) == pid:
            kids[int(entry)] = fields[0]
    return kids


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
