#!/usr/bin/env bash
# bench/create.sh — time and disk per container create, Strata vs its peers.
#
#   sudo bench/create.sh [N]        (N containers, default 200)
#   BUILD=build-dir                 meson build dir with templates/strata-tmplctl
#
# Strata: private area create (3 mkdirs, no fsync) and overlay compose over the
# busybox template, measured in-process (what stratad does) and as one process
# per container (like lxc-copy). Peers: `lxc-copy -s -B overlayfs` snapshot
# clones of an LXC container made from the same busybox tree, and `cp -a` of
# the tree. Disk: du --apparent-size and allocated blocks per container.
# Page cache: Cached in /proc/meminfo while N composed roots read the same file.
# Everything lives under /tmp/stcow-bench-*, removed at exit.
set -euo pipefail

N=${1:-200}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$HERE/build}
CTL=$BUILD/templates/strata-tmplctl
[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
[ -x "$CTL" ] || { echo "bench: $CTL missing (ninja -C $BUILD templates/strata-tmplctl)" >&2; exit 1; }
export ASAN_OPTIONS=detect_leaks=0

W=$(mktemp -d /tmp/stcow-bench-XXXXXX)
chmod 755 "$W"
cleanup() {
	set +e
	grep -o " $W[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$W"
}
trap cleanup EXIT

ctl() { "$CTL" -T "$W/templates" -C "$W/cache" -r "$W/run" "$@"; }
ns() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.3f", (b - a) / n / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cached_kb() { awk '/^Cached:/ { print $2 }' /proc/meminfo; }

echo "bench: N=$N, work dir $W, kernel $(uname -r)"
ctl build busybox >/dev/null 2>&1
IMG=$(ctl find busybox | awk -F'\t' '{ print $NF }')

# --- Strata, in-process (the daemon's path)
mkdir -p "$W/s1"
ctl bench busybox "$N" "$W/s1" | tee "$W/s1.out"
s_create=$(awk '/^create/ { print $3 }' "$W/s1.out")
s_compose=$(awk '/^create/ { print $7 }' "$W/s1.out")

# --- Strata, one process per container (create, then create+compose)
mkdir -p "$W/s2/private" "$W/s2/root"
t0=$(ns)
for i in $(seq "$N"); do ctl create "$W/s2/private/$i"; done
t1=$(ns)
sp_create=$(ms "$t0" "$t1" "$N")
t0=$(ns)
for i in $(seq "$N"); do ctl mount busybox "p$i" "$W/s2/private/$i" "$W/s2/root/$i"; done
t1=$(ns)
sp_compose=$(ms "$t0" "$t1" "$N")
for i in $(seq "$N"); do ctl umount busybox "p$i" "$W/s2/root/$i"; done

# disk of a fresh private area (created, never mounted), and after one mount
# (overlayfs adds work/work); nothing written in either
ctl create "$W/fresh"
s_app=$(du -s --apparent-size -B1 "$W/fresh" | cut -f1)
s_blk=$(du -s -B1 "$W/fresh" | cut -f1)
s_blk_m=$(du -s -B1 "$W/s1/private/0" | cut -f1)
s_blk_avg=$(du -s -B1 "$W/s1/private" | awk -v n="$N" '{ printf "%d", $1 / n }')

# --- rebase report: 100 stopped containers that each changed 3 files, onto
# version 2 (the runtime's rebase is a config change plus this report)
RBN=$(( N < 100 ? N : 100 ))
ctl build busybox >/dev/null 2>&1
for i in $(seq 0 $(( RBN - 1 ))); do
	u=$W/s1/private/$i/upper
	mkdir -p "$u/etc" "$u/bin"
	echo "ct$i" >"$u/etc/hostname"; echo x >"$u/etc/new"; mknod "$u/bin/vi" c 0 0
done
t0=$(ns)
ctl shadows busybox@2 $(for i in $(seq 0 $(( RBN - 1 ))); do echo "$W/s1/private/$i"; done) >"$W/shadows.out"
t1=$(ns)
r_ms=$(ms "$t0" "$t1" 1)
r_lines=$(wc -l <"$W/shadows.out")

# --- LXC: a container from the same tree, and N snapshot clones
LXP=$W/lxc
mkdir -p "$LXP/base"
unsquashfs -q -d "$LXP/base/rootfs" "$IMG" >/dev/null
cat >"$LXP/base/config" <<CONF
lxc.uts.name = base
lxc.rootfs.path = dir:$LXP/base/rootfs
lxc.net.0.type = empty
lxc.apparmor.profile = unconfined
CONF
t0=$(ns)
for i in $(seq "$N"); do lxc-copy -P "$LXP" -n base -N "c$i" -s -B overlayfs >/dev/null; done
t1=$(ns)
l_create=$(ms "$t0" "$t1" "$N")
l_app=$(du -s --apparent-size -B1 "$LXP/c1" | cut -f1)
l_blk=$(du -s -B1 "$LXP/c1" | cut -f1)

# --- cp -a of the same tree (and of Debian minbase when it is cached)
CPN=$(( N < 20 ? N : 20 ))
t0=$(ns)
for i in $(seq "$CPN"); do cp -a "$LXP/base/rootfs" "$W/cp$i"; done
t1=$(ns)
c_create=$(ms "$t0" "$t1" "$CPN")
c_blk=$(du -s -B1 "$W/cp1" | cut -f1)
DEB=$(ls -d /var/cache/strata/rootfs/debian-12-minimal-* 2>/dev/null | grep -v '\.tmp-' | head -1 || true)
if [ -n "$DEB" ]; then
	sync
	t0=$(ns); cp -a "$DEB" "$W/cpdeb"; sync -f "$W/cpdeb"; t1=$(ns)
	d_create=$(ms "$t0" "$t1" 1)
	d_blk=$(du -s -B1 "$W/cpdeb" | cut -f1)
fi

# --- page cache: N composed roots read the same 2 MB file
PCN=$(( N < 50 ? N : 50 ))
mkdir -p "$W/pc/private" "$W/pc/root"
for i in $(seq "$PCN"); do
	ctl create "$W/pc/private/$i"
	ctl mount busybox "pc$i" "$W/pc/private/$i" "$W/pc/root/$i"
done
c0=$(cached_kb)
cat "$W/pc/root/1/bin/busybox" >/dev/null
c1=$(cached_kb)
for i in $(seq 2 "$PCN"); do cat "$W/pc/root/$i/bin/busybox" >/dev/null; done
c2=$(cached_kb)
for i in $(seq "$PCN"); do ctl umount busybox "pc$i" "$W/pc/root/$i"; done
bb_kb=$(( $(stat -c %s /bin/busybox) / 1024 ))

echo
echo "== per container (N=$N)            time/create   ratio to lxc-copy"
printf "strata create, in-process         %8s ms   %s\n" "$s_create" "$(ratio "$s_create" "$l_create")"
printf "strata create+compose, in-proc    %8s ms   %s\n" "$(awk -v a="$s_create" -v b="$s_compose" 'BEGIN{printf "%.3f", a+b}')" \
	"$(ratio "$(awk -v a="$s_create" -v b="$s_compose" 'BEGIN{print a+b}')" "$l_create")"
printf "strata create, process each       %8s ms   %s\n" "$sp_create" "$(ratio "$sp_create" "$l_create")"
printf "strata compose, process each      %8s ms\n" "$sp_compose"
printf "lxc-copy -s -B overlayfs          %8s ms   1.00\n" "$l_create"
printf "cp -a busybox tree (x%s)          %8s ms   %s\n" "$CPN" "$c_create" "$(ratio "$c_create" "$l_create")"
[ -n "$DEB" ] && printf "cp -a Debian minbase (x1, synced) %8s ms\n" "$d_create"
echo
echo "== disk per fresh container          apparent     allocated"
printf "strata private area, created      %8s B   %8s B\n" "$s_app" "$s_blk"
printf "strata private area, mounted once             %10s B (mean of N: %s B)\n" "$s_blk_m" "$s_blk_avg"
printf "lxc-copy -s clone                 %8s B   %8s B\n" "$l_app" "$l_blk"
printf "cp -a busybox tree                            %10s B\n" "$c_blk"
[ -n "$DEB" ] && printf "cp -a Debian minbase                          %10s B\n" "$d_blk"
printf "ratio strata/lxc (allocated)      %s\n" "$(ratio "$s_blk" "$l_blk")"
echo
echo "== rebase report for $RBN stopped containers: $r_ms ms in all ($r_lines shadowed paths)"
echo
echo "== page cache: $PCN composed roots read /bin/busybox (${bb_kb} KiB)"
echo "first reader: Cached +$(( c1 - c0 )) KiB; the other $(( PCN - 1 )): +$(( c2 - c1 )) KiB in all"
