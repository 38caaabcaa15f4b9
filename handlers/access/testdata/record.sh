#!/bin/sh
# record.sh DIR: a grant/revoke command for tests. It writes its whole
# environment (NUL-separated, so values may hold newlines) to
# DIR/ACTION-ID-ATTEMPT.env, appends "ACTION ID" to DIR/runs, and fails while
# DIR/fail-ACTION exists.
dir=$1
echo "$OPSBOT_ACTION $OPSBOT_REQUEST_ID" >> "$dir/runs"
env -0 > "$dir/$OPSBOT_ACTION-$OPSBOT_REQUEST_ID-$OPSBOT_ATTEMPT.env"
if [ -e "$dir/fail-$OPSBOT_ACTION" ]; then
	echo "simulated $OPSBOT_ACTION failure" >&2
	exit 3
fi
exit 0
