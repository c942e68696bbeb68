#!/bin/sh
# Echo: every stdin line back on stdout.
exec cat
