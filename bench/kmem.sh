#!/usr/bin/env bash
# Where the kernel memory of one idle container goes: Strata's against
# crun's (or any of density.sh's systems), per slab cache, Percpu,
# KernelStack, PageTables and vmalloc, plus the mounts, namespaces and fds
# that come with a container. Root.
#
#   bench/kmem.sh [N]               (default 200; SYSTEMS="crun strata")
#   bench/kmem.sh --report DIR      (report again from a kept run's snapshots)
#   KMEM_KEEP=DIR bench/kmem.sh 200 (keep the snapshots in DIR)
#   TOP=40 bench/kmem.sh            (rows of the per-cache table; default 25)
#   KMEM_PROBE=no bench/kmem.sh     (skip the memcg probe: 20 empty memory
#                                    cgroups stperf-kmem-probe-PID/N made
#                                    and removed to weigh one memcg)
#
# It runs bench/density.sh N with KMEM_DIR set (every density.sh variable
# works: BUILD, BENCH_LXCFS, BATCH...), which snapshots /proc/slabinfo,
# /proc/meminfo and /proc/vmallocinfo right before each system's N starts
# (after the host settled) and right after its "after" sample, and records
# one init's mountinfo and namespaces, the tasks in the containers' cgroups
# and, for Strata, the daemon's open fds before and after.
#
# Per container, for each system, over N:
#   - per slab cache: the growth of its memory (num_slabs x pages per slab,
#     what the slab holds, partly empty slabs included) in kB, and of its
#     active objects (objects per container). SLUB merges caches of one
#     size and flags: "kmalloc-256" or "dentry" may hold others' objects
#     (`ls -l /sys/kernel/slab` shows the aliases). Sorted by the largest
#     growth of either system; "diff" is the second system minus the first;
#   - Slab, Percpu, KernelStack, PageTables (meminfo, kB; their sum is
#     density.sh's kern/ct) and VmallocUsed;
#   - vmalloc by caller (/proc/vmallocinfo pages=, kB): real memory that
#     kern/ct does not count (e.g. the kernel stacks are vmalloc'd, and so
#     are counted twice if added to KernelStack);
#   - what one more memory cgroup costs here in kmalloc-1k (20 empty ones
#     made and removed): the shrinker maps every memcg holds for all the
#     host's memcg-aware shrinkers (one per superblock), up to the highest
#     shrinker id used since boot. This is why kern/ct grows with N and
#     with the host's past peaks, for every runtime alike;
#   - mounts in one init's mount namespace, namespaces of its own (those
#     that differ from pid 1's), tasks per container, the daemon's fds and
#     its RssAnon growth per container (Strata: the daemon's own memory for
#     a container, part of beyond/ct).
# The machine may be shared: other work's slab churn lands in these deltas
# too (dentry, buffer_head, kmalloc-*: a few kB per container at N=200).
set -euo pipefail
cd "$(dirname "$0")/.."

TOP=${TOP:-25}
if [ "${1:-}" = --report ]; then
	DIR=${2:?usage: bench/kmem.sh --report DIR}
else
	N=${1:-200}
	[ "$(id -u)" = 0 ] || { echo "kmem.sh: must run as root" >&2; exit 1; }
	DIR=${KMEM_KEEP:-$(mktemp -d /tmp/stperf-kmem.XXXXXX)}
	mkdir -p "$DIR"
	SYSTEMS=${SYSTEMS:-crun strata} KMEM_DIR=$DIR bench/density.sh "$N"
	[ -n "${KMEM_KEEP:-}" ] || trap 'rm -rf "$DIR"' EXIT
fi

systems=()
for f in "$DIR"/*.after.slabinfo; do
	[ -f "$f" ] || continue
	s=${f##*/}
	systems+=("${s%%.*}")
done
[ "${#systems[@]}" -gt 0 ] || { echo "kmem.sh: no snapshots in $DIR" >&2; exit 1; }
# crun first when present: the reference
mapfile -t systems < <(printf '%s\n' "${systems[@]}" | awk '$0 == "crun" { print; next } { o[++n] = $0 } END { for (i = 1; i <= n; i++) print o[i] }')

# "cache kB objs" per container for one system
slab_delta() {
	local s=$1 n
	n=$(cat "$DIR/$s.n")
	awk -v n="$n" 'FNR == NR && FNR > 2 { kb[$1] = $15 * $6 * 4; ob[$1] = $2; next }
		FNR > 2 { d = $15 * $6 * 4 - kb[$1]; o = $2 - ob[$1]
			if (d != 0 || o != 0) printf "%s %.2f %.2f\n", $1, d / n, o / n }' \
		"$DIR/$s.before.slabinfo" "$DIR/$s.after.slabinfo"
}
meminfo_delta() {
	local s=$1 n
	n=$(cat "$DIR/$s.n")
	awk -v n="$n" 'FNR == NR { b[$1] = $2; next }
		{ k = substr($1, 1, length($1) - 1); printf "%s %.1f\n", k, ($2 - b[$1]) / n }' \
		"$DIR/$s.before.meminfo" "$DIR/$s.after.meminfo"
}
vmalloc_delta() {
	local s=$1 n
	n=$(cat "$DIR/$s.n")
	awk -v n="$n" '{ c = $3; p = 0
			for (i = 4; i <= NF; i++) if ($i ~ /^pages=/) p = substr($i, 7) * 4
			if (FNR == NR) b[c] += p; else a[c] += p }
		END { for (c in a) if (a[c] != b[c]) printf "%s %.1f\n", c, (a[c] - b[c]) / n
		      for (c in b) if (!(c in a)) printf "%s %.1f\n", c, -b[c] / n }' \
		"$DIR/$s.before.vmallocinfo" "$DIR/$s.after.vmallocinfo"
}

