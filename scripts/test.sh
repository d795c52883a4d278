#!/usr/bin/env bash
# Install, build and run every test: the command of README and CI (.ci/run).
#
#   sudo scripts/test.sh
#
# Stages: deps (scripts/deps.sh), build (`build/`: gcc, --werror, ASan+UBSan),
# unit tests, templates (root only: the debian-12 image the systemd tests boot,
# built once per machine and cached by scripts/template-cache.sh), integration
# tests (root only), the release command line (static PIE; its end-to-end
# suites again, root only), fuzz smoke (scripts/fuzz-smoke.sh),
# clang-format check of every tracked .c/.h. Every stage runs even when an
# earlier one failed (except tests after a failed build); a summary follows
# and the exit status is non-zero if any stage failed.
#
# Environment: BUILD_DIR (build), FUZZ_SECONDS (5), SKIP_FUZZ=1, SKIP_DEPS=1,
# INTEGRATION_TIMEOUT_MULTIPLIER (1), INTEGRATION_TIMEOUT (600 s for the stage),
# SKIP_TEMPLATES=1 (the systemd tests then skip unless an image is cached).
set -uo pipefail
# shellcheck disable=SC2317  # stage functions are called through run_stage

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD_DIR:-build}
START=$(date +%s)
declare -a STAGE_NAME=() STAGE_RESULT=() STAGE_TIME=()
FAILED=0

say() { printf '\n==== %s ====\n' "$*"; }
record() { # name result seconds
	STAGE_NAME+=("$1")
	STAGE_RESULT+=("$2")
	STAGE_TIME+=("$3")
	[ "$2" = FAIL ] && FAILED=1
	return 0
}
run_stage() { # name command...
	local name=$1 t0 rc
	shift
	say "$name"
	t0=$(date +%s)
	"$@" </dev/null
	rc=$?
	if [ $rc -eq 0 ]; then
		record "$name" PASS $(($(date +%s) - t0))
	else
		echo "test.sh: stage '$name' failed (exit $rc)" >&2
		record "$name" FAIL $(($(date +%s) - t0))
	fi
	return $rc
}
skip_stage() { # name why
	say "$1"
	echo "skipped: $2"
	record "$1" "skip ($2)" 0
}

# Per-test Criterion lines from meson's test log, so the output shows what ran.
testlog_summary() {
	local log="$BUILD/meson-logs/testlog.txt"
	[ -f "$log" ] || return 0
	echo "-- per test (Criterion) --"
	awk '/^test:/ { name = $NF } /Synthesis:/ { sub(/^.*Synthesis: /, ""); printf "  %-28s %s\n", name, $0 }' "$log"
}

stage_deps() {
	scripts/deps.sh
}

stage_build() {
	if [ -f "$BUILD/build.ninja" ]; then
		meson setup --reconfigure "$BUILD" --werror -Db_sanitize=address,undefined -Dtests=enabled
	else
		CC=gcc meson setup "$BUILD" --werror -Db_sanitize=address,undefined -Dtests=enabled
	fi || return 1
	ninja -C "$BUILD"
}

stage_unit() {
	local rc
	meson test -C "$BUILD" --no-rebuild --suite unit --print-errorlogs
	rc=$?
	testlog_summary
	return $rc
}

# The debian-12 image (systemd, dbus, openssh-server) for the systemd tests:
# built once per machine, cached under /var/cache/strata; exit 77 = skipped.
stage_templates() {
	local out rc
	out=$(BUILD_DIR="$BUILD" scripts/template-cache.sh debian-12 | tee >(cat >&2)) # not tee /dev/stderr: reopening a log file truncates it
	rc=$?
	if [ $rc -eq 0 ]; then
		DEBIAN_IMAGE=$(printf '%s\n' "$out" | tail -n1)
		export STRATA_TEST_DEBIAN_IMAGE=$DEBIAN_IMAGE STCRIU_DEBIAN_IMAGE=$DEBIAN_IMAGE
	fi
	return $rc
}

