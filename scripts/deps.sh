#!/usr/bin/env bash
# Install everything Strata needs to build, test and run its demo on Debian 12,
# and provide a CRIU that works on this kernel. Idempotent and quiet.
#
#   sudo scripts/deps.sh            packages + CRIU
#   STRATA_SKIP_CRIU=1 scripts/deps.sh   packages only
set -euo pipefail

log() { printf 'deps: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }

PKGS=(
	# build
	meson ninja-build pkg-config gcc clang clang-format
	libseccomp-dev libcap-dev libmnl-dev libcgroup-dev libsquashfuse-dev
	libcriterion-dev libsystemd-dev libjansson-dev libfuse3-dev
	libfuzzer-14-dev libclang-rt-14-dev
	# runtime
	criu squashfs-tools squashfuse fuse3 busybox-static debootstrap zstd
	iproute2 uidmap lxcfs
	# tests and benchmarks
	hyperfine iperf3 runc crun lxc systemd-container psmisc procps git
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${#missing[@]} packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# lxc's package may start lxc-net and lxcfs services where systemd runs; we do not need them.

if [ "${STRATA_SKIP_CRIU:-0}" != 1 ]; then
	"$(dirname "$0")/criu-provision.sh"
fi
