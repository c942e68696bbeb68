#!/usr/bin/python3
"""Counts from 1 to 10, one number a second; each line is one WebSocket message.

Try: wsbridge --port=8080 examples/python/count.py

flush=True matters: when stdout is a pipe Python buffers it in blocks, and
the client would see all ten numbers at once, at the end.
"""
import time

for count in range(1, 11):
    print(count, flush=True)
    time.sleep(1)
