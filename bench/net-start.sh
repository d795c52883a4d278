#!/usr/bin/env bash
# What networking adds to `strata start` (issue 6's figure): paired hyperfine
# runs of the start of one container with NETWORK_MODE=none and one routed
# container with one IPv4 address (veth pair, addresses, routes, proxy ARP,
# forwarding; RATE off), through a private stratad. The ip(8)-script
# comparison of the same steps and the TCP throughput ratios are in
# bench/net.sh.
#
#   bench/net-start.sh [RUNS]       (root; default 50 runs each)
#
# The private daemon runs in a network namespace of its own (stnet-bh) that
# plays the host: the host's interfaces, routes and sysctls are not touched.
set -euo pipefail
RUNS=${1:-50}
export BENCH_DIR=${BENCH_DIR:-/tmp/stnet-bench}
export BENCH_SUBTREE=${BENCH_SUBTREE:-stnet-bench}
export BUILD=${BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build-bench-net2}
. "$(dirname "$0")/lib.sh"
HNS=stnet-bh

[ "$(id -u)" = 0 ] || bench_die "must run as root"
for t in hyperfine ip nsenter; do
	command -v $t >/dev/null || bench_die "$t missing (run scripts/deps.sh)"
done

cleanup() {
	bench_daemon_stop
	ip netns del $HNS 2>/dev/null || true
}
trap cleanup EXIT
ip netns del $HNS 2>/dev/null || true
ip netns add $HNS
ip -n $HNS link set lo up
# a LAN side for NEIGHBOUR_DEVS (proxy ARP entries), as on a real host
ip -n $HNS link add stnbl0 type veth peer name stnbl1
ip -n $HNS link set stnbl0 up
ip -n $HNS link set stnbl1 up
ip -n $HNS addr add 10.214.8.1/24 dev stnbl0   # the host's own address

bench_build
mkdir -p "$BENCH_DIR"
printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s %s "$@"\n' $HNS "$BUILD/runtime/stratad" \
	>"$BENCH_DIR/stratad-in-netns"
chmod +x "$BENCH_DIR/stratad-in-netns"
STRATAD=$BENCH_DIR/stratad-in-netns
bench_daemon_start
echo "NEIGHBOUR_DEVS=stnbl0" >>"$BENCH_DIR/strata.conf"
kill "$(cat "$BENCH_DIR/stratad.pid")"
sleep 0.3
bench_daemon_start
$STRATA template build busybox >/dev/null
$STRATA create 9601 --ostemplate busybox --netmode none >/dev/null
$STRATA create 9602 --ostemplate busybox --ipadd 10.214.9.2 >/dev/null
# one start each first: the template layer is mounted once, forwarding set once
$STRATA start 9601 >/dev/null && $STRATA stop --fast 9601 >/dev/null
$STRATA start 9602 >/dev/null && $STRATA stop --fast 9602 >/dev/null

for ct in 9601 9602; do
	printf '#!/bin/sh\n%s stop --fast %s >/dev/null 2>&1 || true\n' "$STRATA" $ct \
		>"$BENCH_DIR/stop$ct"
	chmod +x "$BENCH_DIR/stop$ct"
done
echo "== strata start: NETWORK_MODE=none vs routed with one IPv4 address =="
bench_hyperfine netstart -r "$RUNS" -w 3 \
	--prepare "$BENCH_DIR/stop9601" -n "start NETWORK_MODE=none" "$STRATA start 9601" \
	--prepare "$BENCH_DIR/stop9602" -n "start routed 10.214.9.2" "$STRATA start 9602"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{ med[NR] = $col["median"] * 1000 }
	END { printf "networking adds %.2f ms to strata start (medians)\n", med[3] - med[2] }' \
	"$BENCH_DIR/netstart.csv"
# The machine is shared and noisy: also interleave the two starts, one pair
# at a time, and take the median of the per-pair differences.
for ((i = 0; i < RUNS; i++)); do
	"$BENCH_DIR/stop9601"
	"$BENCH_DIR/stop9602"
	a=$(date +%s%N); $STRATA start 9601 >/dev/null; b=$(date +%s%N)
	$STRATA start 9602 >/dev/null; c=$(date +%s%N)
	echo "$(((b - a) / 1000)) $(((c - b) / 1000))"
done | awk '{ n[NR] = $1; r[NR] = $2; d[NR] = $2 - $1 }
	function med(v, k, i, j, t) { for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
		if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }; return v[int(k / 2) + 1] }
	END { k = NR; printf "interleaved, %d pairs: none median %.2f ms, routed median %.2f ms, " \
		"per-pair difference median %.2f ms\n", k, med(n, k) / 1000, med(r, k) / 1000,
		med(d, k) / 1000 }'
"$BENCH_DIR/stop9601"
# the routed container really is reachable from the "host"
$STRATA stop --fast 9602 >/dev/null 2>&1 || true
$STRATA start 9602 >/dev/null
ip netns exec $HNS ping -c 1 -W 2 10.214.9.2 >/dev/null 2>&1 ||
	ip netns exec $HNS busybox ping -c 1 -W 2 10.214.9.2 >/dev/null ||
	bench_die "routed container not reachable"
$STRATA stop --fast 9602 >/dev/null
