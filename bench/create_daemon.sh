#!/usr/bin/env bash
# bench/create_daemon.sh — `strata create` through stratad, per container,
# paired with `lxc-copy -s -B overlayfs`; and the time to rebase 100 stopped
# containers onto a new template version.
#
#   sudo bench/create_daemon.sh [ROUNDS] [PER_ROUND]    (default 4 x 250 = 1000)
#   BUILD=build-dir    optimised build (default build-bench, made if missing)
#   CT0=N              first CTID (default 9700; CTIDs CT0 .. CT0+PER_ROUND-1)
#   PAIRS=1            alternate one strata create and one lxc-copy, timing
#                      each (bash's EPOCHREALTIME, no extra process): on a
#                      noisy host both see the same load; the ratio is of
#                      the round's sums (default: PER_ROUND of each in a row)
#
# A private stratad (bench/lib.sh) with its own dirs under $BENCH_DIR and
# cgroup subtree; CTIDs 9700-9999 (a round's containers are destroyed before
# the next round, so at most PER_ROUND <= 300 exist at once). Each round
# times PER_ROUND `strata create` processes in a row, then PER_ROUND
# `lxc-copy -s -B overlayfs` in a row: the pairs share the machine's state.
# Creates only: no container is started.
set -euo pipefail

ROUNDS=${1:-4}
PER=${2:-250}
CT0=${CT0:-9700}
[ "$PER" -le 300 ] || { echo "bench: PER_ROUND must be <= 300 (CTIDs CT0..CT0+299)" >&2; exit 1; }
BENCH_DIR=${BENCH_DIR:-/tmp/sttmpl-bench}
BENCH_SUBTREE=${BENCH_SUBTREE:-sttmpl-bench}
BENCH_CACHE=${BENCH_CACHE:-$BENCH_DIR/cache}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || bench_die "must run as root"
command -v lxc-copy >/dev/null || bench_die "lxc-copy missing (apt-get install lxc)"
export ASAN_OPTIONS=detect_leaks=0

bench_build
trap bench_daemon_stop EXIT
rm -rf "$BENCH_DIR"
bench_daemon_start
$STRATA template build busybox >/dev/null
# LXC's base container: the same busybox tree, its rootfs inside the lxcpath
# (lxc-copy -s -B overlayfs refuses a rootfs elsewhere)
LXCPATH=$BENCH_DIR/lxc
LXC_CT=sttmpl-base
mkdir -p "$LXCPATH/$LXC_CT"
unsquashfs -q -d "$LXCPATH/$LXC_CT/rootfs" "$BENCH_DIR/templates/busybox/1/image.sqfs" >/dev/null
cat >"$LXCPATH/$LXC_CT/config" <<CONF
lxc.uts.name = $LXC_CT
lxc.rootfs.path = dir:$LXCPATH/$LXC_CT/rootfs
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
CONF

ns() { date +%s%N; }
per_ms() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.3f", (b - a) / n / 1e6 }'; }

echo "bench: $ROUNDS rounds x $PER creates, kernel $(uname -r), build $BUILD"
printf "%-6s %14s %14s %8s\n" round "strata ms/ct" "lxc-copy ms/ct" ratio
: >"$BENCH_DIR/rounds"
for r in $(seq "$ROUNDS"); do
	if [ -n "${PAIRS:-}" ]; then
		us_s=0 us_l=0
		for i in $(seq 0 $((PER - 1))); do
			a=${EPOCHREALTIME/./}
			$STRATA -q create $((CT0 + i)) --ostemplate busybox >/dev/null
			b=${EPOCHREALTIME/./}
			lxc-copy -P "$LXCPATH" -n "$LXC_CT" -N "sttmpl-c$i" -s -B overlayfs >/dev/null
			c=${EPOCHREALTIME/./}
			us_s=$((us_s + b - a)) us_l=$((us_l + c - b))
		done
		s=$(per_ms 0 "$((us_s * 1000))" "$PER")
		l=$(per_ms 0 "$((us_l * 1000))" "$PER")
	else
		t0=$(ns)
		for i in $(seq 0 $((PER - 1))); do
			$STRATA -q create $((CT0 + i)) --ostemplate busybox >/dev/null
		done
		t1=$(ns)
		s=$(per_ms "$t0" "$t1" "$PER")
		t0=$(ns)
		for i in $(seq 0 $((PER - 1))); do
			lxc-copy -P "$LXCPATH" -n "$LXC_CT" -N "sttmpl-c$i" -s -B overlayfs >/dev/null
		done
		t1=$(ns)
		l=$(per_ms "$t0" "$t1" "$PER")
	fi
	printf "%-6s %14s %14s %8s\n" "$r" "$s" "$l" "$(awk -v a="$s" -v b="$l" 'BEGIN { printf "%.2f", a / b }')"
	echo "$s $l" >>"$BENCH_DIR/rounds"
	if [ "$r" -lt "$ROUNDS" ]; then
		for i in $(seq 0 $((PER - 1))); do $STRATA -q destroy $((CT0 + i)); done
	fi
	for i in $(seq 0 $((PER - 1))); do rm -rf "${LXCPATH:?}/sttmpl-c$i"; done
done
sort -n -k1 "$BENCH_DIR/rounds" | awk '{ s[NR] = $1 } END { printf "median strata create: %.3f ms\n", s[int((NR + 1) / 2)] }'
sort -n -k2 "$BENCH_DIR/rounds" | awk '{ l[NR] = $2 } END { printf "median lxc-copy -s:   %.3f ms\n", l[int((NR + 1) / 2)] }'
awk '{ print $1 / $2, $1, $2 }' "$BENCH_DIR/rounds" | sort -n | awk '{ r[NR] = $1 } END { printf "median ratio: %.2f (range %.2f-%.2f)\n", r[int((NR + 1) / 2)], r[1], r[NR] }'
priv_kb=$(du -sk "$BENCH_DIR/private/$CT0" | awk '{ print $1 }')
echo "disk of a fresh private area: ${priv_kb} KiB (du -sk)"

# Rebase: 100 stopped containers (of the last round) onto busybox@2.
for i in $(seq 100 $((PER - 1))); do $STRATA -q destroy $((CT0 + i)); done
$STRATA template export busybox@1 "$BENCH_DIR/v1.sqfs" >/dev/null
$STRATA template import busybox "$BENCH_DIR/v1.sqfs" >/dev/null
t0=$(ns)
$STRATA -q rebase --all --ostemplate busybox@2
t1=$(ns)
n=$($STRATA list -a -H -o ostemplate | grep -c 'busybox@2' || true)
echo "rebase --all of $n stopped containers: $(per_ms "$t0" "$t1" 1) ms total," \
	"$(per_ms "$t0" "$t1" "$n") ms each"
