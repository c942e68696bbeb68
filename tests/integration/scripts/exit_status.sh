#!/bin/sh
# Reports its pid, then exits with status 7.
echo "$$"
exit 7
