#!/bin/sh
# The room program of the fan-out benchmark: waits for one line from each of
# CLIENTS clients (each sends one when it has joined), then prints LINES
# JSON-like lines as fast as it can and exits.
#   fanout_program.sh CLIENTS LINES
clients=$1 lines=$2
n=0
while [ "$n" -lt "$clients" ] && read -r _; do n=$((n + 1)); done
exec awk -v lines="$lines" 'BEGIN { for (i = 1; i <= lines; i++) printf "{\"seq\":%d,\"room\":\"bench\",\"text\":\"hello everyone\"}\n", i }'
