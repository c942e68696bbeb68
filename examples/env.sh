#!/bin/sh
# Prints the CGI-style environment a connection's process receives.
env | sort
