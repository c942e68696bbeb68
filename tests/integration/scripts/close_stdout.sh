#!/bin/sh
# Reports its pid, closes stdout, then lives on (300 s) without reading stdin.
echo "$$"
exec >&-
exec sleep 300
