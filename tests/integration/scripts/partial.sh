#!/bin/sh
# A complete line, then an unterminated one, then exits.
printf 'line1\npartial'
