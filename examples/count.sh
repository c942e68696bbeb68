#!/bin/sh
# Counts from 1 to 10, one number a second: each line becomes a WebSocket
# message. Try: wsbridge --port=8080 examples/count.sh
for count in 1 2 3 4 5 6 7 8 9 10; do
  echo "$count"
  sleep 1
done
