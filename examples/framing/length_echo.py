#!/usr/bin/env python3
"""--framing=length in Python: each message is a 4-byte big-endian length,
then that many bytes, both ways (binary messages; any byte may be in one).
Each one comes back with b"echo: " in front.
    wsbridge --port=8080 --framing=length examples/framing/length_echo.py
"""
import sys


def read_exactly(size):
    data = sys.stdin.buffer.read(size)
    return data if len(data) == size else None


while (prefix := read_exactly(4)) is not None:
    message = read_exactly(int.from_bytes(prefix, "big"))
    if message is None:
        break  # the input ended mid-message
    reply = b"echo: " + message
    sys.stdout.buffer.write(len(reply).to_bytes(4, "big") + reply)
    sys.stdout.buffer.flush()
