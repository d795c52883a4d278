#!/usr/bin/env bash
# Resource management costs and MEMORY_MERGE savings (issue 5's figures).
# Root; a private stratad (lib.sh) with its own cgroup subtree; hyperfine.
#
#   bench/resources.sh [RUNS] [N_STAT] [N_MEM]     (defaults 20, 500, 100)
#
# 1. limits at start: `strata start` of a container without limits against
#    one with a typical set (--ram --swap --memguarantee --cpuunits --cpulimit
#    --cpus --numproc --ioprio --iolimit --iopslimit), each followed by a
#    fast stop in hyperfine's --prepare; the difference of the medians is
#    what applying the limits costs.
# 2. accounting over N_STAT running containers: one `strata list` with every
#    accounting field, then `strata stat` of each container in turn.
# 3. memory per idle container, N_MEM containers each running the same
#    program (testinit memhog 8: 8 MiB of the same content in each), with
#    MEMORY_MERGE off and on: MemAvailable before and after, divided by N.
#    ksmd's knobs are saved and restored; pages_to_scan is raised while
#    measuring so the merge settles in seconds.
#
# Kernel objects: BENCH_DIR /tmp/stres-bench, cgroup subtree stres-bench,
# containers with NETWORK_MODE=none (no netdevs).
set -euo pipefail
RUNS=${1:-20}
N_STAT=${2:-500}
N_MEM=${3:-100}
BENCH_ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$BENCH_ROOT/build-res-bench}
BENCH_DIR=${BENCH_DIR:-/tmp/stres-bench}
BENCH_SUBTREE=${BENCH_SUBTREE:-stres-bench}
TESTINIT=${TESTINIT:-$BENCH_ROOT/build-res/tests/helpers/testinit}
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || bench_die "must run as root"
command -v hyperfine >/dev/null || bench_die "hyperfine missing (run scripts/deps.sh)"
command -v mksquashfs >/dev/null || bench_die "mksquashfs missing (squashfs-tools)"
[ -x "$TESTINIT" ] || bench_die "no static testinit at $TESTINIT (ninja -C build-res tests/helpers/testinit)"

KSM=/sys/kernel/mm/ksm
ksm_saved=
cleanup() {
	bench_daemon_stop
	if [ -n "$ksm_saved" ]; then
		read -r run pts sleep <<<"$ksm_saved"
		echo "$pts" >$KSM/pages_to_scan
		echo "$sleep" >$KSM/sleep_millisecs
		echo "$run" >$KSM/run
	fi
}
trap cleanup EXIT
[ -w $KSM/run ] && ksm_saved="$(cat $KSM/run) $(cat $KSM/pages_to_scan) $(cat $KSM/sleep_millisecs)"

bench_build
bench_daemon_start
# no network devices for these containers: restart with NETWORK_MODE=none
kill "$(cat "$BENCH_DIR/stratad.pid")"
for _ in $(seq 50); do [ -S "$BENCH_DIR/run/strata.sock" ] || break; sleep 0.1; done
echo "NETWORK_MODE=none" >>"$BENCH_DIR/strata.conf"
"$STRATAD" --config "$BENCH_DIR/strata.conf" --daemon --pidfile "$BENCH_DIR/stratad.pid" ||
	bench_die "stratad did not start again (see $BENCH_DIR/stratad.log)"
for _ in $(seq 50); do $STRATA template list >/dev/null 2>&1 && break; sleep 0.1; done

# the template: busybox and the static test init
root=$BENCH_DIR/rootfs
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,run,root}
cp /bin/busybox "$root/bin/busybox"
for a in sh sleep cat; do ln -sf busybox "$root/bin/$a"; done
cp "$TESTINIT" "$root/bin/testinit"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
mksquashfs "$root" "$BENCH_DIR/res.sqfs" -noappend -quiet -all-root >/dev/null
$STRATA template import res "$BENCH_DIR/res.sqfs" >/dev/null

ct() { echo $((950000 + $1)); } # CTIDs of this benchmark: 950000 + i

# ---- 1. limits at start ----
$STRATA create "$(ct 0)" --ostemplate res >/dev/null
$STRATA create "$(ct 1)" --ostemplate res --ram 256M --swap 0 \
	--memguarantee 64M --cpuunits 2000 --cpulimit 150 --cpus 2 --numproc 200 \
	--ioprio 6 --iolimit 50M --iopslimit 2000 >/dev/null
echo "== start latency: no limits vs a typical limit set ($RUNS runs each)"
# running before each --prepare stops it: only the start is measured
$STRATA start "$(ct 0)" >/dev/null
$STRATA start "$(ct 1)" >/dev/null
bench_hyperfine start-limits -w 3 -r "$RUNS" \
	--prepare "$STRATA stop --fast $(ct 0)" "$STRATA start $(ct 0)" \
	--prepare "$STRATA stop --fast $(ct 1)" "$STRATA start $(ct 1)" 2>&1
