#!/usr/bin/env bash
# Routed container networking: Strata (runtime/net.c over rtnetlink) against
# the same steps as an `ip`-based setup script, and TCP throughput
# container <-> container and host <-> container against host loopback.
#
#   bench/net.sh [N]          (root; N setups each way, default 100)
#
# Everything lives in network namespaces named stnl-b* created here and
# removed on exit; the host's own interfaces, routes and sysctls are not
# touched.
set -euo pipefail

N=${1:-100}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench-net}
HNS=stnl-bh          # plays the host
LNS=stnl-bl          # a LAN neighbour (the neighbour device's far end)
CNS=stnl-bc          # one container per iteration
C1=stnl-bc1 C2=stnl-bc2

[ "$(id -u)" = 0 ] || { echo "net.sh: must run as root" >&2; exit 1; }
for t in ip iperf3 awk; do
	command -v $t >/dev/null || { echo "net.sh: $t missing" >&2; exit 1; }
done

calc() { awk "BEGIN { printf $1 }"; }

cleanup() {
	for ns in $HNS $LNS $CNS $C1 $C2; do
		ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
		ip netns del $ns 2>/dev/null || true
	done
}
trap cleanup EXIT
cleanup

# An optimised, unsanitised build of the bench binary.
if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" --buildtype=release -Db_sanitize=none >/dev/null
fi
ninja -C "$BUILD" tests/integration/net_bench >/dev/null
BENCH=$BUILD/tests/integration/net_bench


# --- setup time: Strata -----------------------------------------------------
strata_out=$("$BENCH" loop "$N")
echo "$strata_out"
strata_med=$(awk '/^strata_setup_ms/ { sub("median=", "", $2); print $2 }' <<<"$strata_out")

# --- setup time: the same steps with ip(8) -------------------------------------
ip netns add $HNS
ip netns add $LNS
ip -n $HNS link set lo up
ip -n $HNS link add stnlbl0 type veth peer name stnlbl1 netns $LNS
ip -n $HNS link set stnlbl0 up

# What a vzctl-style script does in the host namespace, step by step.
setup_script='
ip link add stnlbv101 type veth peer name eth0 netns stnl-bc
echo 1 > /proc/sys/net/ipv4/conf/stnlbv101/proxy_arp
echo 0 > /proc/sys/net/ipv4/neigh/stnlbv101/proxy_delay
echo 1 > /proc/sys/net/ipv4/ip_forward
echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
ip link set stnlbv101 up
ip addr add fe80::1/64 dev stnlbv101 nodad
ip -n stnl-bc link set lo up
ip -n stnl-bc link set eth0 up
ip -n stnl-bc addr add 10.213.1.50/32 dev eth0
ip -n stnl-bc addr add fd00:213::50/128 dev eth0 nodad
ip -n stnl-bc route add default dev eth0
ip -n stnl-bc -6 route add default via fe80::1 dev eth0
ip route add 10.213.1.50/32 dev stnlbv101
ip -6 route add fd00:213::50/128 dev stnlbv101
echo 1 > /proc/sys/net/ipv6/conf/stnlbl0/proxy_ndp
ip neigh replace proxy 10.213.1.50 dev stnlbl0
ip -6 neigh replace proxy fd00:213::50 dev stnlbl0
'
teardown_script='
ip neigh del proxy 10.213.1.50 dev stnlbl0
ip -6 neigh del proxy fd00:213::50 dev stnlbl0
ip link del stnlbv101
'
ip_times=()
ip_down=()
for ((i = 0; i < N; i++)); do
	ip netns add $CNS
	t=$(ip netns exec $HNS bash -c "s=\$(date +%s%N); $setup_script e=\$(date +%s%N); echo \$(((e - s) / 1000))")
	ip_times+=("$t")
	t=$(ip netns exec $HNS bash -c "s=\$(date +%s%N); $teardown_script e=\$(date +%s%N); echo \$(((e - s) / 1000))")
	ip_down+=("$t")
	ip netns del $CNS
done
ip_med=$(printf '%s\n' "${ip_times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int(NR / 2) + 1] / 1000 }')
echo "ip_script_setup_ms median=$ip_med n=$N"
echo "ip_script_teardown_ms median=$(printf '%s\n' "${ip_down[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int(NR / 2) + 1] / 1000 }') n=$N"
echo "setup ratio ip/strata = $(calc "\"%.1fx\", $ip_med / $strata_med")"

# --- throughput ------------------------------------------------------------------
ip netns add $C1
ip netns add $C2
"$BENCH" setup /run/netns/$HNS /run/netns/$C1 stnlbv1 10.213.1.50 fd00:213::50 -- stnlbl0
"$BENCH" setup /run/netns/$HNS /run/netns/$C2 stnlbv2 10.213.1.51 fd00:213::51 -- stnlbl0
ip -n $HNS addr add 10.213.1.1/24 dev stnlbl0

mbps() { # netns-of-client server-addr: receiver's Mbit/s
	ip netns exec "$1" iperf3 -f m -t 3 -c "$2" |
		awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") print $i }'
}
ip netns exec $HNS iperf3 -s -D -1 >/dev/null; sleep 0.3
lo=$(mbps $HNS 127.0.0.1)
ip netns exec $C1 iperf3 -s -D -1 >/dev/null; sleep 0.3
h2c=$(mbps $HNS 10.213.1.50)
ip netns exec $C1 iperf3 -s -D -1 >/dev/null; sleep 0.3
c2c=$(mbps $C2 10.213.1.50)
echo "tcp_mbit loopback=$lo host->ct=$h2c ct->ct=$c2c"
echo "throughput ratio host->ct/loopback = $(calc "\"%.2f\", $h2c / $lo"), ct->ct/loopback = $(calc "\"%.2f\", $c2c / $lo")"
# RATE: 50 Mbit/s on the host end shapes host -> container.
"$BENCH" rate /run/netns/$HNS stnlbv1 50000000
ip netns exec $C1 iperf3 -s -D -1 >/dev/null; sleep 0.3
shaped=$(mbps $HNS 10.213.1.50)
echo "rate 50 Mbit/s: iperf3 measured $shaped Mbit/s ($(calc "\"%+.1f%%\", ($shaped / 50 - 1) * 100"))"
"$BENCH" rate /run/netns/$HNS stnlbv1 0

"$BENCH" teardown /run/netns/$HNS stnlbv1 10.213.1.50 fd00:213::50 -- stnlbl0
"$BENCH" teardown /run/netns/$HNS stnlbv2 10.213.1.51 fd00:213::51 -- stnlbl0
