#!/usr/bin/python3
"""Answers each message (a name) with a greeting.

Try: wsbridge --port=8080 examples/python/greeter.py

Iterating over sys.stdin reads line by line as messages arrive; the loop ends
when wsbridge closes stdin because the client left.
"""
import sys

for line in sys.stdin:
    name = line.rstrip("\n")
    print(f"Hello, {name}!", flush=True)