$STRATA stop --fast "$(ct 0)" >/dev/null 2>&1 || true
$STRATA stop --fast "$(ct 1)" >/dev/null 2>&1 || true
awk -F, 'NR > 1 { m[NR] = $col_median } NR == 1 { for (i = 1; i <= NF; i++) if ($i == "median") col_median = i }
	END { printf "limits add %.2f ms to a start (median %.2f -> %.2f ms)\n",
	      (m[3] - m[2]) * 1000, m[2] * 1000, m[3] * 1000 }' "$BENCH_DIR/start-limits.csv"
$STRATA destroy "$(ct 0)" >/dev/null
$STRATA destroy "$(ct 1)" >/dev/null

# ---- 2. accounting over N_STAT running containers ----
echo "== accounting over $N_STAT running containers"
t0=$(date +%s.%N)
for i in $(seq 1 "$N_STAT"); do
	$STRATA create "$(ct "$i")" --ostemplate res --ram 128M >/dev/null
	$STRATA start "$(ct "$i")" >/dev/null
done
t1=$(date +%s.%N)
echo "created and started $N_STAT containers in $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
fields=ctid,cpu,cpupct,mem,maxmem,failcnt,oomkills,swapused,iobytes,ioops,numproc,uptime
$STRATA list -H -o $fields >/dev/null # a first sample for every container
times=()
for _ in 1 2 3 4 5; do
	t0=$(date +%s%N)
	$STRATA list -H -o $fields >/dev/null
	times+=($((($(date +%s%N) - t0) / 1000)))
done
echo "strata list -o $fields over $N_STAT containers:" \
	"median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p | awk '{ printf "%.1f", $1 / 1000 }') ms (5 runs)"
sleep 0.2
t0=$(date +%s.%N)
for i in $(seq 1 "$N_STAT"); do $STRATA stat "$(ct "$i")" >/dev/null; done
t1=$(date +%s.%N)
awk "BEGIN { printf \"strata stat of each of %d containers: %.2f s in all, %.2f ms each\\n\",
	$N_STAT, $t1 - $t0, ($t1 - $t0) * 1000 / $N_STAT }"
for i in $(seq 1 "$N_STAT"); do
	$STRATA stop --fast "$(ct "$i")" >/dev/null
	$STRATA destroy "$(ct "$i")" >/dev/null
done

# ---- 3. memory per idle container, MEMORY_MERGE off and on ----
mem_avail_kb() { awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; }
settle() { sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null || true; sleep 1; }
mem_round() {
	local merge=$1 before after shared=0 sharing=0
	for i in $(seq 1 "$N_MEM"); do
		$STRATA create "$(ct "$i")" --ostemplate res --memory_merge "$merge" >/dev/null
	done
	settle
	before=$(mem_avail_kb)
	for i in $(seq 1 "$N_MEM"); do
		$STRATA start "$(ct "$i")" >/dev/null
		$STRATA exec "$(ct "$i")" '/bin/testinit memhog 8 >/dev/null 2>&1 &' >/dev/null
	done
	if [ "$merge" = yes ]; then
		# until ksmd stops finding new pages to merge (at most 60 s)
		local last=-1 now
		for _ in $(seq 60); do
			sleep 1
			now=$(cat $KSM/pages_sharing)
			[ "$now" = "$last" ] && [ "$now" != 0 ] && break
			last=$now
		done
		shared=$(cat $KSM/pages_shared)
		sharing=$(cat $KSM/pages_sharing)
	else
		sleep 2
	fi
	settle
	after=$(mem_avail_kb)
	charged=$($STRATA list -H -o mem | awk '{ s += $1 } END { printf "%d", s / 1024 }')
	echo "MEMORY_MERGE=$merge: $N_MEM containers each holding 8 MiB of the same data:"
	echo "  MemAvailable $(((before - after) / 1024)) MiB less, $(((before - after) / N_MEM)) KiB per container"
	echo "  charged to their cgroups: $((charged / 1024)) MiB, $((charged / N_MEM)) KiB per container"
	echo "  KSM pages_shared $shared, pages_sharing $sharing" \
		"($((sharing * 4 / 1024)) MiB saved)"
	$STRATA stat "$(ct 1)" | grep -E 'Memory|KSM' | sed 's/^/  stat of one: /'
	for i in $(seq 1 "$N_MEM"); do
		$STRATA stop --fast "$(ct "$i")" >/dev/null
		$STRATA destroy "$(ct "$i")" >/dev/null
	done
}
echo "== memory per idle container, $N_MEM containers"
if [ -n "$ksm_saved" ]; then
	echo 5000 >$KSM/pages_to_scan
	echo 20 >$KSM/sleep_millisecs
fi
mem_round no
[ -n "$ksm_saved" ] && mem_round yes || echo "no KSM here: MEMORY_MERGE=yes not measured"
