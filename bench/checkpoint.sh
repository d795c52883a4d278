#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# bench/checkpoint.sh [BUILDDIR]: suspend/resume figures (root).
#
# For 0, 256 MiB and 1 GiB of touched memory (MIBS to change), ITER cycles
# each (default 5), medians and min-max:
#   daemon   `strata suspend CTID` / `strata resume CTID`, the whole CLI
#            command as a user sees it, through a private stratad (its own
#            strata.conf, state/run/private/template dirs and socket under
#            the temp dir, cgroup subtree stck-bench-PID, run in a network
#            namespace of its own so its routed veth never touches the host's)
#            with a busybox container whose init is the guest; the frozen
#            time comes from stratad's log
#   strata   runtime/checkpoint.c through ckpt_bench (a container shaped like
#            the integration tests': overlay root, cgroups, pid/mnt/uts/ipc/
#            net/cgroup namespaces, veth, seccomp)
#   runc     runc checkpoint / restore -d of an OCI bundle running the same
#            guest (CRIU wrapper first in PATH)
#   bare     criu dump / restore -d of the guest as a plain process tree
# then each column's ratio to runc and to bare CRIU, and this machine's
# memcpy bandwidth and disk-write bandwidth (dd to the image directory's
# filesystem, with and without conv=fdatasync).
#
# BUILDDIR (default build-criu-bench) holds tests/integration/ckpt_bench,
# ckpt_guest, runtime/stratad, cli/strata and templates/strata-init; build
# them without sanitizers for figures:
#   meson setup build-ck-rel --buildtype=release -Db_sanitize=none
#   ninja -C build-ck-rel tests/integration/ckpt_bench tests/integration/ckpt_guest \
#         runtime/stratad cli/strata templates/strata-init tests/helpers/testinit
# COLUMNS_RUN="daemon strata bare runc" picks the columns; DAEMON_LOG=FILE keeps
# stratad's log (DAEMON_LOG_LEVEL=trace for a profile of each step).
# Everything (daemon, containers, mounts, cgroups, its netns and veths) is
# removed at exit, also after a failure or ^C.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-build-criu-bench}
case $B in /*) ;; *) B=$TOP/$B ;; esac
BENCH=$B/tests/integration/ckpt_bench
GUEST=$B/tests/integration/ckpt_guest
STRATAD=$B/runtime/stratad
STRATA_CLI=$B/cli/strata
STRATA_INIT=$B/templates/strata-init
CRIU=${CRIU_PATH:-/opt/strata/bin/criu}
ITER=${ITER:-5}
MIBS=${MIBS:-"0 256 1024"}
COLUMNS_RUN=${COLUMNS_RUN:-"daemon strata bare runc"}
WORK=$(mktemp -d /tmp/stck-bench-XXXXXX)
chmod 0755 "$WORK" # the container's root (a mapped uid) walks down to its root
CG=stcriu-test-$$
RUNC_ID=stcriu-9391
BARE_PID=
# the private stratad: its files under $WORK/d, its cgroups under $DSUB
D=$WORK/d
DSUB=stck-bench-$$
DAEMON_PID=
DCT=9380
STRATA="$STRATA_CLI --socket $D/run/strata.sock"

[ "$(id -u)" = 0 ] || { echo "checkpoint.sh: needs root" >&2; exit 1; }
for f in "$BENCH" "$GUEST" "$CRIU" "$STRATAD" "$STRATA_CLI" "$STRATA_INIT"; do
	[ -x "$f" ] || { echo "checkpoint.sh: missing $f" >&2; exit 1; }
done
has() { case " $COLUMNS_RUN " in *" $1 "*) return 0 ;; esac; return 1; }

daemon_stop() {
	[ -n "$DAEMON_PID" ] || return 0
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		for ct in $($STRATA list -a -H -o ctid 2>/dev/null); do
			$STRATA stop --fast "$ct" >/dev/null 2>&1 || true
			$STRATA destroy "$ct" >/dev/null 2>&1 || true
		done
		kill "$DAEMON_PID" 2>/dev/null || true
		n=0
		while kill -0 "$DAEMON_PID" 2>/dev/null && [ $n -lt 100 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -9 "$DAEMON_PID" 2>/dev/null || true
	fi
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

cleanup() {
	daemon_stop
	# DAEMON_LOG=FILE: keep stratad's log (DAEMON_LOG_LEVEL=trace for a profile)
	[ -z "${DAEMON_LOG:-}" ] || cat "$D/stratad.out" >"$DAEMON_LOG" 2>/dev/null || true
	# the guest's whole session (setsid): its worker outlives a kill of the leader
	[ -n "$BARE_PID" ] && pkill -9 -s "$BARE_PID" 2>/dev/null || true
	runc --root "$WORK/runc-state" kill "$RUNC_ID" KILL >/dev/null 2>&1 || true
	sleep 0.2
	runc --root "$WORK/runc-state" delete -f "$RUNC_ID" >/dev/null 2>&1 || true
	# whatever a killed daemon left: tasks, mounts (deepest first), cgroups
	for d in /sys/fs/cgroup/*/"$DSUB" /sys/fs/cgroup/*/"$CG"; do
		[ -d "$d" ] || continue
		find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	done
	sleep 0.2
	awk -v w="$WORK" 'index($2, w) == 1 {print length($2), $2}' /proc/self/mounts |
		sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	for d in /sys/fs/cgroup/*/"$DSUB" /sys/fs/cgroup/*/"$CG"; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now() { date +%s%N; }
median() { sort -n | awk '{v[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) printf "%.0f", v[(NR+1)/2]; else printf "%.0f", (v[NR/2]+v[NR/2+1])/2}'; }
# "median min-max" of a file of numbers
stats() { printf '%s %s' "$(median <"$1")" "$(sort -n "$1" | awk 'NR==1 {a=$1} {b=$1} END {if (NR) printf "%.0f-%.0f", a, b; else print "-"}')"; }
wait_file() { i=0; while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; [ -e "$1" ]; }
# where each column keeps its figures: $WORK/fig/COLUMN-MIB.{sus,res,frozen}
mkdir -p "$WORK/fig"
fig() { echo "$WORK/fig/$1-$2.$3"; }

echo "# machine: $(nproc) CPUs, $(free -m | awk '/Mem:/ {print $2}') MiB, load $(cut -d' ' -f1-3 /proc/loadavg), $($CRIU --version | head -1)"

# ---- through stratad: the whole `strata suspend` / `strata resume` ----
daemon_start() {
	mkdir -p "$D/run"
	# --foreground: stratad logs to stderr, kept in stratad.out
	cat >"$D/strata.conf" <<CONF
CONF_DIR=$D/ct
STATE_DIR=$D/state
RUN_DIR=$D/run
TEMPLATE_DIR=$D/templates
PRIVATE_DIR=$D/private
ROOT_DIR=$D/root
SAMPLES_DIR=$D/samples
SOCKET=$D/run/strata.sock
CGROUP_SUBTREE=$DSUB
INIT_PATH=$STRATA_INIT
CRIU_PATH=$CRIU
LXCFS=no
STOP_TIMEOUT=10
VE_STOP_MODE=stop
LOG_LEVEL=${DAEMON_LOG_LEVEL:-info}
CONF
	# a network namespace of its own (lo up: CRIU probes TCP repair there)
	unshare -n sh -c 'ip link set lo up && exec "$0" --config "$1" --foreground' \
		"$STRATAD" "$D/strata.conf" >>"$D/stratad.out" 2>&1 &
	DAEMON_PID=$!
	for _ in $(seq 100); do
		$STRATA list -a >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "checkpoint.sh: private stratad did not start:" >&2
	cat "$D/stratad.out" >&2 2>/dev/null || true
	exit 1
}

# A busybox template whose /sbin/init is the guest holding $1 MiB.
daemon_template() {
	r=$WORK/rootfs-$1
	mkdir -p "$r/bin" "$r/sbin" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/run" "$r/etc" "$r/root"
	cp /bin/busybox "$r/bin/busybox"
	ln -sf busybox "$r/bin/sh"
	cp "$GUEST" "$r/sbin/init"
	echo "$1 0" >"$r/etc/ckpt_guest.args"
	mksquashfs "$r" "$WORK/guest-$1.sqfs" -noappend -quiet -no-progress -all-root >/dev/null
	$STRATA -q template import "stck-guest-$1" "$WORK/guest-$1.sqfs" >/dev/null
}

ct_counter() { # from the root while running, from the upper layer while suspended
	cat "$D/root/$DCT/counter" 2>/dev/null || cat "$D/private/$DCT/upper/counter" 2>/dev/null || echo -1
}

# Ask the guest to checksum its memory again; fail unless it is unchanged.
ct_memory_check() {
	rm -f "$D/root/$DCT/mem.now"
	echo 1 >"$D/root/$DCT/mem.req"
	n=0
	while { [ -e "$D/root/$DCT/mem.req" ] || [ ! -e "$D/root/$DCT/mem.now" ]; } && [ $n -lt 600 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	[ "$(cat "$D/root/$DCT/mem.now" 2>/dev/null)" = "$(cat "$D/root/$DCT/mem.expected")" ] ||
		{ echo "checkpoint.sh: daemon: memory checksum changed" >&2; exit 1; }
}

if has daemon; then
	daemon_start
	for mib in $MIBS; do
		daemon_template "$mib"
		$STRATA -q create "$DCT" --ostemplate "stck-guest-$mib" --ipadd 10.93.80.2 >/dev/null
		$STRATA -q start "$DCT" >/dev/null
		wait_file "$D/root/$DCT/mem.expected"
		: >"$(fig daemon "$mib" sus)"
		: >"$(fig daemon "$mib" res)"
		lines=$(cat "$D/stratad.out" 2>/dev/null | wc -l)
		for i in $(seq "$ITER"); do
			sleep 0.3
			t0=$(now)
			$STRATA -q suspend "$DCT" >/dev/null
			t1=$(now)
			c0=$(ct_counter)
			$STRATA -q resume "$DCT" >/dev/null
			t2=$(now)
			echo $(((t1 - t0) / 1000000)) >>"$(fig daemon "$mib" sus)"
			echo $(((t2 - t1) / 1000000)) >>"$(fig daemon "$mib" res)"
			sleep 0.25
			[ "$(ct_counter)" -gt "$c0" ] ||
				{ echo "checkpoint.sh: daemon: counter stuck at $c0 after resume $i" >&2; exit 1; }
			ct_memory_check
		done
		# stratad's own figures: "suspended container C to D (T ms, frozen F ms, ...)"
		tail -n +"$((lines + 1))" "$D/stratad.out" 2>/dev/null |
			sed -n 's/.*suspended container [0-9]* to .* ms, frozen \([0-9]*\) ms.*/\1/p' \
				>"$(fig daemon "$mib" frozen)"
		$STRATA -q suspend "$DCT" >/dev/null
		img=$(du -sm "$D/state/dumps/$DCT" | cut -f1)
		$STRATA -q resume "$DCT" >/dev/null
		$STRATA -q stop --fast "$DCT" >/dev/null
		$STRATA -q destroy "$DCT" >/dev/null
		echo "daemon mib=$mib iter=$ITER suspend_ms=$(stats "$(fig daemon "$mib" sus)") frozen_ms=$(stats "$(fig daemon "$mib" frozen)") resume_ms=$(stats "$(fig daemon "$mib" res)") image_mib=$img"
	done
	daemon_stop
