#!/bin/sh
# Prints 1..N (default 10), one per line, then exits.
n=${1:-10}
i=1
while [ "$i" -le "$n" ]; do
  echo "$i"
  i=$((i + 1))
done
