#!/usr/bin/env bash
# scripts/floor.sh --quick on the built tree: it runs, prints one table per
# target with a verdict on every target row, and keeps the raw outputs; bad
# options are one line naming the option, exit 2, nothing created. The
# shape of the output, never the speeds.
set -uo pipefail
build=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# A relative --out is the caller's directory (the script works from the repository's).
(cd "$work" && "$root/scripts/floor.sh" --quick --repeats 1 --build "$build" --out out) \
	>"$work/stdout" 2>"$work/stderr" || { cat "$work/stderr"; fail "floor.sh --quick exited $?"; }
[ ! -e "$root/out" ] || fail "a relative --out wrote into the source tree ($root/out)"

/usr/bin/python3 - "$work/stdout" "$work/out" <<'PY' || fail "output shape"
import os, re, sys

text = open(sys.argv[1]).read()
out = sys.argv[2]
errors = []
titles = re.findall(r"^### (.*)$", text, re.M)
want = ["Harness floor", "Recording one latency sample", "Syscall floor", "Memory"]
if [t.split(" (")[0].split(",")[0] for t in titles] != want:
    errors.append(f"tables: {titles}")
for block in text.split("### ")[1:]:
    lines = [l for l in block.splitlines() if l.startswith("|")]
    if lines[:2] != ["| measurement | measured: median (min–max) | target | verdict |",
                     "|---|---|---|---|"]:
        errors.append(f"header of {block.splitlines()[0]}: {lines[:2]}")
    rows = [l.split("|")[1:-1] for l in lines[2:]]
    if not rows:
        errors.append(f"no rows in {block.splitlines()[0]}")
    judged = 0
    for cells in rows:
        cells = [c.strip() for c in cells]
        if len(cells) != 4:
            errors.append(f"row {cells}")
            continue
        if cells[2].startswith(("<=", ">=", "within")) or cells[2] == "0":
            judged += 1
            if cells[3] not in ("met", "NOT met"):
                errors.append(f"verdict {cells}")
            if "not counted" not in cells[1] and not re.match(r"^[+-]?[0-9.]+%?( \([0-9.–-]+\))?$", cells[1]):
                errors.append(f"figure {cells}")
    if not judged:
        errors.append(f"no target in {block.splitlines()[0]}")
if text.count("| null depth ") != 3 or text.count("bytes per connection") != 8:
    errors.append("rows missing")
files = set(os.listdir(out))
for f in ("floor.md", "host.txt", "bench_hist.txt", "uring-r1.json", "null-d32-b32-r1.json",
          "len-1s-r1.rss", "len-3s-r1.rss", "echo-epoll-c1000-r1.rss", "serve-io_uring-c10-r1.json"):
    if f not in files:
        errors.append(f"missing {f}")
if os.path.exists(f"{out}/floor.md") and open(f"{out}/floor.md").read() != text:
    errors.append("floor.md differs from stdout")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
PY

cd "$work" || fail "cd"
for args in "--repeats 0" "--repeats x" "--bogus" "--out" "--build /nonexistent" "--quick=yes"; do
	# shellcheck disable=SC2086
	"$root/scripts/floor.sh" --out "$work/bad" $args >"$work/o" 2>"$work/e"
	rc=$?
	[ $rc -eq 2 ] || fail "'$args': exit $rc, want 2"
	[ "$(wc -l <"$work/e")" -eq 1 ] || fail "'$args': stderr is not one line: $(cat "$work/e")"
	opt=${args%% *}
	opt=${opt%%=*}
	grep -q -- "$opt" "$work/e" || fail "'$args': the error does not name $opt: $(cat "$work/e")"
	[ ! -e "$work/bad" ] || fail "'$args' created its --out directory"
	[ ! -s "$work/o" ] || fail "'$args' wrote to stdout"
done
echo "ok"
