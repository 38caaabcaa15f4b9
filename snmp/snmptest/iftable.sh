#!/bin/sh
# A Net-SNMP "pass_persist" script serving a fake ifTable and ifXTable from
# the state file beside it: one line per interface, in ifIndex order,
#   INDEX ADMIN OPER DESCR NAME
# A SET of ifAdminStatus rewrites ADMIN and OPER; when the file "stuck"
# exists beside it, a SET is accepted but changes nothing (a port that does
# not follow, for read-back tests). One process answers every request in
# turn, without forking, so snmpd never waits on it.
dir=$(dirname "$0")
state="$dir/iftable.state"
ift=.1.3.6.1.2.1.2.2.1
ifx=.1.3.6.1.2.1.31.1.1.1

# gt: is OID $1 after OID $2 in numeric order?
gt() {
	ga=${1#.} gb=${2#.}
	while :; do
		[ -z "$gb" ] && { [ -n "$ga" ]; return; }
		[ -z "$ga" ] && return 1
		gx=${ga%%.*} gy=${gb%%.*}
		[ "$gx" -gt "$gy" ] && return 0
		[ "$gx" -lt "$gy" ] && return 1
		case $ga in *.*) ga=${ga#*.} ;; *) ga= ;; esac
		case $gb in *.*) gb=${gb#*.} ;; *) gb= ;; esac
	done
}

# find OID MODE answers the variable at OID (MODE get) or the first one
# after it (MODE next), in the table OID belongs to.
find() {
	case "$1" in
	.1.3.6.1.2.1.31*) table=$ifx cols=1 ;;
	*) table=$ift cols="1 2 7 8" ;;
	esac
	for col in $cols; do
		while read -r i a o d n; do
			oid=$table.$col.$i
			if [ "$2" = get ] && [ "$oid" != "$1" ]; then continue; fi
			if [ "$2" = next ] && ! gt "$oid" "$1"; then continue; fi
			case "$table.$col" in
			$ift.1) printf '%s\ninteger\n%s\n' "$oid" "$i" ;;
			$ift.2) printf '%s\nstring\n%s\n' "$oid" "$d" ;;
			$ift.7) printf '%s\ninteger\n%s\n' "$oid" "$a" ;;
			$ift.8) printf '%s\ninteger\n%s\n' "$oid" "$o" ;;
			*) printf '%s\nstring\n%s\n' "$oid" "$n" ;;
			esac
			return
		done < "$state"
	done
	echo NONE
}

set_() {
	case "$1" in
	$ift.7.*) ;;
	*) echo not-writable; return ;;
	esac
	if [ "$2" != integer ]; then echo wrong-type; return; fi
	case "$3" in 1|2) ;; *) echo wrong-value; return ;; esac
	if [ ! -e "$dir/stuck" ]; then
		idx=${1##*.}
		while read -r i a o d n; do
			if [ "$i" = "$idx" ]; then echo "$i $3 $3 $d $n"; else echo "$i $a $o $d $n"; fi
		done < "$state" > "$state.tmp"
		mv "$state.tmp" "$state"
	fi
	echo DONE
}

while read -r cmd; do
	case "$cmd" in
	PING) echo PONG ;;
	get) read -r oid; find "$oid" get ;;
	getnext) read -r oid; find "$oid" next ;;
	set) read -r oid; read -r type value; set_ "$oid" "$type" "$value" ;;
	"") ;; # snmpd ends a set with an empty line
	*) exit 0 ;;
	esac
done