fi

# ---- strata, library level (ckpt_bench) ----
if has strata; then
	for mib in $MIBS; do
		"$BENCH" ct "$mib" "$ITER" "$GUEST" >"$WORK/strata-$mib.log" 2>&1 ||
			{ cat "$WORK/strata-$mib.log" >&2; exit 1; }
		sed -n 's/^suspend [0-9]*: total \([0-9.]*\) ms.*/\1/p' "$WORK/strata-$mib.log" >"$(fig strata "$mib" sus)"
		sed -n 's/^suspend [0-9]*: .* frozen \([0-9.]*\) ms (CRIU.*/\1/p' "$WORK/strata-$mib.log" >"$(fig strata "$mib" frozen)"
		sed -n 's/^resume [0-9]*: total \([0-9.]*\) ms.*/\1/p' "$WORK/strata-$mib.log" >"$(fig strata "$mib" res)"
		img=$(sed -n 's/^RESULT.* image_mib=\([0-9.]*\).*/\1/p' "$WORK/strata-$mib.log")
		echo "strata mib=$mib iter=$ITER suspend_ms=$(stats "$(fig strata "$mib" sus)") frozen_ms=$(stats "$(fig strata "$mib" frozen)") resume_ms=$(stats "$(fig strata "$mib" res)") image_mib=$img"
	done
