#!/bin/sh
# Prints how many arguments it got, then each on its own line.
echo "argc=$#"
for a in "$@"; do printf 'arg=[%s]\n' "$a"; done
