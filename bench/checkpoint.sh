#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/checkpoint.sh [BUILDDIR]: suspend/resume figures (root).
#
# For 0, 256 MiB and 1 GiB of touched memory (MIBS to change), ITER cycles
# each (default 5), medians:
#   strata   runtime/checkpoint.c through ckpt_bench (a container shaped like
#            the integration tests': overlay root, cgroups, pid/mnt/uts/ipc/
#            net/cgroup namespaces, veth, seccomp)
#   runc     runc checkpoint / restore -d of an OCI bundle running the same
#            guest (CRIU wrapper first in PATH)
#   bare     criu dump / restore -d of the guest as a plain process tree
# plus this machine's memcpy bandwidth and disk-write bandwidth (dd to the
# image directory's filesystem, with and without conv=fdatasync).
#
# BUILDDIR (default build-criu-bench) holds tests/integration/ckpt_bench and
# ckpt_guest; build them without sanitizers for figures:
#   meson setup build-criu-bench --buildtype=release
#   ninja -C build-criu-bench tests/integration/ckpt_bench tests/integration/ckpt_guest
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-build-criu-bench}
case $B in /*) ;; *) B=$TOP/$B ;; esac
BENCH=$B/tests/integration/ckpt_bench
GUEST=$B/tests/integration/ckpt_guest
CRIU=${CRIU_PATH:-/opt/strata/bin/criu}
ITER=${ITER:-5}
MIBS=${MIBS:-"0 256 1024"}
WORK=$(mktemp -d /tmp/stcriu-bench-sh-XXXXXX)
CG=stcriu-test-$$
RUNC_ID=stcriu-9391
BARE_PID=

[ "$(id -u)" = 0 ] || { echo "checkpoint.sh: needs root" >&2; exit 1; }
for f in "$BENCH" "$GUEST" "$CRIU"; do
	[ -x "$f" ] || { echo "checkpoint.sh: missing $f" >&2; exit 1; }
done

cleanup() {
	# the guest's whole session (setsid): its worker outlives a kill of the leader
	[ -n "$BARE_PID" ] && pkill -9 -s "$BARE_PID" 2>/dev/null || true
	runc --root "$WORK/runc-state" kill "$RUNC_ID" KILL >/dev/null 2>&1 || true
	sleep 0.2
	runc --root "$WORK/runc-state" delete -f "$RUNC_ID" >/dev/null 2>&1 || true
	for d in /sys/fs/cgroup/*/"$CG"; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ms() { date +%s%N; }
median() { sort -n | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) printf "%.0f", v[(NR+1)/2]; else printf "%.0f", (v[NR/2]+v[NR/2+1])/2}'; }
wait_file() { i=0; while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; [ -e "$1" ]; }

echo "# machine: $(nproc) CPUs, $(free -m | awk '/Mem:/ {print $2}') MiB, load $(cut -d' ' -f1-3 /proc/loadavg), $($CRIU --version | head -1)"

# ---- physical limits ----
MEMCPY=$("$BENCH" memcpy 1024 | sed -n 's/RESULT memcpy_gibs=//p')
dd_rate() { # dd's "N bytes ... copied, S s, R unit/s" -> MiB/s
	dd if=/dev/zero of="$WORK/dd" bs=1M count=1024 "$@" 2>&1 | tail -1 |
		awk -F', ' '{split($3, s, " "); printf "%.0f", 1024 / s[1]}'
	rm -f "$WORK/dd"
}
DISK_SYNC=$(dd_rate conv=fdatasync)
DISK_CACHE=$(dd_rate)
echo "memcpy ${MEMCPY} GiB/s; write to $(df --output=fstype "$WORK" | tail -1) ($(df --output=target "$WORK" | tail -1)): ${DISK_SYNC} MiB/s with fdatasync, ${DISK_CACHE} MiB/s page cache"

# ---- strata ----
for mib in $MIBS; do
	"$BENCH" ct "$mib" "$ITER" "$GUEST" >"$WORK/strata-$mib.log" 2>&1 ||
		{ cat "$WORK/strata-$mib.log" >&2; exit 1; }
	grep RESULT "$WORK/strata-$mib.log" | sed 's/^RESULT/strata/'
done

