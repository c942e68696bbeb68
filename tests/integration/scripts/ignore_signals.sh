#!/bin/sh
# Reports its pid, then ignores SIGINT/SIGTERM (and stdin EOF) for 300 s.
# Only SIGKILL ends it early. exec keeps the pid; sleep inherits SIG_IGN.
trap '' INT TERM HUP
echo "$$"
exec sleep 300
