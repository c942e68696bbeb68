#!/bin/sh
# Streams a growing log file: its last 10 lines, then each new line as it is
# written, across rotation (-F reopens the file when it is replaced).
# Try: wsbridge --port=8080 examples/tail.sh
# The file is /var/log/syslog unless TAIL_FILE names another:
#   TAIL_FILE=/var/log/nginx/access.log wsbridge --passenv=PATH,TAIL_FILE --port=8080 examples/tail.sh
exec tail -n 10 -F "${TAIL_FILE:-/var/log/syslog}"
