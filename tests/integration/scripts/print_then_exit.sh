#!/bin/sh
# Prints each argument as a line, then exits with status $EXIT_STATUS (default 0).
for a in "$@"; do printf '%s\n' "$a"; done
exit "${EXIT_STATUS:-0}"
