#!/bin/sh
# Succeeds after printing a few lines.
echo "archiving /etc"
echo "wrote 42 files"
echo "done" >&2
exit 0
