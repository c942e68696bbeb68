#!/bin/bash
# --framing=length in shell: each message is a 4-byte big-endian length, then
# that many bytes, both ways; any byte may be in a message. Each one comes
# back with "echo: " in front. head -c reads no more than it is asked for,
# so the next message stays in the pipe.
#   wsbridge --port=8080 --framing=length examples/framing/length_echo.sh
body=$(mktemp) || exit 1
trap 'rm -f "$body"' EXIT
prefix() {  # the 4-byte big-endian form of $1
  printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))"
  printf "\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"
}
while bytes=$(head -c 4 | od -An -tu1) && [ -n "$bytes" ]; do
  set -- $bytes
  length=$(($1 << 24 | $2 << 16 | $3 << 8 | $4))
  head -c "$length" > "$body"
  { prefix $((length + 6)); printf 'echo: '; cat "$body"; }
done