templates_stage() {
	local t0 rc
	say templates
	t0=$(date +%s)
	stage_templates </dev/null
	rc=$?
	case $rc in
	0) record templates PASS $(($(date +%s) - t0)) ;;
	77) record templates "skip (see above)" $(($(date +%s) - t0)) ;;
	*)
		echo "test.sh: stage 'templates' failed (exit $rc)" >&2
		record templates FAIL $(($(date +%s) - t0))
		;;
	esac
}

stage_integration() {
	local rc
	# each test has its own timeout (meson.build); the stage as a whole is
	# bounded too, so a hung test cannot hold CI past its 20 minutes
	timeout --kill-after=30 "${INTEGRATION_TIMEOUT:-600}" \
		meson test -C "$BUILD" --no-rebuild --suite integration --print-errorlogs \
		--timeout-multiplier "${INTEGRATION_TIMEOUT_MULTIPLIER:-1}"
	rc=$?
	[ $rc -eq 124 ] && echo "test.sh: integration tests exceeded ${INTEGRATION_TIMEOUT:-600} s" >&2
	testlog_summary
	return $rc
}

# The strata command line as users get it (demo.sh, packages): a release
# build, linked as a static PIE, which the ASan build above cannot be. The
# command line's end-to-end suites run again with it.
stage_release_cli() {
	local rel="$BUILD-relcli" desc
	if [ -f "$rel/build.ninja" ]; then
		meson setup --reconfigure "$rel" --buildtype=release -Dtests=disabled
	else
		CC=gcc meson setup "$rel" --buildtype=release -Dtests=disabled
	fi >/dev/null || return 1
	ninja -C "$rel" cli/strata || return 1
	desc=$(file -b "$rel/cli/strata")
	case $desc in
	*static-pie*) echo "cli/strata: $desc" ;;
	*)
		echo "cli/strata of the release build is not a static PIE: $desc" >&2
		return 1
		;;
	esac
	"$rel/cli/strata" --version || return 1
	[ "$(id -u)" = 0 ] || return 0
	STRATA_CLI=$(realpath "$rel/cli/strata") meson test -C "$BUILD" --no-rebuild --suite integration \
		--print-errorlogs cli_e2e cli_enter
}

stage_format() {
	local files bad=0 f
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		mapfile -t files < <(git ls-files '*.c' '*.h')
	else
		mapfile -t files < <(find . -path './build*' -prune -o \( -name '*.c' -o -name '*.h' \) -print)
	fi
	for f in "${files[@]}"; do
		[ -f "$f" ] || continue
		if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
			echo "not clang-formatted: $f   (fix: clang-format -i $f)"
			bad=1
		fi
	done
	[ $bad -eq 0 ] && echo "${#files[@]} files clang-formatted"
	return $bad
}

if [ "${SKIP_DEPS:-0}" = 1 ]; then
	skip_stage deps "SKIP_DEPS=1"
elif [ "$(id -u)" != 0 ]; then
	skip_stage deps "not root"
else
	run_stage deps stage_deps
fi

if run_stage build stage_build; then
	run_stage "unit tests" stage_unit
	if [ "$(id -u)" != 0 ]; then
		skip_stage templates "not root"
	elif [ "${SKIP_TEMPLATES:-0}" = 1 ]; then
		skip_stage templates "SKIP_TEMPLATES=1"
	else
		templates_stage
	fi
	if [ "$(id -u)" = 0 ]; then
		run_stage "integration tests" stage_integration
	else
		skip_stage "integration tests" "not root"
	fi
	run_stage "release cli" stage_release_cli
else
	skip_stage "unit tests" "build failed"
	skip_stage "integration tests" "build failed"
fi

if [ "${SKIP_FUZZ:-0}" = 1 ]; then
	skip_stage "fuzz smoke" "SKIP_FUZZ=1"
else
	run_stage "fuzz smoke" scripts/fuzz-smoke.sh
fi
run_stage "clang-format" stage_format

say "summary"
for i in "${!STAGE_NAME[@]}"; do
	printf '  %-20s %-24s %4ss\n' "${STAGE_NAME[$i]}" "${STAGE_RESULT[$i]}" "${STAGE_TIME[$i]}"
done
printf '  %-20s %-24s %4ss\n' total "$([ $FAILED = 0 ] && echo PASS || echo FAIL)" $(($(date +%s) - START))
exit $FAILED
