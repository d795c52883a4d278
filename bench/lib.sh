# Shared helpers for the benchmarks (sourced, not run).
#
# - an optimised, unsanitised build of Strata in $BUILD (default build-bench);
# - a private stratad instance (its own config, dirs, socket and cgroup subtree
#   under $BENCH_DIR) so a benchmark never touches the host's real containers;
# - a busybox rootfs, an OCI bundle for runc/crun and an LXC config for the peers.
#
# Public tools only: hyperfine, awk, and the peers from Debian.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$BENCH_ROOT/build-bench}
BENCH_DIR=${BENCH_DIR:-/tmp/strata-bench}
BENCH_CACHE=${BENCH_CACHE:-/var/cache/strata/bench}
# cgroup subtree of the private daemon, and a prefix for the peers' container
# names (so two benchmark runs on one host do not collide)
BENCH_SUBTREE=${BENCH_SUBTREE:-strata-bench}
BENCH_NAME=${BENCH_NAME:-bench}
LXC_CT=${LXC_CT:-bbt}

bench_die() { echo "bench: $*" >&2; exit 1; }

bench_build() {
	if [ ! -d "$BUILD" ]; then
		meson setup "$BUILD" --buildtype=release -Db_sanitize=none -Dtests=disabled >/dev/null
	fi
	# BENCH_NOBUILD=1: measure the binaries as they are
	[ -n "${BENCH_NOBUILD:-}" ] ||
		ninja -C "$BUILD" runtime/stratad cli/strata templates/strata-init >/dev/null ||
		bench_die "build of stratad, strata and strata-init in $BUILD failed"
	STRATA="$BUILD/cli/strata --socket $BENCH_DIR/run/strata.sock"
	STRATAD=$BUILD/runtime/stratad
}

# Start a private daemon; bench_daemon_stop (trap it) stops it and removes
# every container it still has.
bench_daemon_start() {
	mkdir -p "$BENCH_DIR"
	# RUN_DIR on a tmpfs, as /run/strata is on a host: the state files, the
	# console logs and the template layers' reference files are written at
	# every start and stop (BENCH_RUN_TMPFS=0: leave it on $BENCH_DIR's disk)
	if [ "${BENCH_RUN_TMPFS:-1}" = 1 ] && ! mountpoint -q "$BENCH_DIR/run"; then
		mkdir -p "$BENCH_DIR/run"
		mount -t tmpfs -o mode=0755,size=64m strata-bench-run "$BENCH_DIR/run" ||
			bench_die "mount a tmpfs on $BENCH_DIR/run"
	fi
	cat >"$BENCH_DIR/strata.conf" <<CONF
CONF_DIR=$BENCH_DIR/ct
STATE_DIR=$BENCH_DIR/state
RUN_DIR=$BENCH_DIR/run
TEMPLATE_DIR=$BENCH_DIR/templates
PRIVATE_DIR=$BENCH_DIR/private
ROOT_DIR=$BENCH_DIR/root
CACHE_DIR=$BENCH_CACHE
SOCKET=$BENCH_DIR/run/strata.sock
CGROUP_SUBTREE=$BENCH_SUBTREE
RECIPES_DIR=$BENCH_ROOT/templates/recipes
SAMPLES_DIR=$BENCH_ROOT/runtime/samples
INIT_PATH=$BUILD/templates/strata-init
LOG_FILE=$BENCH_DIR/stratad.log
LOG_LEVEL=${BENCH_LOG_LEVEL:-warning}
VE_STOP_MODE=stop
LXCFS=${BENCH_LXCFS:-yes}
CONF
	# BENCH_START_WORKERS=N: the daemon's START_WORKERS (unset: its default;
	# a stratad older than the key refuses it)
	[ -z "${BENCH_START_WORKERS:-}" ] ||
		echo "START_WORKERS=$BENCH_START_WORKERS" >>"$BENCH_DIR/strata.conf"
	"$STRATAD" --config "$BENCH_DIR/strata.conf" --daemon --pidfile "$BENCH_DIR/stratad.pid" ||
		bench_die "stratad did not start (see $BENCH_DIR/stratad.log)"
	for _ in $(seq 50); do [ -S "$BENCH_DIR/run/strata.sock" ] && break; sleep 0.1; done
	$STRATA template list >/dev/null 2>&1 || bench_die "stratad does not answer"
}

