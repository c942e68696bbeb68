#!/bin/sh
# A live feed: one line of vmstat (memory, swap, I/O, CPU) a second, for as
# long as the client stays. Try: wsbridge --port=8080 examples/vmstat.sh
# -n prints the column headers once; vmstat flushes each line itself.
exec vmstat -n 1
