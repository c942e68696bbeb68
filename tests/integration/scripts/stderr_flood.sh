#!/bin/sh
# One 200 KB line on stderr (more than a pipe holds), then "done" on stdout.
head -c 204800 /dev/zero | tr '\0' 'e' >&2
echo >&2
echo done
exec cat
