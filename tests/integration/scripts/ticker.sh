#!/bin/sh
# Reports its pid, then prints "tick <n>" every 20 ms forever; never reads stdin.
echo "$$"
i=0
while :; do
  echo "tick $i"
  i=$((i + 1))
  sleep 0.02
done
