#!/bin/sh
# A valid line, a line with invalid UTF-8 bytes, another valid line, then echo.
printf 'ok\n\377\376bad\nafter\n'
exec cat
