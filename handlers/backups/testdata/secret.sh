#!/bin/sh
# Prints the secret from its environment, alone and inside other text.
echo "connecting with password $BACKUP_PASSWORD"
echo "$BACKUP_PASSWORD"
echo "token=${API_TOKEN}; user=$BACKUP_USER"
echo "home=$HOME"
env | sort
