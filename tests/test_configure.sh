#!/usr/bin/env bash
# The optional backends' AUTO|ON|OFF contract: ON without the library is a
# configure error, AUTO without it (or OFF) builds with the backend listed as
# unavailable and the reason, and the configure summary says which.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() { # name, condition-result
	if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
configure() { # dir, args...
	local dir=$1; shift
	cmake -S "$src" -B "$work/$dir" -DIOLENS_BUILD_TESTS=OFF "$@" >"$work/$dir.log" 2>&1
}

# No pkg-config means no liburing.
configure on-missing -DIOLENS_WITH_URING=ON -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON
rc=$?
check "IOLENS_WITH_URING=ON without liburing fails" $(( rc == 0 ))
grep -q "liburing was not found" "$work/on-missing.log"; check "  and says why" $?

configure aio-on-missing -DIOLENS_WITH_LIBAIO=ON -DLIBAIO_INCLUDE_DIR=/nonexistent
rc=$?
check "IOLENS_WITH_LIBAIO=ON without libaio fails" $(( rc == 0 ))
grep -q "libaio was not found" "$work/aio-on-missing.log"; check "  and says why" $?

configure mpi-on-missing -DIOLENS_WITH_MPI=ON -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON
rc=$?
check "IOLENS_WITH_MPI=ON without MPI fails" $(( rc == 0 ))
grep -q "MPI was not found" "$work/mpi-on-missing.log"; check "  and says why" $?

configure auto-missing -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON -DLIBAIO_INCLUDE_DIR=/nonexistent \
	-DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON
check "AUTO without the libraries configures" $?
grep -q "iolens-mpi: NOT BUILT - MPI was not found" "$work/auto-missing.log"; check "  summary says iolens-mpi is not built, and why" $?
grep -q "io_uring: DISABLED - liburing was not found" "$work/auto-missing.log"; check "  summary names io_uring disabled" $?
grep -q "libaio: DISABLED - libaio was not found" "$work/auto-missing.log"; check "  summary names libaio disabled" $?

configure off -DIOLENS_WITH_URING=OFF -DIOLENS_WITH_LIBAIO=OFF -DIOLENS_WITH_MPI=OFF
check "OFF configures" $?
grep -q "iolens-mpi: NOT BUILT - built with IOLENS_WITH_MPI=OFF" "$work/off.log"; check "  summary says iolens-mpi is OFF" $?
grep -q "io_uring: DISABLED - built with IOLENS_WITH_URING=OFF" "$work/off.log"; check "  summary says OFF" $?
cmake --build "$work/off" --target iolens_cli -j2 >"$work/off-build.log" 2>&1
check "OFF builds" $?
list=$("$work/off/iolens" list 2>&1)
echo "$list" | grep -Eq '^io_uring +no .*built with IOLENS_WITH_URING=OFF'; check "  io_uring listed unavailable with the reason" $?
echo "$list" | grep -Eq '^libaio +no .*built with IOLENS_WITH_LIBAIO=OFF'; check "  libaio listed unavailable with the reason" $?
out=$("$work/off/iolens" run --backend null,io_uring --ops 1000 --size 1m --csv - 2>&1)
echo "$out" | grep -Eq '^io_uring,.*,skipped,"?unavailable: built with IOLENS_WITH_URING=OFF'
check "  a run records io_uring as skipped with the reason" $?

configure invalid -DIOLENS_WITH_URING=maybe
rc=$?
check "a value other than AUTO/ON/OFF is refused" $(( rc == 0 ))
exit $fail
