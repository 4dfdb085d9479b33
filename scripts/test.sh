#!/usr/bin/env bash
# Install what the tests need, build with -Werror, run every test; then build
# again with AddressSanitizer + UndefinedBehaviorSanitizer and run them all again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
iolens_install_deps g++ strace iproute2 fio python3-matplotlib
iolens_mount_tracefs

jobs=$(nproc)
run_suite() {
	local dir=$1; shift
	echo "== configure $dir ($*)"
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOLENS_WERROR=ON \
		-DIOLENS_WITH_URING=ON -DIOLENS_WITH_LIBAIO=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs"
	echo "== test $dir"
	(cd "$dir" && ctest --output-on-failure --timeout 900)
}

run_suite build-test
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	run_suite build-asan -DIOLENS_SANITIZE=ON
echo "== all tests passed (plain and sanitized)"
