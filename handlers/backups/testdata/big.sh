#!/bin/sh
# Prints about 50 MB, then a last line.
head -c 52428800 /dev/zero | tr '\0' 'x'
echo
echo "END OF OUTPUT"
