#!/usr/bin/env bash
# Install what the tests need, build with -Werror, run every test; then build
# again with AddressSanitizer + UndefinedBehaviorSanitizer and run them again,
# all but those of the scripts around the command (label "scripts").
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
iolens_install_deps g++ strace iproute2 fio python3-matplotlib clang libclang-rt-14-dev \
	openmpi-bin libopenmpi-dev
iolens_mount_tracefs

jobs=$(nproc)
# run_suite DIR "CTEST ARGS" CMAKE ARGS...
run_suite() {
	local dir=$1 select=$2; shift 2
	echo "== configure $dir ($*)"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOLENS_WERROR=ON \
		-DIOLENS_WITH_URING=ON -DIOLENS_WITH_LIBAIO=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs"
	echo "== test $dir ${select:-(every test)}"
	# shellcheck disable=SC2086
	(cd "$dir" && ctest --output-on-failure --timeout 900 $select)
}

run_suite build-test ""
# The tests labelled "scripts" check the scripts' own output (vs-fio.sh,
# vs-sockperf.sh, plot.py, bench.sh): they ran above; the sanitizers watch
# the C, which every other test drives.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-asan "-LE scripts" -DIOLENS_SANITIZE=ON

# libFuzzer over the option parsers: seed 1, IOLENS_FUZZ_SECONDS (default 30)
# of new inputs from a copy of the corpus; any crash, leak, sanitizer report,
# broken contract or 10 s input fails. A crashing input stays in build-fuzz/.
fuzz_parsers() {
	local dir=build-fuzz secs=${IOLENS_FUZZ_SECONDS:-30} work rc=0
	echo "== fuzz $dir (fuzz_opts, seed 1, ${secs}s)"
	CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOLENS_WERROR=ON \
		-DIOLENS_WITH_URING=ON -DIOLENS_WITH_LIBAIO=ON -DIOLENS_FUZZ=ON >/dev/null
	cmake --build "$dir" -j"$jobs" --target fuzz_opts
	work=$(mktemp -d)
	cp tests/fuzz/corpus/* "$work/"
	"$dir/tests/fuzz/fuzz_opts" -seed=1 -max_total_time="$secs" -timeout=10 -close_fd_mask=3 \
		-print_final_stats=1 -dict=tests/fuzz/opts.dict -artifact_prefix="$dir/" \
		"$work" >"$dir/fuzz.log" 2>&1 || rc=$?
	rm -rf "$work"
	if [ "$rc" -ne 0 ]; then
		tail -n 60 "$dir/fuzz.log"
		echo "== fuzz_opts failed (exit $rc); the input is in $dir/ (crash-*, leak-*, timeout-*)"
		return 1
	fi
	grep -E "^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units" "$dir/fuzz.log"
}
fuzz_parsers
echo "== all tests passed (plain and sanitized) and the fuzzer found nothing"
