#!/usr/bin/env bash
# Container lifecycle latency, Strata against its peers, side by side
# (issue 4's figures). Root; runs hyperfine; prints medians and ratios.
#
#   bench/lifecycle.sh [RUNS]        (default 30 runs each)
#
# 1. start: `strata start` of an existing busybox container until its init
#    runs, against `runc run`, `lxc-start -F`, `lxc-execute`, `systemd-nspawn`
#    and the kernel's floor `unshare -fpmiun --mount-proc` running /bin/true;
#    and `crun run`: on this hybrid host Debian 12's crun runs only from a
#    private mount namespace that hides the cgroup2 mount (bench/lib.sh,
#    bench_crun_works), entered with `nsenter` for each run; that wrapper's
#    own cost is measured alone (`nsenter -t PID -m /bin/true`).
# 2. lifecycle: create, start, stop, destroy of a container (four strata
#    commands from one /bin/sh script), against the peers' whole run of
#    /bin/true; back to back, and again with 0.2 s of idle before each run.
# 3. exec: `strata exec2 CT true` against `nsenter`, `lxc-attach`,
#    `runc exec` and `crun exec` (each into a running container of its own).
set -euo pipefail
RUNS=${1:-30}
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || bench_die "must run as root"
for t in hyperfine runc lxc-start lxc-execute lxc-attach systemd-nspawn unshare nsenter; do
	command -v $t >/dev/null || bench_die "$t missing (run scripts/deps.sh)"
done

LXCPATH=
CRUN=
# the peers' containers first: bench_daemon_stop removes $BENCH_DIR, their state
cleanup() {
	[ -z "$LXCPATH" ] || lxc-stop -k -n $LXC_CT -P "$LXCPATH" >/dev/null 2>&1 || true
	runc --root "$BENCH_DIR/runc" delete -f "$BENCH_NAME-runc-exec" >/dev/null 2>&1 || true
	[ -z "$CRUN" ] || $CRUN --root "$BENCH_DIR/crun" delete -f "$BENCH_NAME-crun-exec" >/dev/null 2>&1 || true
	bench_crun_stop
	bench_daemon_stop
}
trap cleanup EXIT
bench_build
bench_daemon_start
bench_peer_setup
$STRATA template build busybox >/dev/null
$STRATA create 101 --ostemplate busybox >/dev/null

peers=(
	"runc --root $BENCH_DIR/runc run -b $OCI $BENCH_NAME-runc"
	"lxc-start -F -n $LXC_CT -P $LXCPATH -- /bin/true"
	"lxc-execute -n $LXC_CT -P $LXCPATH -- /bin/true"
	"systemd-nspawn --register=no --keep-unit -q -D $PEER_ROOTFS /bin/true"
	"unshare -fpmiun --mount-proc true"
)
if bench_crun_works; then
	peers=("$CRUN --root $BENCH_DIR/crun run -b $OCI $BENCH_NAME-crun" "${peers[@]}")
	[ -z "$CRUN_FLOOR" ] || peers+=("$CRUN_FLOOR")
else
	CRUN=
	echo "crun: not run (it does not run on this host even from a private mount namespace)" >&2
fi

# START_PAUSE (s, default 0.2) after the stop: a start right behind a stop
# finds the kernel's cgroup attach lock still in its writer mode from the
# stop (no RCU grace period to wait for), which no user start sees
printf '#!/bin/sh\n%s stop --fast 101 >/dev/null 2>&1 || true\nsleep %s\n' "$STRATA" \
	"${START_PAUSE:-0.2}" >"$BENCH_DIR/stop101"
chmod +x "$BENCH_DIR/stop101"
echo "== start of an existing container until its init runs =="
bench_hyperfine start -r "$RUNS" -w 3 \
	--prepare "$BENCH_DIR/stop101" -n "strata start" "$STRATA start 101" \
	"${peers[@]}"

echo "== whole lifecycle (create, start, stop, destroy) =="
$STRATA stop --fast 101 >/dev/null 2>&1 || true
cat >"$BENCH_DIR/lifecycle" <<SH
#!/bin/sh
set -e
$STRATA create 102 --ostemplate busybox >/dev/null
$STRATA start 102 >/dev/null
$STRATA stop --fast 102 >/dev/null
$STRATA destroy 102 >/dev/null
SH
chmod +x "$BENCH_DIR/lifecycle"
echo "-- back to back --"
bench_hyperfine lifecycle -r "$RUNS" -w 3 -n "strata create+start+stop+destroy" "$BENCH_DIR/lifecycle" \
	"${peers[@]}"
# the same 0.2 s of idle before every run of every command, as the start
# row has: a container is mostly run by a user on a quiet host, and a run
# right behind another finds the kernel's cgroup attach lock still in the
# writer mode the previous one left it in (bench/README.md)
echo "-- after ${START_PAUSE:-0.2} s idle --"
bench_hyperfine lifecycle-idle -r "$RUNS" -w 3 --prepare "sleep ${START_PAUSE:-0.2}" \
	-n "strata create+start+stop+destroy" "$BENCH_DIR/lifecycle" "${peers[@]}"

echo "== exec into a running container =="
$STRATA start 101 >/dev/null
pid=$($STRATA list -H -o ctid,pid 101 2>/dev/null | awk '{print $2}' || true)
lxc-start -d -n $LXC_CT -P "$LXCPATH" -- /bin/sleep 1000
exec_peers=("lxc-attach -n $LXC_CT -P $LXCPATH -- /bin/true")
if [ -n "$pid" ] && [ "$pid" -gt 0 ] 2>/dev/null; then
	exec_peers+=("nsenter -a -t $pid /bin/true")
fi
# the OCI peers exec into a container of their own running sleep
OCI_SLEEP=$BENCH_DIR/oci-sleep
mkdir -p "$OCI_SLEEP"
sed -e 's|"/bin/true"|"/bin/sleep", "1000"|' "$OCI/config.json" >"$OCI_SLEEP/config.json"
runc --root "$BENCH_DIR/runc" run -d -b "$OCI_SLEEP" "$BENCH_NAME-runc-exec" >/dev/null
exec_peers+=("runc --root $BENCH_DIR/runc exec $BENCH_NAME-runc-exec /bin/true")
if [ -n "$CRUN" ]; then
	$CRUN --root "$BENCH_DIR/crun" run -d -b "$OCI_SLEEP" "$BENCH_NAME-crun-exec" >/dev/null
	exec_peers+=("$CRUN --root $BENCH_DIR/crun exec $BENCH_NAME-crun-exec /bin/true")
	[ -z "$CRUN_FLOOR" ] || exec_peers+=("$CRUN_FLOOR")
fi
bench_hyperfine exec -r "$RUNS" -w 3 -n "strata exec2" "$STRATA exec2 101 true" "${exec_peers[@]}"
