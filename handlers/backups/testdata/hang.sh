#!/bin/sh
# Starts a child that sleeps, writes "PARENT CHILD" pids to $1, and waits:
# stopping the run must take the child down with it.
sleep 1000 &
child=$!
echo "$$ $child" > "$1.tmp" && mv "$1.tmp" "$1"
echo "waiting"
wait
