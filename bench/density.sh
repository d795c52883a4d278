#!/usr/bin/env bash
# Density: N idle busybox containers with Strata, LXC, runc and crun, one
# system after the other (issue 4's figures). Root. Prints per-container
# figures and ratios to Strata's.
#
#   bench/density.sh [N]            (default 500; SYSTEMS="strata lxc runc crun")
#   PAR=4 bench/density.sh 200      (start with 4 clients at once)
#   BATCH=50 bench/density.sh        (Strata: `strata start` with 50 CTIDs a
#                                    command, not a process per container)
#   BENCH_LXCFS=no bench/density.sh  (Strata's containers without lxcfs's
#                                    8 binds over /proc and /sys files)
#   KMEM_DIR=DIR bench/density.sh    (also keep, per system, snapshots of
#                                    /proc/slabinfo, meminfo and vmallocinfo
#                                    before and after the start, and one
#                                    init's mountinfo, namespaces and the
#                                    daemon's fds: bench/kmem.sh reads them)
#   BENCH_START_WORKERS=1 bench/density.sh
#                                   (Strata's daemon with START_WORKERS=1:
#                                    every start on its event loop; unset:
#                                    the daemon's default, a worker per CPU)
#
# Each system's N containers run the same idle init: busybox init (Strata's
# busybox template; for LXC, runc and crun `/bin/init` over one shared busybox
# rootfs with a one-line inittab), each in new pid, mount, uts, ipc and net
# namespaces; Strata's and LXC's also in a user namespace where configured.
#
# Method, per system:
#   1. prepare everything that is not a running container (Strata: daemon,
#      template, N created containers; LXC: N configs; runc, crun: N
#      bundles);
#   2. let the host settle (sync, 2 s, then until MemFree holds still for a
#      second: the previous system's deferred frees, settle_quiet), sample
#      /proc/meminfo three times (MemAvailable and Slab, the median of each);
#   3. start the N containers (Strata: `strata start`, LXC: `lxc-start -d`,
#      runc: `runc run -d`, crun: `crun run -d`), timed: "start/ct" is the
#      wall time over N; crun runs through `nsenter` into a private mount
#      namespace where /sys/fs/cgroup shows only the v1 hierarchies (Debian
#      12's crun refuses this hybrid host otherwise: bench/lib.sh), which
#      adds about 1.5 ms to each of its starts;
#   4. settle again and sample again. "host/ct" is the drop of MemAvailable
#      over N: everything the host gave up for one running container. "own/ct"
#      is what the containers' own processes hold themselves: the sum of
#      RssAnon + VmPTE (anonymous memory and page tables; their file pages
#      are the shared, already cached busybox) of every task in the
#      containers' cgroups, over N. "beyond/ct" = host/ct - own/ct: the
#      runtime's cost per container (kernel objects: namespaces, cgroups,
#      mounts, ptys, netns; and helper processes such as LXC's monitors).
#      "slab/ct" is the growth of Slab over N, "kern/ct" that of Slab +
#      Percpu + KernelStack + PageTables (the kernel's own memory: less
#      disturbed by other work's page cache than MemAvailable; both are
#      part of beyond/ct).
#   5. count helper processes that came with the containers: processes of
#      the runtime that are not the containers' and were not there at the
#      baseline (Strata: children of stratad outside the containers'
#      cgroups and any other stratad -- the daemon's one host-wide lxcfs is
#      there before; LXC: `lxc-start` monitors of ours; runc, crun: runc or
#      crun processes of ours; crun's namespace holder, a `sleep`, is there
#      before), with their RSS;
#   6. stop and remove all N, timed.
# The machine may be shared: MemAvailable moves with everyone's work, and
# start times with the CPU load (the 1-minute load average before each
# system's start is printed); rerun on a quiet host for the note.
#
# Everything lives under $BENCH_DIR (default /tmp/stperf-density-PID), the
# daemon's cgroup subtree is stperf-PID, the peers' containers are named
# stperf-d-I (crun's stperf-d-cI); the EXIT/INT/TERM trap stops and removes
# all of it.
set -euo pipefail
N=${1:-500}
PAR=${PAR:-1}
SYSTEMS=${SYSTEMS:-strata lxc runc crun}
export BENCH_DIR=${BENCH_DIR:-/tmp/stperf-density-$$}
export BENCH_SUBTREE=${BENCH_SUBTREE:-stperf-$$}
export BENCH_NAME=${BENCH_NAME:-stperf-d}
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || bench_die "must run as root"
[ "$N" -gt 0 ] 2>/dev/null || bench_die "N must be a positive number, not \`$N\`"
CT0=94000 # Strata CTIDs 94000.. (inside the private daemon only)
TOP=$BENCH_DIR
SDIR=$TOP/strata # the private daemon's own BENCH_DIR
RUNC_CG=/$BENCH_NAME-runc-$$
CRUN_CG=/$BENCH_NAME-crun-$$

