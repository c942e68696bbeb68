#!/bin/sh
# Leaves a grandchild that keeps stdin open without reading it (as a
# background job in a pipeline might), reports its pid, and exits at once.
sleep 300 <&0 >/dev/null 2>&1 &
echo "$!"
