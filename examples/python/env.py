#!/usr/bin/python3
"""Prints the CGI-style environment this connection's process received, sorted,
one VAR=value per message, then exits (the client sees close 1000).

Try: wsbridge --port=8080 examples/python/env.py
     then connect to ws://127.0.0.1:8080/some/path?x=1
"""
import os

for name in sorted(os.environ):
    print(f"{name}={os.environ[name]}")
