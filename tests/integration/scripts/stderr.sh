#!/bin/sh
# Writes a line to stderr and one to stdout, then echoes stdin.
echo "to-stderr-line" >&2
echo "to-stdout-line"
exec cat
