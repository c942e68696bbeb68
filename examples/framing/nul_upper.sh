#!/bin/bash
# --framing=nul in shell: every message arrives ending with a NUL byte, so a
# message may hold newlines. Each one comes back upper-cased, NUL-ended, as
# one message, however many lines it has.
#   wsbridge --port=8080 --framing=nul examples/framing/nul_upper.sh
while IFS= read -r -d '' message; do
  printf '%s\0' "${message^^}"
done
