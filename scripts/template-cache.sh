#!/usr/bin/env bash
# Build a template once per machine and keep its image in the cache, for the
# tests that boot a full OS (the systemd tests of test_daemon, test_security,
# test_checkpoint):
#
#   scripts/template-cache.sh [NAME]          (NAME: debian-12)
#
# The image goes to $CACHE/images/NAME-<recipe hash>.sqfs, with the stable
# link $CACHE/images/NAME.sqfs pointing at it; a recipe that did not change
# is not built again. The debootstrap tree is cached by the builder itself
# ($CACHE/rootfs/NAME-<recipe hash>). Prints the image path on its last line.
#
# Environment: BUILD_DIR (build: where strata-tmplctl is), CACHE
# (/var/cache/strata). Exit 0: image ready; 77: skipped (not root, or the
# Debian mirror cannot be reached and nothing is cached); else: failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
NAME=${1:-debian-12}
BUILD=${BUILD_DIR:-build}
CACHE=${CACHE:-/var/cache/strata}
RECIPE=templates/recipes/$NAME.recipe
TMPLCTL=$BUILD/templates/strata-tmplctl

[ "$(id -u)" = 0 ] || { echo "template-cache: skipped: needs root" >&2; exit 77; }
[ -f "$RECIPE" ] || { echo "template-cache: no recipe $RECIPE" >&2; exit 2; }
[ -x "$TMPLCTL" ] || { echo "template-cache: $TMPLCTL not built" >&2; exit 2; }

hash=$(sha256sum "$RECIPE" | cut -c1-16)
images=$CACHE/images
image=$images/$NAME-$hash.sqfs
link=$images/$NAME.sqfs

if [ -s "$image" ]; then
	ln -sfn "$(basename "$image")" "$link"
	echo "template-cache: $NAME: cached image (recipe $hash)"
	echo "$image"
	exit 0
fi

# The first Debian mirror apt uses, as the builder picks it.
mirror() {
	local f u
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		u=$(awk '/^URIs:/ && !/security/ { print $2; exit }' "$f")
		[ -n "$u" ] && { echo "$u"; return; }
	done
	awk '/^deb / && $2 !~ /^\[/ && !/security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null
}

if [ ! -d "$CACHE/rootfs/$NAME-$hash" ]; then
	url=$(mirror)
	hostport=${url#*://}
	hostport=${hostport%%/*}
	host=${hostport%%:*}
	port=80
	[[ $url == https://* ]] && port=443
	[[ $hostport == *:* ]] && port=${hostport##*:}
	if [ -z "$host" ] || ! timeout 10 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
		echo "template-cache: skipped: the Debian mirror (${url:-none in /etc/apt}) cannot be" \
			"reached and no $NAME tree is cached in $CACHE/rootfs" >&2
		exit 77
	fi
	echo "template-cache: $NAME: debootstrap from $url (a few minutes on a fresh machine)"
fi

work=$(mktemp -d /tmp/strata-tmplcache-XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
if ! "$TMPLCTL" -T "$work/templates" -C "$CACHE" -r "$work/run" build "$NAME" 2>&1 |
	tee "$work/out" >&2; then
	echo "template-cache: building $NAME failed" >&2
	exit 1
fi
built=$(awk -F'\t' '{ print $NF }' "$work/out" | grep '/image.sqfs$' | tail -n1)
[ -s "$built" ] || { echo "template-cache: no image built" >&2; exit 1; }
mkdir -p "$images" || exit 1
cp "$built" "$image.tmp-$$" && sync "$image.tmp-$$" && mv "$image.tmp-$$" "$image" || exit 1
ln -sfn "$(basename "$image")" "$link"
# images of older versions of this recipe go (not those of NAME-something-else)
for old in "$images/$NAME"-*.sqfs; do
	[[ $old =~ /$NAME-[0-9a-f]{16}\.sqfs$ ]] && [ "$old" != "$image" ] && rm -f "$old"
done
echo "template-cache: $NAME: built in $(($(date +%s) - t0)) s ($(du -h "$image" | cut -f1))"
echo "$image"
