#!/bin/bash
# idle_footprint.sh: memory and wakeups of an idle pgmigd, and of a bare
# libevent program linking the same libraries (bench/bare.c).
#
#   bench/idle_footprint.sh [-t SECONDS] PGMIGD BARE
#
# pgmigd runs twice, with a minimal configuration (control socket in a temp
# dir) that has no database (pgmigd-nodb), then one unreachable database
# with a daily job (pgmigd-1db), each under WATCHDOG_USEC=30000000 and
# NOTIFY_SOCKET pointing at a throwaway datagram socket this script listens
# on, so its watchdog timer is armed as under systemd.  After READY=1 and 2 s
# of settling, context switches (voluntary + nonvoluntary, summed over all
# threads) are read at the start and the end of a SECONDS window (default
# 60); memory is read from /proc/PID/smaps_rollup at the end.
#
# Prints one line per program:
#   NAME rss_kib=.. pss_kib=.. pss_anon_kib=.. ctxsw=.. window_s=..
#        wakeups_per_s=.. threads=.. notify_msgs=.. watchdog_pings=..
set -eu

WINDOW=60
while getopts t: opt; do
	case $opt in
	t) WINDOW=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS] PGMIGD BARE" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { echo "usage: $0 [-t SECONDS] PGMIGD BARE" >&2; exit 2; }
PGMIGD=$1
BARE=$2

TMP=$(mktemp -d /tmp/pgmig-idle.XXXXXX)
LISTENER=
TARGET=
cleanup() {
	[ -n "$TARGET" ] && kill "$TARGET" 2>/dev/null && wait "$TARGET" 2>/dev/null
	[ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null && wait "$LISTENER" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

cat > "$TMP/nodb.conf" <<EOF
daemon: {
  control_socket = "$TMP/control.sock";
  control_group = "";
  log_target = "stderr";
  log_level = "info";
};
EOF
cat > "$TMP/1db.conf" <<EOF
daemon: {
  control_socket = "$TMP/control.sock";
  control_group = "";
  log_target = "stderr";
  log_level = "info";
};
databases = (
  { name = "unreachable";
    conninfo = "host=$TMP/nopg port=5432 dbname=nope connect_timeout=2";
    jobs = (
      { name = "daily-health"; type = "health_check"; schedule = "@daily"; }
    );
  }
);
EOF

# ctxsw PID: voluntary + nonvoluntary context switches of all its threads
ctxsw() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
	    awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# rollup PID FIELD: a field of smaps_rollup, in KiB ("n/a" if absent)
rollup() {
	awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print "n/a" }' \
	    /proc/"$1"/smaps_rollup
}

# measure NAME COMMAND...: run it under the notify socket, report
measure() {
	local name=$1 sock log i t0 t1 c0 c1 ready rate msgs pings threads
	shift
	sock=$TMP/notify-$name.sock
	log=$TMP/notify-$name.log
	: > "$log"
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        m = s.recv(4096).decode("utf-8", "replace")
        f.write("%.3f %s\n" % (__import__("time").monotonic(), m.replace("\n", " ")))
        f.flush()
' "$sock" "$log" &
	LISTENER=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	[ -S "$sock" ] || { echo "idle_footprint: notify listener did not start" >&2; exit 1; }

	NOTIFY_SOCKET=$sock WATCHDOG_USEC=30000000 "$@" 2> "$TMP/$name.stderr" &
	TARGET=$!
	ready=
	for i in $(seq 100); do
		if grep -q 'READY=1' "$log"; then ready=1; break; fi
		kill -0 "$TARGET" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$ready" ]; then
		echo "idle_footprint: $name did not send READY=1" >&2
		cat "$TMP/$name.stderr" >&2
		exit 1
	fi
	sleep 2
	msgs=$(wc -l < "$log")
	pings=$(grep -c 'WATCHDOG=1' "$log" || true)
	c0=$(ctxsw "$TARGET")
	t0=$(date +%s.%N)
	sleep "$WINDOW"
	c1=$(ctxsw "$TARGET")
	t1=$(date +%s.%N)
	kill -0 "$TARGET" 2>/dev/null || { echo "idle_footprint: $name died" >&2; cat "$TMP/$name.stderr" >&2; exit 1; }
	threads=$(ls /proc/"$TARGET"/task | wc -l)
	rate=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.3f", (b - a) / (e - s) }')
	msgs=$(( $(wc -l < "$log") - msgs ))
	pings=$(( $(grep -c 'WATCHDOG=1' "$log" || true) - pings ))
	echo "$name rss_kib=$(rollup "$TARGET" Rss) pss_kib=$(rollup "$TARGET" Pss)" \
	    "pss_anon_kib=$(rollup "$TARGET" Pss_Anon) ctxsw=$((c1 - c0))" \
	    "window_s=$(awk -v s="$t0" -v e="$t1" 'BEGIN { printf "%.1f", e - s }')" \
	    "wakeups_per_s=$rate threads=$threads notify_msgs=$msgs watchdog_pings=$pings"
	kill "$TARGET"
	wait "$TARGET" 2>/dev/null || true
	TARGET=
	kill "$LISTENER"
	wait "$LISTENER" 2>/dev/null || true
	LISTENER=
}

measure pgmigd-nodb "$PGMIGD" -c "$TMP/nodb.conf"
measure pgmigd-1db "$PGMIGD" -c "$TMP/1db.conf"
measure bare "$BARE"