# ---- helpers ----

# the sum of /proc/meminfo keys (kB)
meminfo() { awk -v keys=" $* " 'index(keys, " " substr($1, 1, length($1) - 1) " ") { s += $2 } END { print s + 0 }' /proc/meminfo; }
KERNEL_KEYS="Slab Percpu KernelStack PageTables"
# Wait until the kernel's deferred frees are done: the previous system's
# network namespaces are torn down by a workqueue, its memory cgroups and
# RCU-freed objects go later still, for seconds after its last container is
# gone. Sampled before then, the next system's baseline still holds them and
# its containers look smaller by what is freed meanwhile (135 kB each for
# crun run right after Strata's 500, on this 2-CPU VM). Done: MemFree moved
# less than SETTLE_KB (1024) over one second, or SETTLE_MAX seconds (60).
settle_quiet() {
	local a b i
	a=$(meminfo MemFree)
	for ((i = 1; i <= ${SETTLE_MAX:-60}; i++)); do
		sleep 1
		b=$(meminfo MemFree)
		if [ $((b > a ? b - a : a - b)) -lt "${SETTLE_KB:-1024}" ]; then
			echo "settled after $i s" >&2
			return 0
		fi
		a=$b
	done
	echo "not settled after ${SETTLE_MAX:-60} s (MemFree still moving), sampling anyway" >&2
}
# median of three samples of the sum of /proc/meminfo keys, after letting
# RCU-freed and deferred work finish
settle_sample() {
	[ -n "${SETTLED:-}" ] || { sync; sleep 2; settle_quiet; }
	local a b c
	a=$(meminfo "$@"); sleep 0.3; b=$(meminfo "$@"); sleep 0.3; c=$(meminfo "$@")
	printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n | sed -n 2p
}
# pids in the cgroups under a pids-hierarchy directory (glob allowed)
cg_pids() {
	local d
	for d in $1; do
		[ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
	done
	return 0
}
# sum of RssAnon + VmPTE (kB) of the given pids
own_kb() {
	local sum=0 p v
	for p in "$@"; do
		v=$(awk '/^(RssAnon|VmPTE):/ { s += $2 } END { print s + 0 }' "/proc/$p/status" 2>/dev/null || echo 0)
		sum=$((sum + v))
	done
	echo "$sum"
}
rss_kb() {
	local sum=0 p v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
# run_n FROM CMD...: run CMD with {} replaced by each of FROM..FROM+N-1,
# PAR at a time; with RUN_BATCH=K (> 1), CMD gets K of them appended instead
# (no {}); prints the wall time in ms
run_n() {
	local from=$1 t0 t1
	shift
	t0=$(date +%s%N)
	if [ "${RUN_BATCH:-1}" -gt 1 ]; then
		seq "$from" $((from + N - 1)) | xargs -P "$PAR" -n "$RUN_BATCH" "$@" >/dev/null
	else
		seq "$from" $((from + N - 1)) | xargs -P "$PAR" -I{} "$@" >/dev/null
	fi
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# KMEM_DIR: snapshots of the kernel's memory for bench/kmem.sh
kmem_snap() { # system, before|after
	[ -n "${KMEM_DIR:-}" ] || return 0
	mkdir -p "$KMEM_DIR"
	cat /proc/slabinfo >"$KMEM_DIR/$1.$2.slabinfo"
	cat /proc/meminfo >"$KMEM_DIR/$1.$2.meminfo"
	cat /proc/vmallocinfo >"$KMEM_DIR/$1.$2.vmallocinfo"
	echo "$N" >"$KMEM_DIR/$1.n"
}
kmem_ct() { # system, daemon pid or "", pids of the containers...
	[ -n "${KMEM_DIR:-}" ] || return 0
	local sys=$1 d=$2 p init='' ns n=0
	shift 2
	for p in "$@"; do
		# the container's init: pid 1 in its own pid namespace
		if awk '/^NSpid:/ { exit !($NF == 1 && NF > 2) }' "/proc/$p/status" 2>/dev/null; then
			init=$p
			break
		fi
	done
	{
		echo "tasks $#"
		if [ -n "$init" ]; then
			echo "mounts $(wc -l <"/proc/$init/mountinfo")"
			for ns in /proc/"$init"/ns/*; do
				[ "$(readlink "$ns")" != "$(readlink "/proc/1/ns/${ns##*/}")" ] && n=$((n + 1))
			done
			echo "namespaces $n"
			echo "init_fds $(ls "/proc/$init/fd" | wc -l)"
			cp "/proc/$init/mountinfo" "$KMEM_DIR/$sys.mountinfo"
			ls -l "/proc/$init/ns/" >"$KMEM_DIR/$sys.ns"
		fi
		if [ -n "$d" ]; then
			echo "daemon_fds $(ls "/proc/$d/fd" | wc -l)"
			echo "daemon_anon $(awk '/^RssAnon:/ { print $2 }' "/proc/$d/status")"
		fi
	} >"$KMEM_DIR/$sys.counts"
}

declare -A R_START R_STOP R_HOST R_OWN R_SLAB R_HELP R_HELPRSS R_NPROC R_LOAD R_KERN
measure() { # system, pids-cgroup glob, helper-pids command; after the start
	local sys=$1 glob=$2 m1 s1 k1 pids helpers
	m1=$(settle_sample MemAvailable)
	s1=$(SETTLED=1 settle_sample Slab)
	k1=$(SETTLED=1 settle_sample $KERNEL_KEYS)
	mapfile -t pids < <(cg_pids "$glob")
	# helpers that came with the containers (a host-wide one such as the
	# daemon's lxcfs was there at the baseline already)
	mapfile -t helpers < <($3 | grep -vxF -f <(printf '%s\n' "${H0[@]}" 0))
	R_LOAD[$sys]=$LOAD0
	R_HOST[$sys]=$(((M0 - m1) / N))
	R_SLAB[$sys]=$(((s1 - S0) / N))
	R_KERN[$sys]=$(((k1 - K0) / N))
	R_OWN[$sys]=$(($(own_kb "${pids[@]}") / N))
	R_NPROC[$sys]=${#pids[@]}
	R_HELP[$sys]=${#helpers[@]}
	R_HELPRSS[$sys]=$(rss_kb "${helpers[@]}")
	kmem_snap "$sys" after
	kmem_ct "$sys" "${KMEM_DAEMON:-}" "${pids[@]}"
}
baseline() { # helper-pids command, system
	mapfile -t H0 < <($1)
	M0=$(settle_sample MemAvailable)
	S0=$(SETTLED=1 settle_sample Slab)
	K0=$(SETTLED=1 settle_sample $KERNEL_KEYS)
	kmem_snap "$2" before
	LOAD0=$(cut -d' ' -f1 /proc/loadavg)
}

# ---- Strata ----

strata_helpers() {
	local d p
	d=$(cat "$SDIR/stratad.pid")
	# children of the daemon that are not in a container's cgroup
	for p in $(ps -o pid= --ppid "$d"); do
		grep -q ":pids:/$BENCH_SUBTREE/" "/proc/$p/cgroup" 2>/dev/null || echo "$p"
	done
	# other stratad processes of this instance (a forked helper keeps the name)
	pgrep -x stratad | while read -r p; do
		[ "$p" = "$d" ] && continue
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "$SDIR" && echo "$p"
	done
	return 0
}
run_strata() {
	BENCH_DIR=$SDIR
	bench_build
	bench_daemon_start
	$STRATA template build busybox >/dev/null
	echo "strata: creating $N containers" >&2
	seq $((CT0 + 1)) $((CT0 + N)) | xargs -P 2 -I{} $STRATA create {} --ostemplate busybox >/dev/null
	# one start and stop first: the template layer mounted, caches warm
	$STRATA start $((CT0 + 1)) >/dev/null && $STRATA stop --fast $((CT0 + 1)) >/dev/null
	baseline strata_helpers strata
	if [ -n "${KMEM_DIR:-}" ]; then
		ls "/proc/$(cat "$SDIR/stratad.pid")/fd" | wc -l >"$KMEM_DIR/strata.daemon_fds0"
		awk '/^RssAnon:/ { print $2 }' "/proc/$(cat "$SDIR/stratad.pid")/status" >"$KMEM_DIR/strata.daemon_anon0"
	fi
	echo "strata: starting $N" >&2
	if [ "${BATCH:-1}" -gt 1 ]; then
		R_START[strata]=$(RUN_BATCH=$BATCH run_n $((CT0 + 1)) $STRATA start)
	else
		R_START[strata]=$(run_n $((CT0 + 1)) $STRATA start {})
	fi
	[ -n "${KMEM_DIR:-}" ] && KMEM_DAEMON=$(cat "$SDIR/stratad.pid")
	measure strata "/sys/fs/cgroup/pids/$BENCH_SUBTREE/*" strata_helpers
	KMEM_DAEMON=
	echo "strata: stopping and destroying $N" >&2
	R_STOP[strata]=$(run_n $((CT0 + 1)) sh -c "$STRATA stop --fast {} && $STRATA destroy {}")
	bench_daemon_stop
	STRATA=
	BENCH_DIR=$TOP
}

# ---- LXC ----

lxc_helpers() {
	local p
	for p in $(pgrep -x lxc-start); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$LXCPATH" && echo "$p"
	done
	return 0
}
lxc_cleanup() {
	[ -n "${LXCPATH:-}" ] && [ -d "$LXCPATH" ] || return 0
	local c
	for c in "$LXCPATH"/"$BENCH_NAME"-*; do
		[ -d "$c" ] || continue
		lxc-stop -k -n "$(basename "$c")" -P "$LXCPATH" >/dev/null 2>&1 || true
	done
}
run_lxc() {
	local i
	LXCPATH=$BENCH_DIR/lxc-density
	mkdir -p "$LXCPATH"
	for i in $(seq "$N"); do
		mkdir -p "$LXCPATH/$BENCH_NAME-$i"
		cat >"$LXCPATH/$BENCH_NAME-$i/config" <<CONF
lxc.uts.name = $BENCH_NAME-$i
lxc.rootfs.path = dir:$PEER_ROOTFS
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.mount.auto = proc:mixed sys:ro
lxc.init.cmd = /bin/init
CONF
	done
	baseline lxc_helpers lxc
	echo "lxc: starting $N" >&2
	R_START[lxc]=$(run_n 1 lxc-start -d -n "$BENCH_NAME-{}" -P "$LXCPATH")
	measure lxc "/sys/fs/cgroup/pids/lxc.payload.$BENCH_NAME-*" lxc_helpers
	echo "lxc: stopping $N" >&2
	R_STOP[lxc]=$(run_n 1 lxc-stop -k -n "$BENCH_NAME-{}" -P "$LXCPATH")
	rm -rf "$LXCPATH"
}

# ---- runc ----

runc_helpers() {
	local p
	for p in $(pgrep -x runc); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$BENCH_DIR" && echo "$p"
	done
	return 0
}
runc_cleanup() {
	[ -d "$BENCH_DIR/runc-density" ] || return 0
	local id
	for id in $(runc --root "$BENCH_DIR/runc-density" list -q 2>/dev/null); do
		runc --root "$BENCH_DIR/runc-density" delete -f "$id" >/dev/null 2>&1 || true
	done
	for d in /sys/fs/cgroup/*"$RUNC_CG" /sys/fs/cgroup/*/*"$RUNC_CG"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
	done
	return 0
}
run_runc() {
	local i b
	mkdir -p "$BENCH_DIR/runc-density"
	for i in $(seq "$N"); do
		b=$BENCH_DIR/bundles/$i
		mkdir -p "$b"
		sed -e 's|"/bin/true"|"/bin/init"|' \
			-e "s|\"linux\": {|\"linux\": {\n\t\t\"cgroupsPath\": \"$RUNC_CG/$BENCH_NAME-$i\",|" \
			"$OCI/config.json" >"$b/config.json"
	done
	baseline runc_helpers runc
	echo "runc: starting $N" >&2
	R_START[runc]=$(run_n 1 runc --root "$BENCH_DIR/runc-density" run -d -b "$BENCH_DIR/bundles/{}" "$BENCH_NAME-{}")
	measure runc "/sys/fs/cgroup/pids$RUNC_CG/*" runc_helpers
	echo "runc: stopping $N" >&2
	R_STOP[runc]=$(run_n 1 runc --root "$BENCH_DIR/runc-density" delete -f "$BENCH_NAME-{}")
	runc_cleanup
}

# ---- crun ----

crun_helpers() {
	local p
	for p in $(pgrep -x crun); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$BENCH_DIR" && echo "$p"
	done
	return 0
}
crun_cleanup() {
	if [ -d "$BENCH_DIR/crun-density" ] && [ -n "${CRUN:-}" ]; then
		local id
		for id in $($CRUN --root "$BENCH_DIR/crun-density" list -q 2>/dev/null); do
			$CRUN --root "$BENCH_DIR/crun-density" delete -f "$id" >/dev/null 2>&1 || true
		done
	fi
	local d
	for d in /sys/fs/cgroup/*"$CRUN_CG" /sys/fs/cgroup/*/*"$CRUN_CG"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
	done
	bench_crun_stop
	return 0
}
run_crun() {
	local i b
	bench_crun_works || {
		echo "crun: does not run on this host, not even from a private mount namespace" >&2
		return 0
	}
	mkdir -p "$BENCH_DIR/crun-density"
	for i in $(seq "$N"); do
		b=$BENCH_DIR/crun-bundles/$i
		mkdir -p "$b"
		sed -e 's|"/bin/true"|"/bin/init"|' \
			-e "s|\"linux\": {|\"linux\": {\n\t\t\"cgroupsPath\": \"$CRUN_CG/$BENCH_NAME-c$i\",|" \
			"$OCI/config.json" >"$b/config.json"
	done
	baseline crun_helpers crun
	echo "crun: starting $N" >&2
	R_START[crun]=$(run_n 1 $CRUN --root "$BENCH_DIR/crun-density" run -d -b "$BENCH_DIR/crun-bundles/{}" "$BENCH_NAME-c{}")
	measure crun "/sys/fs/cgroup/pids$CRUN_CG/*" crun_helpers
	echo "crun: stopping $N" >&2
	R_STOP[crun]=$(run_n 1 $CRUN --root "$BENCH_DIR/crun-density" delete -f "$BENCH_NAME-c{}")
	crun_cleanup
}

cleanup() {
	trap - EXIT INT TERM
	lxc_cleanup
	runc_cleanup
	crun_cleanup
	BENCH_DIR=$SDIR bench_daemon_stop
	rm -rf "$TOP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_peer_setup
[ -f "$PEER_ROOTFS/etc/inittab" ] || echo '::sysinit:/bin/true' >"$PEER_ROOTFS/etc/inittab"
for s in $SYSTEMS; do
	case $s in
	strata) run_strata ;;
	lxc) command -v lxc-start >/dev/null && run_lxc || echo "lxc: not installed" >&2 ;;
	runc) command -v runc >/dev/null && run_runc || echo "runc: not installed" >&2 ;;
	crun) command -v crun >/dev/null && run_crun || echo "crun: not installed" >&2 ;;
	*) bench_die "unknown system \`$s\` (strata, lxc, runc, crun)" ;;
	esac
