#!/usr/bin/env bash
# The --hdr-log of a real run, read by a reader no one here wrote:
# hdr-histogram-js from the npm registry decodes every interval, and each
# must hold the counts, percentiles and times of its result in the JSON of
# the same run (tests/hdr/read_log.js says what is asserted and why).
# Skipped (77) with the reason without node or npm, or when the package
# cannot be installed (no registry). With IOLENS-MPI and MPIRUN, a 2-rank
# run's log too: each interval is the fleet's merged histogram.
# Usage: test_hdr_js.sh IOLENS BUILD_DIR [IOLENS-MPI MPIRUN].
set -euo pipefail
iolens=$1
cache=$2/npm-hdr # the package, kept between runs
mpi=${3:-}
mpirun=${4:-mpirun}
here=$(cd "$(dirname "$0")" && pwd)

skip() {
	echo "SKIP: $*"
	exit 77
}

command -v node >/dev/null || skip "node is not installed"
command -v npm >/dev/null || skip "npm is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$cache/node_modules/hdr-histogram-js/package.json" ]; then
	timeout 180 npm install --no-audit --no-fund --prefix "$cache" hdr-histogram-js@3 \
		>"$tmp/npm.log" 2>&1 ||
		skip "npm install hdr-histogram-js failed: $(tail -n 1 "$tmp/npm.log")"
fi

# Two backends twice over: four tagged intervals, one per backend and repeat.
TMPDIR=$tmp "$iolens" run --backend blocking,io_uring --workload randread --size 8m \
	--time 100ms --repeat 2 --no-db --hdr-log "$tmp/run.hlog" --json "$tmp/run.json" >/dev/null
NODE_PATH=$cache/node_modules node "$here/hdr/read_log.js" "$tmp/run.hlog" "$tmp/run.json"

if [ -n "$mpi" ] && [ -x "$mpi" ] && command -v "$mpirun" >/dev/null; then
	here_supp=$here/lsan_mpi.supp
	LSAN_OPTIONS="suppressions=$here_supp:fast_unwind_on_malloc=0:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
		TMPDIR=$tmp timeout 60 "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -n 2 \
		"$mpi" run --backend blocking --workload randread --size 8m --time 100ms --repeat 2 \
		--count off --no-db --hdr-log "$tmp/fleet.hlog" --json "$tmp/fleet.json" >/dev/null
	NODE_PATH=$cache/node_modules node "$here/hdr/read_log.js" "$tmp/fleet.hlog" "$tmp/fleet.json"
else
	echo "no iolens-mpi here: the fleet's log is not checked"
fi