# side by side: key, then kB (and objs) of each system
side() { # function, columns per system (1 or 2)
	local fn=$1 cols=$2 s tmp
	tmp=$(mktemp)
	for s in "${systems[@]}"; do
		"$fn" "$s" | sed "s/^/$s /"
	done >"$tmp"
	awk -v cols="$cols" -v sysl="${systems[*]}" -v top="$3" '
		BEGIN { ns = split(sysl, sy, " ") }
		{ key[$2] = 1; v[$1, $2] = $3; if (cols > 1) o[$1, $2] = $4 }
		END {
			printf "%-28s", ""
			for (i = 1; i <= ns; i++) printf((cols > 1 ? " %10s %8s" : " %10s"), sy[i] " kB", "objs")
			if (ns == 2) printf " %9s", "diff kB"
			printf "\n"
			for (k in key) {
				m = 0
				for (i = 1; i <= ns; i++) { x = v[sy[i], k] + 0; if (x < 0) x = -x; if (x > m) m = x
					if (cols > 1) { y = o[sy[i], k] + 0; if (y < 0) y = -y; if (y / 8 > m) m = y / 8 } }
				line = sprintf("%-28s", k)
				for (i = 1; i <= ns; i++) line = line sprintf((cols > 1 ? " %10.2f %8.2f" : " %10.1f"), v[sy[i], k] + 0, o[sy[i], k] + 0)
				if (ns == 2) line = line sprintf(" %9.2f", v[sy[2], k] - v[sy[1], k])
				printf "%012.3f %s\n", m, line | "sort -r | cut -c14- | head -n " top
			}
		}' "$tmp"
	rm -f "$tmp"
}

printf '== kernel memory per container (%s; N=%s) ==\n\n' "${systems[*]}" "$(cat "$DIR/${systems[0]}.n")"
printf -- '-- meminfo (kB per container; kern = Slab+Percpu+KernelStack+PageTables) --\n'
for s in "${systems[@]}"; do
	meminfo_delta "$s" | awk -v s="$s" '{ v[$1] = $2 }
		END { printf "%-8s Slab %7.1f  SReclaimable %6.1f  SUnreclaim %6.1f  Percpu %6.1f  KernelStack %5.1f  PageTables %5.1f  kern %7.1f  VmallocUsed %6.1f  MemAvailable drop %7.1f\n",
			s, v["Slab"], v["SReclaimable"], v["SUnreclaim"], v["Percpu"], v["KernelStack"], v["PageTables"],
			v["Slab"] + v["Percpu"] + v["KernelStack"] + v["PageTables"], v["VmallocUsed"], -v["MemAvailable"] }'
done
printf '\n-- slab caches, top %d by growth (kB and objects per container) --\n' "$TOP"
side slab_delta 2 "$TOP"
printf '\n-- vmalloc by caller (kB per container) --\n'
side vmalloc_delta 1 12
# What one more memory cgroup costs in kmalloc-1k on this host: with
# memcg-aware shrinkers (one per superblock) every memcg holds a shrinker
# map of 520-byte units (kmalloc-1k), one per 64 shrinker ids up to the
# highest id ever used since boot, so the figure tracks the host's past peak
# of superblocks (e.g. N containers x their superblocks each).
memcg_probe() {
	local base=/sys/fs/cgroup/memory d a b i
	[ "${KMEM_PROBE:-yes}" = yes ] && [ "$(id -u)" = 0 ] && [ -d "$base" ] || return 0
	d=$base/stperf-kmem-probe-$$
	mkdir "$d" || return 0
	a=$(awk '$1 == "kmalloc-1k" { print $2 }' /proc/slabinfo)
	for i in $(seq 20); do mkdir "$d/$i"; done
	b=$(awk '$1 == "kmalloc-1k" { print $2 }' /proc/slabinfo)
	for i in $(seq 20); do rmdir "$d/$i"; done
	rmdir "$d"
	printf '\n-- memcg shrinker maps: %d kmalloc-1k objects per new memory cgroup (20 probed): shrinker ids up to ~%d --\n' \
		$(((b - a) / 20)) $(((b - a) / 20 * 64))
}
memcg_probe

printf '\n-- per container --\n'
for s in "${systems[@]}"; do
	n=$(cat "$DIR/$s.n")
	awk -v s="$s" -v n="$n" -v f0="$(cat "$DIR/$s.daemon_fds0" 2>/dev/null || echo)" \
		-v a0="$(cat "$DIR/$s.daemon_anon0" 2>/dev/null || echo)" '
		{ v[$1] = $2 }
		END { printf "%-8s tasks %.2f  mounts %s  own namespaces %s  init fds %s", s, v["tasks"] / n, v["mounts"], v["namespaces"], v["init_fds"]
		      if (f0 != "" && ("daemon_fds" in v)) printf "  daemon fds %.2f", (v["daemon_fds"] - f0) / n
		      if (a0 != "" && ("daemon_anon" in v)) printf "  daemon RssAnon %.1f kB", (v["daemon_anon"] - a0) / n
		      printf "\n" }' "$DIR/$s.counts"
done
for s in "${systems[@]}"; do
	[ -f "$DIR/$s.mountinfo" ] || continue
	printf '\n-- %s: one init'"'"'s mounts (mount point, fs type, source) --\n' "$s"
	awk '{ for (i = 7; $i != "-"; i++); printf "  %-40s %-10s %s\n", $5, $(i + 1), $(i + 2) }' "$DIR/$s.mountinfo"
done
