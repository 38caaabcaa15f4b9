#!/bin/sh
# Records each run: the log file first, then the arguments it was given.
log=$1
shift
echo "$*" >> "$log"
