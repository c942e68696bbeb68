#!/bin/sh
# Reports its pid, then echoes stdin (so stdin EOF ends it).
echo "$$"
exec cat
