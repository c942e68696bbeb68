#!/bin/sh
# A chat room on a shared file: every client appends what it says to one
# file and follows that file, so each message reaches everyone in the room.
# Try: wsbridge --port=8080 examples/chat.sh
# The file is /tmp/wsbridge-chat.txt; to choose another, export CHAT_FILE and
# pass it through: CHAT_FILE=/srv/room.txt wsbridge --passenv=PATH,CHAT_FILE ...
room=${CHAT_FILE:-/tmp/wsbridge-chat.txt}

echo "Welcome! What is your name?"
read -r name || exit 0
[ -n "$name" ] || name="guest-$REMOTE_PORT"

# Follow the room from its current end: anything appended after this point,
# including our own "joined" line below, reaches this client. Taking the size
# first (rather than tail -n 0) means we cannot miss a line written while tail
# is starting up.
touch "$room" || exit 1
size=$(wc -c < "$room")
tail -c +$((size + 1)) -F "$room" 2>/dev/null &
follower=$!
trap 'kill "$follower" 2>/dev/null' EXIT

# Lines shorter than PIPE_BUF appended with O_APPEND (>>) never interleave,
# however many clients write at once.
echo "* $name joined" >> "$room"
while read -r line; do
  printf '%s: %s\n' "$name" "$line" >> "$room"
done
echo "* $name left" >> "$room"
