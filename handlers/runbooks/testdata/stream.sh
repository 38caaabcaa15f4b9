#!/bin/sh
# Prints a line, waits for the test to write to the fifo $1, prints another,
# waits again, then ends.
echo "step one"
read -r x < "$1"
echo "step two"
read -r y < "$1"
echo "done"
