#!/usr/bin/python3
"""Writes SIZE bytes generated from SEED in writes of random sizes, then
ends abruptly: "exit" calls _exit(0) with no clean-up, "kill" SIGKILLs
itself. MODE "text" writes lines of printable ASCII, "binary" any bytes.
Tests import generate() to know exactly what to expect.
Usage: emit_then_die.py SEED SIZE MODE ENDING"""
import os
import random
import signal
import sys

PRINTABLE = bytes(32 + i % 95 for i in range(256))


def generate(seed: int, size: int, mode: str) -> bytes:
    rng = random.Random(seed)
    if mode == "binary":
        return rng.randbytes(size)
    out = bytearray()
    while len(out) < size:
        out += rng.randbytes(rng.randrange(0, 3000)).translate(PRINTABLE) + b"\n"
    return bytes(out)


def main():
    seed, size, mode, ending = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    data = generate(seed, size, mode)
    chunks = random.Random(seed + 1)
    at = 0
    while at < len(data):
        at += os.write(1, data[at:at + chunks.randrange(1, 1 << 17)])
    if ending == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(0)


if __name__ == "__main__":
    main()
