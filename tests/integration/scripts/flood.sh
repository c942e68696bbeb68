#!/bin/sh
# Writes N MiB (default 10) of 'a' as 1000-char lines (last line terminated).
n=${1:-10}
head -c $((n * 1048576)) /dev/zero | tr '\0' 'a' | fold -w 1000
echo
