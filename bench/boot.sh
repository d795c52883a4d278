#!/usr/bin/env bash
# Full-OS boot: Debian 12 with systemd as PID 1, Strata against
# `systemd-nspawn -b` on the same template's tree (issue 4's figures). Root.
#
#   bench/boot.sh [RUNS]            (default 3 boots each after one warm-up
#                                    boot, medians printed)
#
# boot: from the start command until `systemctl is-system-running --wait`
#   inside says running or degraded (asked again every 20 ms while systemd
#   does not answer yet), the same probe for both:
#   - Strata: `strata start CT` of a container from the debian-12 template
#     (user namespace, the daemon's defaults), probe through `strata exec2`;
#     also the reply time of `strata start --wait` (the daemon's own probe);
#   - nspawn: `systemd-nspawn -b --private-users=RANGE` on a copy of the
#     debootstrap tree the template image was made from (the rootfs cache
#     under /var/cache/strata/rootfs), chowned to RANGE by nspawn in its
#     warm-up boot (nspawn 252 cannot idmap a --volatile root here), probe
#     through nsenter into its init (nspawn's child).
# poweroff: from the halt request (`strata stop`; `systemctl poweroff` in
#   the nspawn container) until the runtime reports the container gone.
# A boot that does not reach running/degraded within BOOT_TIMEOUT seconds
# (default 60) is reported with the state systemd gives, its failed units
# and the tail of the console log, and the run goes on with the next one.
#
# The template is built once (`strata template build debian-12`: debootstrap
# with systemd-sysv, minutes the first time; the rootfs cache is kept in
# /var/cache/strata/rootfs). Everything else lives under $BENCH_DIR
# (default /tmp/stperf-boot-PID), the daemon's cgroup subtree is stperf-PID,
# and the EXIT/INT/TERM trap stops and removes all of it.
set -euo pipefail
RUNS=${1:-3}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-60}
export BENCH_DIR=${BENCH_DIR:-/tmp/stperf-boot-$$}
export BENCH_SUBTREE=${BENCH_SUBTREE:-stperf-$$}
# the template build's debootstrap cache is the host's usual one
export BENCH_CACHE=${BENCH_CACHE:-/var/cache/strata}
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || bench_die "must run as root"
for t in systemd-nspawn nsenter debootstrap bc; do
	command -v $t >/dev/null || bench_die "$t missing (run scripts/deps.sh)"
done
CT=9490
NSPAWN_PID=

ms_now() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }

# probe CMD...: run `CMD systemctl is-system-running --wait` until it says
# running or degraded (prints it) or BOOT_TIMEOUT passes (prints the last
# state, returns 1)
probe() {
	local deadline=$(($(ms_now) + BOOT_TIMEOUT * 1000)) s=
	while [ "$(ms_now)" -lt "$deadline" ]; do
		s=$("$@" systemctl is-system-running --wait 2>/dev/null || true)
		case $s in
		running | degraded)
			echo "$s"
			return 0
			;;
		esac
		sleep 0.02
	done
	echo "${s:-no answer}"
	return 1
}

# run a command in the nspawn container: its init is nspawn's child once
# the outer child (which chowns the tree first) is gone, so look it up anew
nspawn_exec() {
	local init
	kill -0 "$NSPAWN_PID" 2>/dev/null || return 1
	init=$(pgrep -P "$NSPAWN_PID" | tail -1) || return 1
	nsenter -t "$init" -a "$@"
}

strata_diag() {
	echo "-- strata $CT: systemd's view --" >&2
	$STRATA exec2 $CT systemctl is-system-running 2>&1 | head -3 >&2 || true
	$STRATA exec2 $CT systemctl --failed --no-legend 2>&1 | head -20 >&2 || true
	echo "-- console log (tail) --" >&2
	tail -n 30 "$BENCH_DIR/run/ct/$CT.console.log" >&2 2>/dev/null || true
}

