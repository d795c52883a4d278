#!/usr/bin/env bash
# What holds stratad's event loop (and so every client): the daemon's own
# slow operations measured on a quiet host and under load. Root. Prints
# milliseconds per case.
#
#   bench/loopstall.sh [DIRTY_MB] [CLONE_MB]     (defaults 1500 and 1000)
#
# 1. `strata stop --fast` and `strata create`, each with DIRTY_MB of dirty
#    page cache on the filesystem of the private areas ($BENCH_DIR): an
#    overlay's unmount and a syncfs both write everyone's dirty pages first.
# 2. `strata list` while `strata clone` copies a container with CLONE_MB in
#    one file and 20000 empty files in its private layer.
# 3. `strata destroy` of that container (its files are removed off the loop).
# The dirty data is a file under $BENCH_DIR, removed (and synced) after each
# case. Session 5's figures: bench/README.md.
set -euo pipefail
DIRTY_MB=${1:-1500}
CLONE_MB=${2:-1000}
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || bench_die "must run as root"
trap 'rm -f "$BENCH_DIR/dirty.bin"; bench_daemon_stop' EXIT
bench_build
bench_daemon_start
$STRATA template build busybox >/dev/null

ms() { echo $(((${2/./} - ${1/./}) / 1000)); }
dirty() { dd if=/dev/zero of="$BENCH_DIR/dirty.bin" bs=1M count="$DIRTY_MB" 2>/dev/null; }
clean() { rm -f "$BENCH_DIR/dirty.bin"; sync; sleep 0.3; }
dirty_kb() { awk '/^Dirty:/ {print $2}' /proc/meminfo; }

declare -A R_STOP R_CREATE
printf '%-52s %10s %10s\n' case quiet "${DIRTY_MB}MB dirty"
$STRATA create 101 --ostemplate busybox >/dev/null
for load in quiet dirty; do
	clean
	$STRATA start 101 >/dev/null
	[ $load = quiet ] || dirty
	a=$EPOCHREALTIME
	$STRATA stop --fast 101 >/dev/null
	b=$EPOCHREALTIME
	R_STOP[$load]=$(ms "$a" "$b")
	clean
	[ $load = quiet ] || dirty
	a=$EPOCHREALTIME
	$STRATA create 102 --ostemplate busybox >/dev/null
	b=$EPOCHREALTIME
	R_CREATE[$load]=$(ms "$a" "$b")
	clean
	$STRATA destroy 102 >/dev/null
done
printf '%-52s %10s %10s\n' "strata stop --fast (ms)" "${R_STOP[quiet]}" "${R_STOP[dirty]}"
printf '%-52s %10s %10s\n' "strata create (ms)" "${R_CREATE[quiet]}" "${R_CREATE[dirty]}"

priv=$BENCH_DIR/private/101/upper
dd if=/dev/urandom of="$priv/big" bs=1M count="$CLONE_MB" 2>/dev/null
mkdir "$priv/many"
(cd "$priv/many" && seq 20000 | xargs touch)
sync
$STRATA clone 101 103 >/dev/null &
clone_pid=$!
sleep 0.5
a=$EPOCHREALTIME
$STRATA list -a >/dev/null
b=$EPOCHREALTIME
still=running
kill -0 $clone_pid 2>/dev/null || still=done
wait $clone_pid
printf '%-52s %10s %10s\n' "strata list during a clone of ${CLONE_MB}MB (ms)" "$(ms "$a" "$b")" "(clone $still)"
a=$EPOCHREALTIME
$STRATA destroy 103 >/dev/null
b=$EPOCHREALTIME
printf '%-52s %10s\n' "strata destroy of ${CLONE_MB}MB + 20000 files (ms)" "$(ms "$a" "$b")"
$STRATA destroy 101 >/dev/null
