#!/usr/bin/env bash
# Install what is missing, build, and run the default comparison: every
# backend on a page-cached 4 KiB random read of a temporary 1 GiB file, at
# depth 1 and depth 32. Prints the tables and writes JSON + CSV under results/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
iolens_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target iolens_cli -j"$(nproc)" >/dev/null
./build/iolens list
echo

out="results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
for depth in 1 32; do
	./build/iolens run --backend all --workload randread --bs 4k --size 1g \
		--depth "$depth" --time "${IOLENS_QUICK_TIME:-3s}" --warmup 500ms \
		--json "$out/randread-depth$depth.json" --csv "$out/randread-depth$depth.csv"
	echo
done
echo "results written to $out/"
