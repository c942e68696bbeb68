#!/bin/sh
# Prints the environment it was given, sorted, one VAR=value per line.
env | LC_ALL=C sort
