#!/usr/bin/env python3
"""--framing=nul in Python: messages end with a NUL byte both ways, so a
message may hold newlines. Each one comes back upper-cased as one message.
    wsbridge --port=8080 --framing=nul examples/framing/nul_upper.py
"""
import sys

pending = b""
while chunk := sys.stdin.buffer.read1(65536):
    pending += chunk
    *messages, pending = pending.split(b"\0")
    for message in messages:
        sys.stdout.buffer.write(message.decode("utf-8").upper().encode("utf-8") + b"\0")
    sys.stdout.buffer.flush()