cleanup() {
	trap - EXIT INT TERM
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		kill -TERM "$NSPAWN_PID" 2>/dev/null || true
		sleep 2
		kill -KILL "$NSPAWN_PID" 2>/dev/null || true
	fi
	bench_daemon_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build
bench_daemon_start
echo "building the debian-12 template (debootstrap the first time: minutes)" >&2
$STRATA template build debian-12 >&2 || bench_die "template build debian-12 failed"
$STRATA create $CT --ostemplate debian-12 >/dev/null

declare -a S_BOOT S_WAIT S_OFF N_BOOT N_OFF
WARM=(" (warm-up, not counted)" "")
S_STATE=none N_STATE=none
echo "== Strata: $RUNS boots of container $CT (debian-12, systemd) ==" >&2
for i in $(seq 0 "$RUNS"); do
	t0=$(ms_now)
	$STRATA start $CT >/dev/null || { strata_diag; bench_die "strata start $CT failed"; }
	if state=$(probe $STRATA exec2 $CT); then
		t1=$(ms_now)
		[ "$i" = 0 ] || S_BOOT+=($((t1 - t0)))
		S_STATE=$state
		echo "strata boot $i: $((t1 - t0)) ms ($state)${WARM[$i > 0]}" >&2
	else
		echo "strata boot $i: not booted after ${BOOT_TIMEOUT} s: systemd says \`$state\`" >&2
		strata_diag
	fi
	t0=$(ms_now)
	$STRATA stop $CT >/dev/null || $STRATA stop --fast $CT >/dev/null
	t1=$(ms_now)
	[ "$i" = 0 ] || S_OFF+=($((t1 - t0)))
	echo "strata poweroff $i: $((t1 - t0)) ms" >&2
	# the daemon's own boot wait, for comparison
	t0=$(ms_now)
	reply=$($STRATA start --wait $CT 2>&1 || true)
	t1=$(ms_now)
	[ "$i" = 0 ] || S_WAIT+=($((t1 - t0)))
	echo "strata start --wait $i: $((t1 - t0)) ms: $reply" >&2
	$STRATA stop --fast $CT >/dev/null 2>&1 || true
done

echo "== systemd-nspawn -b: $RUNS boots of the same tree ==" >&2
tree=$(ls -d "$BENCH_CACHE"/rootfs/debian-12-[0-9a-f]* 2>/dev/null | head -1)
[ -n "$tree" ] && [ -d "$tree" ] || bench_die "no debian-12 rootfs cache in $BENCH_CACHE/rootfs"
# nspawn 252 cannot idmap a --volatile root here ("ID mapped mounts are
# apparently not available"): a copy of the tree, chowned once by nspawn to
# a fixed range (the warm-up boot), like the range Strata gives a container
echo "copying $tree for nspawn" >&2
cp -a "$tree" "$BENCH_DIR/nsroot"
for i in $(seq 0 "$RUNS"); do
	t0=$(ms_now)
	systemd-nspawn -q -D "$BENCH_DIR/nsroot" --private-users=1879048192:65536 \
		--private-users-ownership=chown --register=no --keep-unit --console=passive \
		-M "stperf-boot-$i" -b >/dev/null 2>&1 &
	NSPAWN_PID=$!
	# the warm-up boot chowns the copy first: give it time
	if state=$(BOOT_TIMEOUT=$((i ? BOOT_TIMEOUT : 600)) probe nspawn_exec); then
		t1=$(ms_now)
		[ "$i" = 0 ] || N_BOOT+=($((t1 - t0)))
		N_STATE=$state
		echo "nspawn boot $i: $((t1 - t0)) ms ($state)${WARM[$i > 0]}" >&2
	else
		echo "nspawn boot $i: not booted after ${BOOT_TIMEOUT} s: \`$state\`" >&2
	fi
	t0=$(ms_now)
	nspawn_exec systemctl poweroff >/dev/null 2>&1 || kill -TERM "$NSPAWN_PID"
	wait "$NSPAWN_PID" || true
	t1=$(ms_now)
	NSPAWN_PID=
	[ "$i" = 0 ] || N_OFF+=($((t1 - t0)))
	echo "nspawn poweroff $i: $((t1 - t0)) ms" >&2
done

printf '\n== Debian 12 with systemd, medians of %d ==\n' "$RUNS"
sb=$(printf '%s\n' "${S_BOOT[@]}" | median)
nb=$(printf '%s\n' "${N_BOOT[@]}" | median)
printf '%-36s %8s ms (%d of %d booted, last: %s)\n' "strata start -> running/degraded" "$sb" \
	"${#S_BOOT[@]}" "$RUNS" "$S_STATE"
printf '%-36s %8s ms\n' "strata start --wait (reply)" "$(printf '%s\n' "${S_WAIT[@]}" | median)"
printf '%-36s %8s ms\n' "strata stop (poweroff)" "$(printf '%s\n' "${S_OFF[@]}" | median)"
printf '%-36s %8s ms (%d of %d booted, last: %s)\n' "systemd-nspawn -b -> running/degraded" \
	"$nb" "${#N_BOOT[@]}" "$RUNS" "$N_STATE"
printf '%-36s %8s ms\n' "nspawn poweroff" "$(printf '%s\n' "${N_OFF[@]}" | median)"
if [ "$sb" != - ] && [ "$nb" != - ]; then
	printf '%-36s %8.2f\n' "boot ratio strata / nspawn" "$(echo "$sb / $nb" | bc -l)"
fi
