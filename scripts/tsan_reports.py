"""Judges the ThreadSanitizer logs of scripts/test-tsan.sh: prints every
report that is not about a descriptor number (those are false positives
with an uninstrumented libuv; see test-tsan.sh) and exits 1 if there is one.

A report is about a descriptor number when TSan says so ("Location is file
descriptor"), or when both racing accesses are calls that only create,
close or register descriptors (TSan models each descriptor number as a
memory word those calls write; it omits the location when it never saw the
number created, e.g. by pidfd_open through syscall()). A read or write of a
buffer (read, write, memcpy, ...) is never excused.

Judging a report by its calls needs their names: without a symbolizer every
frame reads "<null>". Such a report is neither excused nor called a race:
it is counted as not judged, the way to get a symbolizer is printed, and the
exit status is 1, since nothing was shown to be a false positive.

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


# Debian's clang-14 runtime runs this symbolizer, whatever PATH holds.
SYMBOLIZER_ADVICE = ("ThreadSanitizer found no symbolizer: install Debian's llvm-14 package "
                     "(/usr/bin/llvm-symbolizer-14; scripts/install-deps.sh --with-tests does) "
                     "or point TSAN_OPTIONS' external_symbolizer_path at an llvm-symbolizer, "
                     "then run scripts/test-tsan.sh again")


def judge(report):
    """'descriptor', 'unnamed' (cannot be judged: no function names) or 'race'."""
    if "Location is file descriptor" in report:
        return "descriptor"
    # The first frame under each access line ("Write of size 8 ... by thread",
    # "Previous read of size 8 ...").
    tops = re.findall(r"^  (?:Previous )?(?:[Ww]rite|[Rr]ead|[Aa]tomic).* of size .*\n\s+#0 (\S+)", report, re.M)
    if "<null>" in tops:
        return "unnamed"
    if len(tops) == 2 and all(top in DESCRIPTOR_CALLS for top in tops):
        return "descriptor"
    return "race"


def main(logs):
    real, unnamed, descriptor = [], [], 0
    for name in sorted(os.listdir(logs)):
        with open(os.path.join(logs, name), errors="replace") as f:
            text = f.read()
        # Each report sits between lines of '='.
        for report in re.split(r"^=+$", text, flags=re.M):
            if "WARNING: ThreadSanitizer" not in report:
                continue
            verdict = judge(report)
            if verdict == "descriptor":
                descriptor += 1
            elif verdict == "unnamed":
                unnamed.append(name)
            else:
                real.append(f"--- {name}\n" + "\n".join(report.strip().splitlines()[:80]))
    print(f"tsan_reports.py: {descriptor} report(s) on descriptor numbers libuv closed unseen "
          f"(not counted), {len(real)} other report(s)", file=sys.stderr)
    for report in real:
        print(report, file=sys.stderr)
    if unnamed:
        print(f"tsan_reports.py: {len(unnamed)} more report(s) cannot be judged, as their stacks have no "
              f"function names (in {', '.join(sorted(set(unnamed)))}). {SYMBOLIZER_ADVICE}.", file=sys.stderr)
    return 1 if real or unnamed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
