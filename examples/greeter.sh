#!/bin/sh
# Reads a name per message and answers with a greeting.
while read -r name; do
  echo "Hello, $name!"
done
