#!/bin/sh
# An --auth program: allows a request whose query string carries token=T
# when a line "T USER" is in the tokens file, and passes USER on as
# REMOTE_USER. Without a token it asks for one (401); with a wrong one it
# refuses (403). The tokens file is tokens.txt next to this script, or the
# one WSBRIDGE_TOKENS names (pass it with --passenv=PATH,WSBRIDGE_TOKENS).
#
#   wsbridge --port=8080 --auth=examples/auth/token_file.sh ./chat.sh
#   ws://localhost:8080/?token=s3cret
tokens="${WSBRIDGE_TOKENS:-$(dirname "$0")/tokens.txt}"
token=$(printf '%s\n' "$QUERY_STRING" | tr '&' '\n' | sed -n 's/^token=//p' | head -n 1)
if [ -z "$token" ]; then
  printf 'Status: 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="wsbridge"\r\n\r\nadd ?token=... to the URL\n'
  exit 1
fi
# Only plain token characters: nothing a pattern or the shell could read.
case "$token" in *[!A-Za-z0-9_-]*) exit 1 ;; esac
user=$(awk -v t="$token" '$1 == t { print $2; exit }' "$tokens" 2>/dev/null)
[ -n "$user" ] || exit 1
echo "REMOTE_USER=$user"
