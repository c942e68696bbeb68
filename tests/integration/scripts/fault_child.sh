#!/bin/sh
# Chooses its misbehaviour from the URL path (PATH_INFO):
#   /segv   prints its pid and a last line, then really segfaults (python
#           dereferencing address 0, exec'd so the pid stays the same);
#   other   prints its pid, then echoes stdin.
echo "$$"
case "$PATH_INFO" in
  /segv)
    echo "last words"
    exec /usr/bin/python3 -c 'import ctypes; ctypes.string_at(0)'
    ;;
  *)
    exec cat
    ;;
esac
