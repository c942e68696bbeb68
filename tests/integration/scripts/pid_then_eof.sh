#!/bin/sh
# Reports its pid, waits for stdin EOF, then reports "eof" to a file named by $1.
echo "$$"
cat > /dev/null
echo eof > "$1"
