#!/bin/sh
# One line of ${1:-300000} 'L' characters, then "end", then echo stdin.
head -c "${1:-300000}" /dev/zero | tr '\0' 'L'
echo
echo end
exec cat
