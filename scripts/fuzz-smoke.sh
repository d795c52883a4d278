#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz) in build-fuzz with clang and run
# each for a few seconds: a smoke check that no parser crashes on the first
# million inputs. Seeds: tests/fuzz/corpus/<target>/; dictionary:
# tests/fuzz/<target>.dict. Findings (crash-*, leak-*, timeout-*) are kept in
# build-fuzz/findings/<target>/.
#
#   scripts/fuzz-smoke.sh              every target, FUZZ_SECONDS (5) each
#   scripts/fuzz-smoke.sh fuzz_NAME    one target
set -euo pipefail

cd "$(dirname "$0")/.."
SRC=$PWD
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_EACH=${FUZZ_SECONDS:-5}
log() { printf 'fuzz-smoke: %s\n' "$*" >&2; }

command -v clang >/dev/null || { log "clang is missing (run scripts/deps.sh)"; exit 1; }

if [ -f "$BUILD/build.ninja" ]; then
	meson setup --reconfigure "$BUILD" -Dfuzz=true -Db_sanitize=address >/dev/null
else
	CC=clang meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address -Dbuildtype=debugoptimized >/dev/null
fi

mapfile -t targets < <(ninja -C "$BUILD" -t targets all | sed -n 's|^\(tests/fuzz/fuzz_[A-Za-z0-9_]*\): .*|\1|p' | sort -u)
if [ $# -gt 0 ]; then
	want=("$@")
	targets=()
	for w in "${want[@]}"; do targets+=("tests/fuzz/$w"); done
fi
[ ${#targets[@]} -gt 0 ] || { log "no fuzz targets found in $BUILD"; exit 1; }

log "building ${#targets[@]} targets in $BUILD"
ninja -C "$BUILD" "${targets[@]}" >"$BUILD/fuzz-build.log" 2>&1 || {
	tail -n 30 "$BUILD/fuzz-build.log" >&2
	log "build failed (full log: $BUILD/fuzz-build.log)"
	exit 1
}

failed=()
for t in "${targets[@]}"; do
	name=$(basename "$t")
	work=$(mktemp -d "/tmp/strata-fuzz-$name-XXXXXX")
	findings="$BUILD/findings/$name"
	mkdir -p "$findings"
	args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$findings/")
	[ -f "$SRC/tests/fuzz/$name.dict" ] && args+=(-dict="$SRC/tests/fuzz/$name.dict")
	seeds=()
	[ -d "$SRC/tests/fuzz/corpus/$name" ] && seeds+=("$SRC/tests/fuzz/corpus/$name")
	if "$BUILD/$t" "${args[@]}" "$work" "${seeds[@]}" >"$findings/run.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$findings/run.log" | tail -n1)
		printf 'fuzz-smoke: %-28s ok   (%s runs in %ss)\n' "$name" "${runs:-?}" "$SECONDS_EACH"
	else
		printf 'fuzz-smoke: %-28s FAIL (see %s)\n' "$name" "$findings/run.log"
		grep -E 'ERROR|SUMMARY|Test unit written' "$findings/run.log" | head -n 5 >&2 || true
		failed+=("$name")
	fi
	rm -rf "$work"
done

if [ ${#failed[@]} -gt 0 ]; then
	log "failed: ${failed[*]}"
	exit 1
fi
log "all ${#targets[@]} targets ok"