fi

# ---- bare CRIU on a plain process tree ----
if has bare; then
	for mib in $MIBS; do
		d=$WORK/bare-$mib
		mkdir -p "$d/run" "$d/img"
		setsid "$GUEST" "$mib" 0 "$d/run" </dev/null >/dev/null 2>&1 &
		BARE_PID=$!
		wait_file "$d/run/mem.expected"
		: >"$(fig bare "$mib" sus)"
		: >"$(fig bare "$mib" res)"
		for i in $(seq "$ITER"); do
			sleep 0.3
			rm -rf "$d/img"
			mkdir "$d/img"
			t0=$(now)
			"$CRIU" dump -t "$BARE_PID" -D "$d/img" -o dump.log
			t1=$(now)
			wait "$BARE_PID" 2>/dev/null || true # the first time it is our child
			# the killed workers are zombies of PID 1 for a moment and keep
			# the session id (= the pid CRIU restores) in use
			n=0
			while ps -e -o sid= | grep -qw "$BARE_PID" && [ $n -lt 500 ]; do
				sleep 0.01
				n=$((n + 1))
			done
			t1b=$(now)
			"$CRIU" restore -d -D "$d/img" -o restore.log
			t2=$(now)
			echo $(((t1 - t0) / 1000000)) >>"$(fig bare "$mib" sus)"
			echo $(((t2 - t1b) / 1000000)) >>"$(fig bare "$mib" res)"
		done
		img=$(du -sm "$d/img" | cut -f1)
		pkill -9 -s "$BARE_PID" 2>/dev/null || true
		BARE_PID=
		echo "bare mib=$mib iter=$ITER dump_ms=$(stats "$(fig bare "$mib" sus)") restore_ms=$(stats "$(fig bare "$mib" res)") image_mib=$img"
	done
