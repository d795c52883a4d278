#!/usr/bin/env bash
# The README's first command: from a fresh Debian 12 machine to a running
# container.
#
#   sudo scripts/demo.sh
#
# Installs the dependencies, builds a release build (build-release/), installs
# it under PREFIX (/usr/local) so `strata` and `stratad` are on PATH, checks
# the host, starts stratad, builds the busybox template, creates and starts
# container 101 and shows it running. Parts of Strata still being written are
# named when they are missing, and the demo stops there (non-zero exit).
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build-release}
PREFIX=${PREFIX:-/usr/local}
CTID=${CTID:-101}
TEMPLATE=${TEMPLATE:-busybox}
export PATH="$PREFIX/bin:$PREFIX/sbin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
missing() {
	printf '\ndemo: not there yet: %s\n' "$*" >&2
	printf 'demo: stopping here; everything before this step worked.\n' >&2
	exit 2
}
fail() {
	printf '\ndemo: %s failed\n' "$*" >&2
	exit 1
}
show() { # print and run a command
	printf '$ %s\n' "$*"
	"$@"
}
# Does the installed strata know this verb? (Unknown verbs fail on --help.)
have_verb() { strata "$@" --help >/dev/null 2>&1; }

[ "$(id -u)" = 0 ] || { echo "demo: run as root (sudo scripts/demo.sh)" >&2; exit 1; }

step "dependencies (scripts/deps.sh)"
scripts/deps.sh || fail "scripts/deps.sh"

step "build ($BUILD) and install into $PREFIX"
# The paths of DESIGN.md and the man pages (/etc/strata, /var/lib/strata)
# whatever PREFIX is: given explicitly, because a build directory configured
# before meson.build's defaults keeps its old /usr/local/etc on --reconfigure.
OPTS=(--prefix="$PREFIX" -Dsysconfdir=/etc -Dlocalstatedir=/var -Dbuildtype=release -Dtests=disabled)
if [ -f "$BUILD/build.ninja" ]; then
	meson setup --reconfigure "$BUILD" "${OPTS[@]}" >/dev/null
else
	meson setup "$BUILD" "${OPTS[@]}" >/dev/null
fi || fail "meson setup"
ninja -C "$BUILD" >/dev/null || { ninja -C "$BUILD" | tail -n 30; fail "build"; }
meson install -C "$BUILD" --quiet || fail "meson install"

command -v strata >/dev/null || missing "the strata command (cli/main.c) is not built yet"

step "what this host can do"
have_verb check || missing "strata check (the CLI does not dispatch it yet)"
show strata check || fail "strata check (a required kernel feature is missing)"

step "group strata (who may use stratad besides root)"
if getent group strata >/dev/null; then
	echo "group strata exists"
else
	show groupadd --system strata || fail "groupadd strata"
fi
echo "(add a user with: usermod -aG strata USER; they log in again to have it)"

step "start stratad"
command -v stratad >/dev/null || missing "the daemon, stratad (runtime/)"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && systemctl cat stratad.service >/dev/null 2>&1; then
	show systemctl daemon-reload
	show systemctl start stratad.service || fail "systemctl start stratad"
elif strata list >/dev/null 2>&1; then
	echo "stratad is already running"
else
	stratad --help 2>&1 | grep -q -- '--daemon' || missing "stratad --daemon (background mode)"
	show stratad --daemon || fail "stratad --daemon"
fi
for _ in $(seq 1 50); do
	strata list >/dev/null 2>&1 && break
	sleep 0.2
done
strata list >/dev/null 2>&1 || fail "reaching stratad (strata list) within 10 s"

step "template $TEMPLATE"
have_verb template build || missing "strata template build"
show strata template build "$TEMPLATE" || fail "strata template build $TEMPLATE"

step "container $CTID"
have_verb create || missing "strata create"
if strata status "$CTID" 2>/dev/null | grep -qw exist; then
	echo "container $CTID exists from an earlier run: stopping and destroying it first"
	strata stop "$CTID" >/dev/null 2>&1 || true
	strata destroy "$CTID" >/dev/null 2>&1 || fail "strata destroy $CTID"
fi
show strata create "$CTID" --ostemplate "$TEMPLATE" || fail "strata create $CTID"
have_verb start || missing "strata start"
show strata start "$CTID" || fail "strata start $CTID"

step "running"
have_verb list || missing "strata list"
show strata list || fail "strata list"
have_verb exec || missing "strata exec"
show strata exec "$CTID" cat /etc/os-release || fail "strata exec $CTID"

printf '\ndemo: container %s is running. Try: strata enter %s; strata stop %s\n' "$CTID" "$CTID" "$CTID"
