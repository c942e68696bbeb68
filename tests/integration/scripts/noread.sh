#!/bin/sh
# Reports its pid, never reads stdin, stays alive (stdout open) for 300 s.
echo "$$"
exec sleep 300