fi

# ---- runc ----
if has runc && command -v runc >/dev/null 2>&1; then
	for mib in $MIBS; do
		bundle=$WORK/runc-$mib
		mkdir -p "$bundle/rootfs/sbin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" \
			"$bundle/rootfs/dev" "$bundle/rootfs/tmp"
		cp "$GUEST" "$bundle/rootfs/sbin/ckpt_guest"
		(cd "$bundle" && runc spec)
		python3 - "$bundle/config.json" "$mib" "/$CG/9391" <<'PY'
import json, sys
p, mib, cg = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/sbin/ckpt_guest", mib, "0"]
c["root"]["readonly"] = False
c["linux"]["cgroupsPath"] = cg
json.dump(c, open(p, "w"))
PY
		R="runc --root $WORK/runc-state"
		# runc 1.1 asks CRIU for an iptables network lock; this host has
		# nftables only (as strata uses)
		echo "network-lock nftables" >"$WORK/criu.conf"
		$R run -d --bundle "$bundle" "$RUNC_ID" </dev/null >/dev/null 2>&1
		wait_file "$bundle/rootfs/mem.expected"
		: >"$(fig runc "$mib" sus)"
		: >"$(fig runc "$mib" res)"
		for i in $(seq "$ITER"); do
			sleep 0.3
			rm -rf "$bundle/img"
			t0=$(now)
			CRIU_CONFIG_FILE="$WORK/criu.conf" PATH=$(dirname "$CRIU"):$PATH \
				$R checkpoint --image-path "$bundle/img" "$RUNC_ID"
			t1=$(now)
			CRIU_CONFIG_FILE="$WORK/criu.conf" PATH=$(dirname "$CRIU"):$PATH \
				$R restore -d --image-path "$bundle/img" \
				--bundle "$bundle" "$RUNC_ID" </dev/null >/dev/null 2>&1
			t2=$(now)
			echo $(((t1 - t0) / 1000000)) >>"$(fig runc "$mib" sus)"
			echo $(((t2 - t1) / 1000000)) >>"$(fig runc "$mib" res)"
		done
		img=$(du -sm "$bundle/img" | cut -f1)
		$R kill "$RUNC_ID" KILL >/dev/null 2>&1 || true
		sleep 0.3
		$R delete -f "$RUNC_ID" >/dev/null 2>&1 || true
		echo "runc mib=$mib iter=$ITER dump_ms=$(stats "$(fig runc "$mib" sus)") restore_ms=$(stats "$(fig runc "$mib" res)") image_mib=$img"
	done
