#!/bin/sh
# A Net-SNMP "pass" script serving a fake ifTable and ifXTable from the
# state file beside it: one line per interface,
#   INDEX ADMIN OPER DESCR NAME
# SET of ifAdminStatus rewrites ADMIN and OPER; when the file "stuck"
# exists beside it, a SET is accepted but changes nothing (a port that
# does not follow, for read-back tests).
dir=$(dirname "$0")
state="$dir/iftable.state"
ift=.1.3.6.1.2.1.2.2.1
ifx=.1.3.6.1.2.1.31.1.1.1
list() {
	case "$1" in
	.1.3.6.1.2.1.31*)
		while read -r i a o d n; do echo "$ifx.1.$i string $n"; done < "$state" ;;
	*)
		while read -r i a o d n; do echo "$ift.1.$i integer $i"; done < "$state"
		while read -r i a o d n; do echo "$ift.2.$i string $d"; done < "$state"
		while read -r i a o d n; do echo "$ift.7.$i integer $a"; done < "$state"
		while read -r i a o d n; do echo "$ift.8.$i integer $o"; done < "$state" ;;
	esac
}
emit() { echo "$1"; echo "$2"; echo "$3"; }
case "$1" in
-g)
	list "$2" | while read -r oid type value; do
		if [ "$oid" = "$2" ]; then emit "$oid" "$type" "$value"; exit 0; fi
	done | grep . || echo NONE ;;
-n)
	# The next OID in numeric order: sort the known OIDs with the asked one.
	next=$( { list "$2" | cut -d' ' -f1; echo "$2 ASKED"; } | sort -t. -k2,2n -k3,3n -k4,4n -k5,5n -k6,6n -k7,7n -k8,8n -k9,9n -k10,10n -k11,11n -k12,12n -k13,13n -k14,14n \
		| sed -n '/ ASKED$/,$p' | sed -n '2p')
	if [ -z "$next" ]; then echo NONE; exit 0; fi
	list "$2" | while read -r oid type value; do
		if [ "$oid" = "$next" ]; then emit "$oid" "$type" "$value"; fi
	done ;;
-s)
	case "$2" in
	$ift.7.*) ;;
	*) echo not-writable; exit 0 ;;
	esac
	if [ "$3" != integer ]; then echo wrong-type; exit 0; fi
	case "$4" in 1|2) ;; *) echo wrong-value; exit 0 ;; esac
	[ -e "$dir/stuck" ] && exit 0
	idx=${2##*.}
	tmp="$state.tmp"
	while read -r i a o d n; do
		if [ "$i" = "$idx" ]; then echo "$i $4 $4 $d $n"; else echo "$i $a $o $d $n"; fi
	done < "$state" > "$tmp" && mv "$tmp" "$state" ;;
esac
