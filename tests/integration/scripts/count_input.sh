#!/usr/bin/python3
# Counts stdin lines and bytes; on EOF prints "lines=<n> bytes=<m>".
import sys
n = b = 0
for line in sys.stdin.buffer:
    n += 1
    b += len(line)
sys.stdout.write(f"lines={n} bytes={b}\n")
