#!/bin/sh
# Line endings: CRLF, lone CR in the middle, empty line, trailing CR CR LF.
printf 'x\r\nmid\rdle\n\ny\r\r\nz\n'
exec cat