# ---- bare CRIU on a plain process tree ----
for mib in $MIBS; do
	d=$WORK/bare-$mib
	mkdir -p "$d/run" "$d/img"
	setsid "$GUEST" "$mib" 0 "$d/run" </dev/null >/dev/null 2>&1 &
	BARE_PID=$!
	wait_file "$d/run/mem.expected"
	: >"$d/dump"
	: >"$d/rest"
	for i in $(seq "$ITER"); do
		sleep 0.3
		rm -rf "$d/img"
		mkdir "$d/img"
		t0=$(ms)
		"$CRIU" dump -t "$BARE_PID" -D "$d/img" -o dump.log
		t1=$(ms)
		wait "$BARE_PID" 2>/dev/null || true # the first time it is our child
		# the killed workers are zombies of PID 1 for a moment and keep
		# the session id (= the pid CRIU restores) in use
		n=0
		while ps -e -o sid= | grep -qw "$BARE_PID" && [ $n -lt 500 ]; do
			sleep 0.01
			n=$((n + 1))
		done
		t1b=$(ms)
		"$CRIU" restore -d -D "$d/img" -o restore.log
		t2=$(ms)
		echo $(((t1 - t0) / 1000000)) >>"$d/dump"
		echo $(((t2 - t1b) / 1000000)) >>"$d/rest"
	done
	img=$(du -sm "$d/img" | cut -f1)
	pkill -9 -s "$BARE_PID" 2>/dev/null || true
	BARE_PID=
	echo "bare mib=$mib iter=$ITER dump_ms=$(median <"$d/dump") restore_ms=$(median <"$d/rest") image_mib=$img"
done

# ---- runc ----
if command -v runc >/dev/null 2>&1; then
	for mib in $MIBS; do
		bundle=$WORK/runc-$mib
		mkdir -p "$bundle/rootfs/sbin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" \
			"$bundle/rootfs/dev" "$bundle/rootfs/tmp"
		cp "$GUEST" "$bundle/rootfs/sbin/ckpt_guest"
		(cd "$bundle" && runc spec)
		python3 - "$bundle/config.json" "$mib" "/$CG/9391" <<'EOF'
import json, sys
p, mib, cg = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/sbin/ckpt_guest", mib, "0"]
c["root"]["readonly"] = False
c["linux"]["cgroupsPath"] = cg
json.dump(c, open(p, "w"))
EOF
		R="runc --root $WORK/runc-state"
		# runc 1.1 asks CRIU for an iptables network lock; this host has
		# nftables only (as strata uses)
		echo "network-lock nftables" >"$WORK/criu.conf"
		export CRIU_CONFIG_FILE="$WORK/criu.conf"
		$R run -d --bundle "$bundle" "$RUNC_ID" </dev/null >/dev/null 2>&1
		wait_file "$bundle/rootfs/mem.expected"
		: >"$bundle/dump"
		: >"$bundle/rest"
		for i in $(seq "$ITER"); do
			sleep 0.3
			rm -rf "$bundle/img"
			t0=$(ms)
			PATH=$(dirname "$CRIU"):$PATH $R checkpoint --image-path "$bundle/img" "$RUNC_ID"
			t1=$(ms)
			PATH=$(dirname "$CRIU"):$PATH $R restore -d --image-path "$bundle/img" \
				--bundle "$bundle" "$RUNC_ID" </dev/null >/dev/null 2>&1
			t2=$(ms)
			echo $(((t1 - t0) / 1000000)) >>"$bundle/dump"
			echo $(((t2 - t1) / 1000000)) >>"$bundle/rest"
		done
		img=$(du -sm "$bundle/img" | cut -f1)
		$R kill "$RUNC_ID" KILL >/dev/null 2>&1 || true
		sleep 0.3
		$R delete -f "$RUNC_ID" >/dev/null 2>&1 || true
		echo "runc mib=$mib iter=$ITER dump_ms=$(median <"$bundle/dump") restore_ms=$(median <"$bundle/rest") image_mib=$img"
	done
fi

# ---- the dump rate against the limits (strata, largest size) ----
last=$(echo "$MIBS" | awk '{print $NF}')
awk -v mib="$last" -v memcpy="$MEMCPY" -v disk="$DISK_SYNC" -v cache="$DISK_CACHE" '
/^RESULT/ {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	rate = v["image_mib"] / (v["frozen_ms"] / 1000)
	printf "strata dump rate at %d MiB: %.0f MiB/s frozen = %.2f of memcpy, %.2f of page-cache write, %.2f of fdatasync write\n",
		mib, rate, rate / (memcpy * 1024), rate / cache, rate / disk
}' "$WORK/strata-$last.log"
