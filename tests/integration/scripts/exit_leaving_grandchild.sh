#!/bin/sh
# Reports "<its pid> <grandchild pid>" and exits at once, leaving the
# grandchild (sleep 60) in the background holding its stdout: the program
# side of the connection lives on after its direct child is gone.
sleep 60 &
echo "$$ $!"
