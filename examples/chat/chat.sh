#!/bin/sh
# A chat room for `wsbridge --broadcast`: one copy of this script runs per
# room, every client's message arrives here as a line, and every line
# printed goes to every client of the room.
#
#   wsbridge --port=8080 --broadcast --dir=examples/chat
#   ws://localhost:8080/chat.sh/lobby and ws://localhost:8080/chat.sh/games
#   are two rooms.
echo "welcome to ${ROOM:-a room}"
while IFS= read -r line; do
  # Time-stamped, and cut to one line of at most 500 bytes.
  printf '%s %.500s\n' "$(date -u +%H:%M:%S)" "$line"
done
