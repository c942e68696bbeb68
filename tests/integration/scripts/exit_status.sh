#!/bin/sh
# Prints one line and exits with status 7.
echo bye
exit 7
