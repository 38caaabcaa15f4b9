#!/bin/sh
# Fails with exit code 3, saying why on stderr.
echo "starting"
echo "error: disk full" >&2
exit 3