bench_daemon_stop() {
	[ -n "${STRATA:-}" ] || return 0
	if [ -S "$BENCH_DIR/run/strata.sock" ]; then
		for ct in $($STRATA list -a -H -o ctid 2>/dev/null); do
			$STRATA stop --fast "$ct" >/dev/null 2>&1 || true
			$STRATA destroy "$ct" >/dev/null 2>&1 || true
		done
	fi
	[ -f "$BENCH_DIR/stratad.pid" ] && kill "$(cat "$BENCH_DIR/stratad.pid")" 2>/dev/null || true
	sleep 0.3
	if [ -d "$BENCH_DIR/run" ] && mountpoint -q "$BENCH_DIR/run"; then
		umount "$BENCH_DIR/run" 2>/dev/null || umount -l "$BENCH_DIR/run" || true
	fi
	rm -rf "$BENCH_DIR"
	# the daemon's cgroup subtree (empty now) in every hierarchy
	local d
	for d in /sys/fs/cgroup/*/"$BENCH_SUBTREE" /sys/fs/cgroup/"$BENCH_SUBTREE"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
	done
}

# A busybox rootfs for the peers, and an OCI bundle and LXC config over it.
bench_peer_setup() {
	local r=$BENCH_CACHE/rootfs
	if [ ! -x "$r/bin/busybox" ]; then
		mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,etc,usr/lib,run}
		cp /bin/busybox "$r/bin/busybox"
		for a in $("$r/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"; done
		echo 'ID=busybox' >"$r/usr/lib/os-release"
		echo 'root:x:0:0:root:/:/bin/sh' >"$r/etc/passwd"
	fi
	PEER_ROOTFS=$r
	OCI=$BENCH_DIR/oci
	mkdir -p "$OCI"
	(cd "$OCI" && rm -f config.json && runc spec)
	# /bin/true, no terminal, read-only root: the same work as the others.
	sed -i -e 's/"terminal": true/"terminal": false/' \
		-e 's/"sh"$/"\/bin\/true"/' -e 's/"readonly": false/"readonly": true/' \
		-e "s|\"path\": \"rootfs\"|\"path\": \"$r\"|" "$OCI/config.json"
	LXCPATH=$BENCH_DIR/lxc
	mkdir -p "$LXCPATH/$LXC_CT"
	cat >"$LXCPATH/$LXC_CT/config" <<CONF
lxc.uts.name = $LXC_CT
lxc.rootfs.path = dir:$r
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
lxc.mount.auto = proc:mixed sys:ro
CONF
}

# crun on this host. Debian 12's crun (1.8.1) refuses a hybrid layout whose
# cgroup2 hierarchy holds any controller (here hugetlb, which no v1
# hierarchy mounts): libcrun_cgroup_enter() (src/libcrun/cgroup.c) reads
# /sys/fs/cgroup/unified/cgroup.controllers in CGROUP_MODE_HYBRID and fails
# with "cgroups in hybrid mode not supported, drop all controllers from
# cgroupv2" before it looks at the cgroup manager, so neither
# --cgroup-manager=disabled nor a config without resources or cgroupsPath
# helps. Its mode detection (libcrun_get_cgroup_mode(): statfs of
# /sys/fs/cgroup, then of /sys/fs/cgroup/unified: cgroup2 there = hybrid,
# anything else or nothing = legacy) is what the workaround uses: crun runs
# in a private mount namespace (propagation private) whose /sys/fs/cgroup is
# a fresh tmpfs with bind mounts of the v1 hierarchies only, a plain v1
# host to crun, and puts its containers in the v1 hierarchies (they stay in
# the cgroup2 root cgroup). (A tmpfs over just /sys/fs/cgroup/unified is not
# enough: crun's v1 path then "enters" that directory for /proc/self/cgroup's
# 0:: line and writes cgroup.procs files into the tmpfs until it is full.)
# The host sees none of it: nothing of its /sys/fs/cgroup is unmounted,
# moved or changed.
#
# bench_crun_works: whether crun runs here; sets CRUN to the command that
# runs it (plain `crun` where it runs as it is, else `nsenter` into a
# namespace as above, held by a sleeping process CRUN_NS_PID) and
# CRUN_FLOOR to what that wrapper costs alone (empty for plain crun).
# bench_crun_stop (trap it) ends the holder.
CRUN_NS_PID=
bench_crun_works() {
	command -v crun >/dev/null || return 1
	CRUN=crun
	CRUN_FLOOR=
	if crun --root "$BENCH_DIR/crun" run -b "$OCI" "$BENCH_NAME-crun-probe" >/dev/null 2>&1; then
		return 0
	fi
	mkdir -p "$BENCH_DIR/crun-stage"
	# shellcheck disable=SC2016
	unshare -m --propagation private sh -c '
		set -e
		stage=$1
		mount --rbind /sys/fs/cgroup "$stage"
		mount -t tmpfs -o mode=0755,size=64k strata-bench-v1only /sys/fs/cgroup
		for d in "$stage"/*; do
			n=${d##*/}
			if [ -L "$d" ]; then
				ln -s "$(readlink "$d")" "/sys/fs/cgroup/$n"
			elif [ "$(stat -f -c %T "$d")" = cgroupfs ]; then
				mkdir "/sys/fs/cgroup/$n"
				mount --bind "$d" "/sys/fs/cgroup/$n"
			fi
		done
		umount -l "$stage"
		exec sleep infinity' sh "$BENCH_DIR/crun-stage" &
	CRUN_NS_PID=$!
	for _ in $(seq 50); do
		[ "$(readlink "/proc/$CRUN_NS_PID/exe" 2>/dev/null)" = "$(readlink -f "$(command -v sleep)")" ] && break
		sleep 0.05
	done
	CRUN="nsenter -t $CRUN_NS_PID -m crun"
	CRUN_FLOOR="nsenter -t $CRUN_NS_PID -m /bin/true"
	$CRUN --root "$BENCH_DIR/crun" run -b "$OCI" "$BENCH_NAME-crun-probe" >/dev/null 2>&1 && return 0
	bench_crun_stop
	return 1
}
bench_crun_stop() {
	[ -n "$CRUN_NS_PID" ] || return 0
	kill "$CRUN_NS_PID" 2>/dev/null || true
	wait "$CRUN_NS_PID" 2>/dev/null || true
	CRUN_NS_PID=
}

# bench_hyperfine NAME ARGS...: run hyperfine, print its table, and then
# each command's median and its ratio to the first command's median.
bench_hyperfine() {
	local name=$1; shift
	local csv=$BENCH_DIR/$name.csv
	hyperfine -N --style basic --export-csv "$csv" "$@" >&2
	awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{ med = $col["median"] * 1000; if (NR == 2) base = med
		  printf "%-50s median %8.2f ms   ratio to first %6.2f\n", $1, med, med / base }' "$csv"
}
