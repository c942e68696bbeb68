#!/bin/sh
# Prints N lines "line <i>" as fast as possible (default 5000), then exits.
seq -f 'line %g' 1 "${1:-5000}"
