#!/usr/bin/python3
"""Reports its pid, then reads stdin to EOF and writes "<sha256> <bytes>"
of everything it read to DIR/<pid>.sum (atomically, via a rename), so a test
can check what reached the child after the connection is gone."""
import hashlib
import os
import sys

out_dir = sys.argv[1]
os.write(1, f"{os.getpid()}\n".encode())
digest = hashlib.sha256()
size = 0
while True:
    chunk = os.read(0, 1 << 16)
    if not chunk:
        break
    digest.update(chunk)
    size += len(chunk)
path = os.path.join(out_dir, f"{os.getpid()}.sum")
with open(path + ".tmp", "w") as f:
    f.write(f"{digest.hexdigest()} {size}\n")
os.rename(path + ".tmp", path)
