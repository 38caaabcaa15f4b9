#!/bin/sh
# Ignores SIGTERM (its children inherit that), so only SIGKILL stops it.
trap '' TERM
sleep 1000 &
child=$!
echo "$$ $child" > "$1.tmp" && mv "$1.tmp" "$1"
while :; do wait; done
