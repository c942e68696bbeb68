#!/bin/sh
# Prints its argument count, then each argument on its own line.
echo "argc=$#"
for a in "$@"; do printf '%s\n' "$a"; done
exec cat
