#!/usr/bin/env bash
# libiolens as a user gets it: install the build into a temporary prefix,
# check what landed there and what the shared library exports, compile the
# public header on its own as C11 and as C++, then build the consumer
# program (tests/consumer) three ways and run each build:
#   1. find_package(iolens) on the prefix (shared and static targets);
#   2. pkg-config --cflags --libs iolens (shared), and --static with libiolens.a;
#   3. add_subdirectory of this source tree (the same target names in-tree).
#
#   tests/test_install.sh SOURCE_DIR BUILD_DIR C_COMPILER SANITIZE(ON|OFF)
set -euo pipefail

src=$1 build=$2 cc=$3 sanitize=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iolens-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "test_install: $*" >&2; exit 1; }

# A sanitized library needs sanitized programs around it.
san=()
[ "$sanitize" = ON ] && san=(-fsanitize=address,undefined -fno-sanitize-recover=all)

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(cd "$prefix" && dirname "$(find . -name libiolens.a | head -1)")
libdir=$prefix/${libdir#./}
for f in include/iolens/iolens.h include/iolens/workload.h bin/iolens; do
	[ -f "$prefix/$f" ] || fail "not installed: $f"
done
for f in libiolens.a libiolens.so pkgconfig/iolens.pc cmake/iolens/iolensConfig.cmake \
	cmake/iolens/iolensConfigVersion.cmake cmake/iolens/iolensTargets.cmake; do
	[ -e "$libdir/$f" ] || fail "not installed: $libdir/$f"
done
soname=$(readelf -d "$libdir/libiolens.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libiolens.so.0.6 ] || fail "soname is '$soname', expected libiolens.so.0.6"
[ -e "$libdir/$soname" ] || fail "no $soname beside libiolens.so"
"$prefix/bin/iolens" list >/dev/null || fail "the installed CLI does not run"

echo "== exported symbols are the header's functions, and all of them"
nm -D --defined-only "$libdir/libiolens.so" | awk '$2 ~ /^[TDBRW]$/ { print $3 }' |
	grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' | sort >"$tmp/exported"
sed -n 's/^IOLENS_EXPORT [^(]*[ *]\(iolens_[a-z0-9_]*\)(.*/\1/p' \
	"$prefix"/include/iolens/*.h | sort >"$tmp/declared"
[ -s "$tmp/declared" ] || fail "found no declarations in the installed headers"
if ! diff -u "$tmp/declared" "$tmp/exported"; then
	fail "exported symbols (+) differ from the header's functions (-)"
fi
echo "   $(wc -l <"$tmp/exported") functions"

echo "== the public header compiles on its own"
for h in iolens/iolens.h iolens/workload.h iolens/report.h iolens/responder.h; do
	printf '#include <%s>\nint main(void) { return iolens_abi_version() != IOLENS_ABI_VERSION; }\n' "$h" >"$tmp/h.c"
	"$cc" -std=c11 -pedantic-errors -Wall -Wextra -Werror -I"$prefix/include" -c "$tmp/h.c" \
		-o "$tmp/h.o" || fail "$h does not compile alone as C11"
	cp "$tmp/h.c" "$tmp/h.cc"
	c++ -std=c++11 -pedantic-errors -Wall -Wextra -Werror -I"$prefix/include" -c "$tmp/h.cc" \
		-o "$tmp/hxx.o" || fail "$h does not compile as C++"
	# C++ links against the C symbols: extern "C" is in place.
	nm "$tmp/hxx.o" | grep -q ' U iolens_abi_version$' || fail "$h: C++ sees mangled names"
done
"$cc" -std=c11 -I"$prefix/include" -E -H "$tmp/h.c" -o /dev/null 2>"$tmp/includes"
if grep -E 'liburing|libaio' "$tmp/includes"; then
	fail "the public header pulls in a liburing or libaio header"
fi

run() { # what, program: run it, which must end with "consumer: ok"
	echo "== run: $1"
	"$2" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "$1: the consumer failed"; }
	sed 's/^/   /' "$tmp/out"
	tail -1 "$tmp/out" | grep -qx "consumer: ok" || fail "$1: no 'consumer: ok'"
}
cflags_cmake="${san[*]:-}"

echo "== build with find_package(iolens)"
cmake -S "$src/tests/consumer" -B "$tmp/pkg" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags_cmake" >/dev/null
cmake --build "$tmp/pkg" >/dev/null
run "find_package, iolens::iolens" "$tmp/pkg/consumer"
run "find_package, iolens::iolens_static" "$tmp/pkg/consumer_static"
readelf -d "$tmp/pkg/consumer_static" | grep -q 'libiolens' && fail "consumer_static needs libiolens.so"

echo "== build with pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion iolens)" = "$(sed -n 's/^#define IOLENS_VERSION_STRING "\(.*\)"/\1/p' "$prefix/include/iolens/iolens.h")" ] ||
	fail "iolens.pc's version differs from the header's"
pkg-config --print-requires-private iolens | grep -qx liburing || fail "iolens.pc: liburing is not a private requirement"
pkg-config --static --libs iolens | grep -q -- -laio || fail "iolens.pc: -laio is not a private library"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/pc" "$src/tests/consumer/consumer.c" \
	$(pkg-config --cflags --libs iolens)
LD_LIBRARY_PATH=$libdir run "pkg-config, shared" "$tmp/pc"
static_libs=$(pkg-config --static --libs iolens)
# shellcheck disable=SC2086
"$cc" -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/pc_static" \
	"$src/tests/consumer/consumer.c" $(pkg-config --cflags iolens) ${static_libs/-liolens/-l:libiolens.a}
readelf -d "$tmp/pc_static" | grep -q 'libiolens' && fail "pc_static needs libiolens.so"
run "pkg-config --static" "$tmp/pc_static"

echo "== docs/library.md's minimal.c, built as that page says"
sed -n '/^<!-- example: minimal.c/,/^```$/p' "$src/docs/library.md" | sed '1,2d;$d' >"$tmp/minimal.c"
grep -q '^int main' "$tmp/minimal.c" || fail "no minimal.c block in docs/library.md"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "${san[@]}" -o "$tmp/minimal" "$tmp/minimal.c" \
	$(pkg-config --cflags --libs iolens)
LD_LIBRARY_PATH=$libdir "$tmp/minimal" "$tmp/minimal.c" >"$tmp/out" 2>&1 ||
	{ cat "$tmp/out" >&2; fail "minimal.c failed"; }
sed 's/^/   /' "$tmp/out"
grep -qx "io_uring read $(stat -c %s "$tmp/minimal.c") bytes of $tmp/minimal.c" "$tmp/out" ||
	fail "minimal.c did not read its own source back through io_uring"
[ "$(grep -c -E '^(blocking|io_uring) +[0-9]+ IOPS' "$tmp/out")" = 2 ] ||
	fail "minimal.c printed no result line per backend"

echo "== build with add_subdirectory (in-tree)"
sub=(-DIOLENS_VIA=subdir -DIOLENS_SOURCE="$src" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=Debug
	-DCMAKE_C_FLAGS="$cflags_cmake")
cmake -S "$src/tests/consumer" -B "$tmp/sub" "${sub[@]}" >/dev/null
grep -q '^IOLENS_BUILD_TESTS:BOOL=OFF' "$tmp/sub/CMakeCache.txt" ||
	fail "in-tree, iolens builds its tests by default"
cmake --build "$tmp/sub" -j"$(nproc)" --target consumer >/dev/null
run "add_subdirectory, iolens::iolens" "$tmp/sub/consumer"
echo "== all three builds of the consumer passed"
