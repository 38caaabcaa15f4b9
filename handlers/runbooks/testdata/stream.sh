#!/bin/sh
# Prints a line, waits for a line written to the fifo $1, prints another,
# waits again, then ends. A read that meets the end of an earlier writer
# (no line) opens the fifo again.
echo "step one"
until read -r x < "$1"; do :; done
echo "step two"
until read -r y < "$1"; do :; done
echo "done"
