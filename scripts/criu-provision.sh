#!/usr/bin/env bash
# Provide a CRIU that works on this kernel, and a wrapper at $STRATA_PREFIX/bin/criu
# that Strata uses by default (CRIU_PATH in strata.conf overrides it).
#
# The distribution's CRIU is used when it is 4.2 or newer and `criu check` passes.
# Otherwise CRIU from Debian unstable is installed into a private root
# ($STRATA_PREFIX/criu-root, debootstrap's default mirror) and run through that
# root's own dynamic loader. The host's apt sources are never touched.
set -euo pipefail

PREFIX=${STRATA_PREFIX:-/opt/strata}
ROOT=$PREFIX/criu-root
WRAP=$PREFIX/bin/criu
log() { printf 'criu: %s\n' "$*" >&2; }

# version_ge A B: A >= B for dotted versions
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

criu_usable() { # $1: a criu command; usable = version >= 4.2 and `criu check` passes
	local v
	v=$("$1" --version 2>/dev/null | awk '/^Version:/ {print $2}') || return 1
	[ -n "$v" ] && version_ge "$v" 4.2 || return 1
	"$1" check >/dev/null 2>&1
}

write_wrapper() { # $1: the body's exec line
	mkdir -p "$PREFIX/bin"
	printf '#!/bin/sh\n# Installed by Strata scripts/criu-provision.sh\n%s\n' "$1" >"$WRAP.tmp"
	chmod 0755 "$WRAP.tmp"
	mv -f "$WRAP.tmp" "$WRAP"
}

if [ -x "$WRAP" ] && criu_usable "$WRAP"; then
	exit 0
fi

# One provisioning at a time (parallel CI jobs, demo and tests together).
mkdir -p "$PREFIX"
exec 9>"$PREFIX/.provision.lock"
flock 9
if [ -x "$WRAP" ] && criu_usable "$WRAP"; then
	exit 0 # another run finished it while we waited
fi

sys=$(command -v criu || true)
if [ -n "$sys" ] && criu_usable "$sys"; then
	log "using the distribution's CRIU ($("$sys" --version | awk '/^Version:/ {print $2}'))"
	write_wrapper "exec $sys \"\$@\""
	exit 0
fi

arch=$(dpkg --print-architecture)
case "$arch" in
amd64) ldso=/lib64/ld-linux-x86-64.so.2 multiarch=x86_64-linux-gnu ;;
arm64) ldso=/lib/ld-linux-aarch64.so.1 multiarch=aarch64-linux-gnu ;;
*) log "no private CRIU recipe for architecture $arch"; exit 1 ;;
esac

if [ ! -x "$ROOT/usr/sbin/criu" ]; then
	log "the distribution's CRIU is older than 4.2 or fails 'criu check' on this kernel;"
	log "installing CRIU from Debian unstable into $ROOT (about a minute)"
	command -v debootstrap >/dev/null || { log "debootstrap is missing (run scripts/deps.sh)"; exit 1; }
	rm -rf "$ROOT.tmp"
	mkdir -p "$PREFIX"
	if ! debootstrap --variant=minbase --include=criu sid "$ROOT.tmp" >"$PREFIX/criu-debootstrap.log" 2>&1; then
		log "debootstrap failed; see $PREFIX/criu-debootstrap.log"
		tail -n 5 "$PREFIX/criu-debootstrap.log" >&2
		rm -rf "$ROOT.tmp"
		exit 1
	fi
	rm -rf "$ROOT"
	mv "$ROOT.tmp" "$ROOT"
fi

write_wrapper "R=$ROOT
exec \"\$R$ldso\" --library-path \"\$R/lib/$multiarch:\$R/usr/lib/$multiarch\" \"\$R/usr/sbin/criu\" \"\$@\""

if ! criu_usable "$WRAP"; then
	log "the private CRIU in $ROOT does not pass 'criu check':"
	"$WRAP" check 2>&1 | tail -n 5 >&2 || true
	exit 1
fi
log "using CRIU $("$WRAP" --version | awk '/^Version:/ {print $2}') from $ROOT"
