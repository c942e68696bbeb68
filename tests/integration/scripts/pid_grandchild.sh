#!/bin/sh
# Reports "<its pid> <grandchild pid>" and keeps a grandchild (sleep 300) in
# the background; then it waits for signals without reading stdin.
sleep 300 &
echo "$$ $!"
exec sleep 300
