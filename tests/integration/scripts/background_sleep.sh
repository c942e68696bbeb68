#!/bin/sh
# Leaves a grandchild (sleep 30) running in the background, says "started",
# and exits after one line of input or at end of input: the sleep is then an
# orphan, re-parented to PID 1 (tests/integration/test_pid1.py).
sleep 30 &
echo started
read line