fi

# ---- side by side: medians, and ratios to runc and bare CRIU ----
echo
echo "# medians in ms (min-max); ratio = this column's median / the peer's median"
printf '%-7s %5s  %-16s %-16s %-16s  %-9s %-9s %-9s %-9s\n' column MiB suspend frozen resume \
	"sus/runc" "res/runc" "sus/bare" "res/bare"
ratio() { if [ -s "$1" ] && [ -s "$2" ]; then awk -v a="$(median <"$1")" -v b="$(median <"$2")" 'BEGIN {printf "%.2f", a / b}'; else printf -- -; fi; }
for col in daemon strata runc bare; do
	for mib in $MIBS; do
		[ -s "$(fig "$col" "$mib" sus)" ] || continue
		fz=-
		[ -s "$(fig "$col" "$mib" frozen)" ] && fz=$(stats "$(fig "$col" "$mib" frozen)")
		printf '%-7s %5s  %-16s %-16s %-16s  %-9s %-9s %-9s %-9s\n' "$col" "$mib" \
			"$(stats "$(fig "$col" "$mib" sus)")" "$fz" "$(stats "$(fig "$col" "$mib" res)")" \
			"$(ratio "$(fig "$col" "$mib" sus)" "$(fig runc "$mib" sus)")" \
			"$(ratio "$(fig "$col" "$mib" res)" "$(fig runc "$mib" res)")" \
			"$(ratio "$(fig "$col" "$mib" sus)" "$(fig bare "$mib" sus)")" \
			"$(ratio "$(fig "$col" "$mib" res)" "$(fig bare "$mib" res)")"
	done
done

# ---- physical limits (last: 2 GiB of writes would slow the columns after them) ----
MEMCPY=$("$BENCH" memcpy 1024 | sed -n 's/RESULT memcpy_gibs=//p')
dd_rate() { # dd's "N bytes ... copied, S s, R unit/s" -> MiB/s
	dd if=/dev/zero of="$WORK/dd" bs=1M count=1024 "$@" 2>&1 | tail -1 |
		awk -F', ' '{split($3, s, " "); printf "%.0f", 1024 / s[1]}'
	rm -f "$WORK/dd"
}
DISK_SYNC=$(dd_rate conv=fdatasync)
DISK_CACHE=$(dd_rate)
echo
echo "memcpy ${MEMCPY} GiB/s; write to $(df --output=fstype "$WORK" | tail -1) ($(df --output=target "$WORK" | tail -1)): ${DISK_SYNC} MiB/s with fdatasync, ${DISK_CACHE} MiB/s page cache"

# ---- the dump rate against the limits (largest size) ----
last=$(echo "$MIBS" | awk '{print $NF}')
for col in daemon strata; do
	[ -s "$(fig "$col" "$last" frozen)" ] || continue
	awk -v col="$col" -v mib="$last" -v fz="$(median <"$(fig "$col" "$last" frozen)")" \
		-v memcpy="$MEMCPY" -v disk="$DISK_SYNC" -v cache="$DISK_CACHE" 'BEGIN {
		rate = mib / (fz / 1000)
		printf "%s dump rate at %d MiB: %.0f MiB/s frozen = %.2f of memcpy, %.2f of page-cache write, %.2f of fdatasync write\n",
			col, mib, rate, rate / (memcpy * 1024), rate / cache, rate / disk
	}'
done
