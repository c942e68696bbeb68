"""Judges the ThreadSanitizer logs of scripts/test-tsan.sh: prints every
report that is not about a descriptor number (those are false positives
with an uninstrumented libuv; see test-tsan.sh) and exits 1 if there is one.

A report is about a descriptor number when TSan says so ("Location is file
descriptor"), or when both racing accesses are calls that only create,
close or register descriptors (TSan models each descriptor number as a
memory word those calls write; it omits the location when it never saw the
number created, e.g. by pidfd_open through syscall()). A read or write of a
buffer (read, write, memcpy, ...) is never excused.

    python3 scripts/tsan_reports.py LOG_DIR
"""
import os
import re
import sys

DESCRIPTOR_CALLS = {"accept", "accept4", "close", "dup", "dup2", "dup3", "epoll_ctl", "epoll_create1",
                    "eventfd", "fcntl", "open", "openat", "pipe", "pipe2", "socket", "socketpair",
                    # stdio and dirent open and close descriptors too (the
                    # /proc reads of proc/child_process.cpp, for one)
                    "fopen", "fdopen", "fclose", "opendir", "fdopendir", "closedir"}


def about_descriptor(report):
    if "Location is file descriptor" in report:
        return True
    # The first frame under each access line ("Write of size 8 ... by thread",
    # "Previous read of size 8 ...").
    tops = re.findall(r"^  (?:Previous )?(?:[Ww]rite|[Rr]ead|[Aa]tomic).* of size .*\n\s+#0 (\S+)", report, re.M)
    return len(tops) == 2 and all(top in DESCRIPTOR_CALLS for top in tops)


def main(logs):
    real, descriptor = [], 0
    for name in sorted(os.listdir(logs)):
        with open(os.path.join(logs, name), errors="replace") as f:
            text = f.read()
        # Each report sits between lines of '='.
        for report in re.split(r"^=+$", text, flags=re.M):
            if "WARNING: ThreadSanitizer" not in report:
                continue
            if about_descriptor(report):
                descriptor += 1
            else:
                real.append(f"--- {name}\n" + "\n".join(report.strip().splitlines()[:80]))
    print(f"tsan_reports.py: {descriptor} report(s) on descriptor numbers libuv closed unseen "
          f"(not counted), {len(real)} other report(s)", file=sys.stderr)
    for report in real:
        print(report, file=sys.stderr)
    return 1 if real else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
