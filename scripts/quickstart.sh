#!/usr/bin/env bash
# Install what is missing, build, and run the main job: `iolens compare`, the
# default comparison of every available backend on disk (a temporary file)
# and sockets (loopback, built-in peers). Prints a table per workload and
# writes results/<UTC time>/ with results.json, results.csv and the plots.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
iolens_install_deps python3-matplotlib
iolens_mount_tracefs

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target iolens_cli -j"$(nproc)" >/dev/null
./build/iolens list
echo
exec ./build/iolens compare "$@"