done

printf '\n== %d idle busybox containers, %d client(s) at once ==\n' "$N" "$PAR"
printf '%-8s %9s %9s %9s %9s %9s %9s %9s %8s %10s %6s %5s\n' system start/ct stop/ct host/ct \
	own/ct beyond/ct slab/ct kern/ct helpers helperRSS tasks load
first=
for s in $SYSTEMS; do
	[ -n "${R_START[$s]:-}" ] || continue
	[ -n "$first" ] || first=$s
	printf '%-8s %7.2fms %7.2fms %7dkB %7dkB %7dkB %7dkB %7dkB %8d %8dkB %6d %5s\n' "$s" \
		"$(echo "${R_START[$s]} / $N" | bc -l)" "$(echo "${R_STOP[$s]} / $N" | bc -l)" \
		"${R_HOST[$s]}" "${R_OWN[$s]}" $((R_HOST[$s] - R_OWN[$s])) "${R_SLAB[$s]}" "${R_KERN[$s]}" \
		"${R_HELP[$s]}" "${R_HELPRSS[$s]}" "${R_NPROC[$s]}" "${R_LOAD[$s]}"
done
if [ -n "$first" ]; then
	printf '\nratios to %s (start/ct, beyond/ct, kern/ct):\n' "$first"
	for s in $SYSTEMS; do
		[ -n "${R_START[$s]:-}" ] || continue
		b=$((R_HOST[$first] - R_OWN[$first]))
		printf '%-8s start %6.2f   beyond %6.2f   kern %6.2f\n' "$s" \
			"$(echo "${R_START[$s]} / ${R_START[$first]}" | bc -l)" \
			"$(echo "($((R_HOST[$s] - R_OWN[$s]))) / ($b + 0.000001)" | bc -l)" \
			"$(echo "${R_KERN[$s]} / (${R_KERN[$first]} + 0.000001)" | bc -l)"
	done
fi
