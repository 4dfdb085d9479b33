#!/usr/bin/env bash
# scripts/bench.sh end to end, on the built iolens: the files of a --quick
# matrix (every cell's JSON, results.csv, host.txt, matrix.txt), a resume that
# redoes only the missing cell, SIGINT mid-run (exit 130, no partial cell, a
# resume that finishes the rest), bad input (exit 2, one line naming the
# option, nothing created), the label every cell records under, and --mpi
# (the cells' options through a stand-in launcher; two ranks under mpirun
# when it and iolens-mpi are there, skipped otherwise). The shape of the
# output, never the speeds.
set -uo pipefail
iolens=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/scripts/bench.sh
work=$(mktemp -d)
bg=""
cleanup() {
	if [ -n "$bg" ]; then kill -TERM "$bg" 2>/dev/null; wait "$bg" 2>/dev/null; fi
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
export IOLENS=$iolens
export IOLENS_DB=$work/default.db # never the user's database
# runs_labelled DB LABEL: how many whole runs DB holds with LABEL (a cell
# stopped by SIGINT records its run too, marked interrupted).
runs_labelled() {
	/usr/bin/python3 -c 'import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(con.execute("SELECT count(*) FROM runs WHERE label = ? AND NOT interrupted",
                  (sys.argv[2],)).fetchone()[0])' "$@"
}
cd "$work" || fail "cd $work"

# check DIR BACKENDS: every cell of the --quick matrix (randread bs 4k and
# echo 1 connection, depths 1 and 8, one repeat) over BACKENDS is there, valid
# and what its name says, nothing half-written is, and results.csv has one
# row per cell with the cell's parameters.
check() {
	/usr/bin/python3 - "$@" <<'PY'
import csv, json, os, sys

out, backends = sys.argv[1], sys.argv[2].split(",")
errors = []
cells = {}
for w in ("randread", "echo"):
    for d in (1, 8):
        for b in backends:
            part = "bs4k" if w == "randread" else "c1"
            cells[f"{w}-{part}-d{d}-{b}-r1"] = (w, d, b)
expected = {f"{c}.json" for c in cells} | {"matrix.txt", "host.txt", "cells.tsv", "results.csv", "logs"}
present = set(os.listdir(out))
if present != expected:
    errors.append(f"files: missing {sorted(expected - present)}, unexpected {sorted(present - expected)}")
for name, (w, d, b) in cells.items():
    path = f"{out}/{name}.json"
    if not os.path.exists(path):
        continue
    try:
        doc = json.load(open(path))
    except ValueError as e:
        errors.append(f"{name}.json: not JSON: {e}")
        continue
    res = doc.get("results") or [{}]
    r, wl = res[0], res[0].get("workload") or {}
    if doc.get("schema") != "iolens/1" or doc.get("meta", {}).get("interrupted") is not False:
        errors.append(f"{name}.json: schema {doc.get('schema')}, meta.interrupted {doc.get('meta', {}).get('interrupted')}")
    if len(res) != 1 or r.get("backend") != b or wl.get("name") != w or wl.get("depth") != d:
        errors.append(f"{name}.json: {len(res)} results, backend {r.get('backend')}, workload {wl.get('name')}, depth {wl.get('depth')}")
    if (w == "randread" and wl.get("bs") != 4096) or (w == "echo" and wl.get("conns") != 1):
        errors.append(f"{name}.json: bs {wl.get('bs')}, conns {wl.get('conns')}")
    if r.get("status") not in ("ok", "skipped", "error"):
        errors.append(f"{name}.json: status {r.get('status')}")
    if not os.path.getsize(f"{out}/logs/{name}.log"):
        errors.append(f"logs/{name}.log is empty")

header = ["cell", "workload", "backend", "variant", "bs", "msg", "depth", "conns", "repeat", "rc",
          "status", "reason", "ops", "seconds", "iops", "mib_s", "gbit_s", "p50_ns", "p99_ns",
          "p99_9_ns", "max_ns", "cpu_per_op_ns", "syscalls_per_op", "vcsw_per_op",
          "model_declared", "model_measured", "model_mismatch"]
with open(f"{out}/results.csv", newline="") as fh:
    rows = list(csv.reader(fh))
if not rows or rows[0] != header:
    errors.append(f"results.csv header {rows[:1]}")
body = [dict(zip(header, row)) for row in rows[1:]]
if len(body) != len(cells):
    errors.append(f"results.csv: {len(body)} rows, expected {len(cells)}")
for row, raw in zip(body, rows[1:]):
    name = row["cell"]
    if len(raw) != len(header) or name not in cells:
        errors.append(f"results.csv row: {raw}")
        continue
    w, d, b = cells[name]
    if (row["workload"], row["backend"], row["depth"], row["repeat"], row["rc"]) != (w, b, str(d), "1", "0"):
        errors.append(f"results.csv row of {name}: {row['workload']} {row['backend']} depth {row['depth']} repeat {row['repeat']} rc {row['rc']}")
    if (w == "randread") != (row["bs"] == "4096") or (w == "echo") != (row["conns"] == "1"):
        errors.append(f"results.csv row of {name}: bs '{row['bs']}', conns '{row['conns']}'")
    if row["status"] == "ok" and not float(row["iops"] or 0) > 0:
        errors.append(f"results.csv row of {name}: ok without IOPS")
if [r["cell"] for r in body] != list(cells):
    errors.append(f"results.csv rows not in matrix order: {[r['cell'] for r in body]}")

host = dict(l.split(" = ", 1) for l in open(f"{out}/host.txt").read().splitlines() if " = " in l)
for key in ("host", "kernel", "cpu", "nproc", "iolens"):
    if not host.get(key):
        errors.append(f"host.txt has no {key}")
if host.get("kernel") != os.uname().release or host.get("nproc") != str(os.cpu_count()):
    errors.append(f"host.txt: kernel {host.get('kernel')}, nproc {host.get('nproc')}")
matrix = dict(l.split(" =", 1) for l in open(f"{out}/matrix.txt").read().splitlines() if not l.startswith("#"))
if matrix.get("backends", "").strip() != ",".join(backends) or matrix.get("depths", "").strip() != "1,8":
    errors.append(f"matrix.txt: {matrix}")
for e in errors:
    print("FAIL:", e)
sys.exit(1 if errors else 0)
PY
}
# stamps DIR: inode and mtime of every cell JSON, to see which were redone.
stamps() { stat -c '%n %i %Y.%y' "$1"/*.json; }

# Bad input: exit 2, one stderr line naming what was wrong, nothing on
# stdout, no directory.
printf 'depths = 1\nbogus = 2\n' >bad.conf
bad() { # WHAT-STDERR-NAMES ARGS...
	local want=$1
	shift
	"$bench" "$@" >bad.out 2>bad.err
	local rc=$?
	[ $rc -eq 2 ] || fail "bench.sh $* exited $rc, expected 2: $(cat bad.err)"
	[ "$(wc -l <bad.err)" -eq 1 ] || fail "bench.sh $*: stderr is not one line: $(cat bad.err)"
	grep -qF -- "$want" bad.err || fail "bench.sh $*: stderr does not name $want: $(cat bad.err)"
	[ ! -s bad.out ] || fail "bench.sh $*: wrote to stdout: $(cat bad.out)"
	[ ! -e "$work/bad" ] || fail "bench.sh $*: created $work/bad"
}
bad "--bogus" --quick --bogus --out bad
bad "--depths" --quick --depths 1,x --out bad
bad "--bs" --quick --bs 4k,3q --out bad
bad "--workloads" --quick --workloads randread,sideways --out bad
bad "--backends" --quick --backends null,nope --out bad
bad "--backends" --quick --backends io_uring:nope --out bad
bad "--repeats" --quick --repeats 0 --out bad
bad "--time" --quick --time 5parsecs --out bad
bad "--warmup" --quick --warmup 2h --out bad # 2h once read as 35.8 minutes under mawk
bad "--out" --quick --backends null --out /proc/iolens-bench-test
bad "--conns" --quick --conns 0 --out bad
bad "--size" --quick --size 4k --bs 64k --out bad
bad "--config" --config "$work/missing.conf" --out bad
bad "bogus" --config "$work/bad.conf" --out bad
bad "--label" --quick --label 123 --out bad
bad "--no-db" --quick --no-db --db "$work/x.db" --out bad
before=$(ls -d "$root"/results/bench-* 2>/dev/null)
bad "--depths" --quick --depths 1,,2
[ "$(ls -d "$root"/results/bench-* 2>/dev/null)" = "$before" ] || fail "a bad --depths made a results directory under $root/results"
echo "ok: bad input"

# Durations past 2^31 microseconds keep their value (mawk's printf %d once
# made --time 1h a window of 35.8 minutes): bench.sh's own reader, under this
# machine's awk.
eval "$(sed -n '/^duration_us() {/,/^}/p' "$bench")"
[ "$(duration_us 1h)" = 3600000000 ] || fail "--time 1h reads as $(duration_us 1h) us"
[ "$(duration_us 90m)" = 5400000000 ] || fail "--time 90m reads as $(duration_us 90m) us"
[ "$(duration_us 7.5ms)" = 7500 ] || fail "--time 7.5ms reads as $(duration_us 7.5ms) us"
echo "ok: durations past 35.8 minutes"

# The --quick matrix, every cell recorded under one label.
"$bench" --quick --out q --label X --db "$work/bench.db" >q.out 2>q.err
rc=$?
[ $rc -eq 0 ] || { cat q.err; fail "bench.sh --quick exited $rc"; }
[ "$(cat q.out)" = "$work/q" ] || fail "stdout is '$(cat q.out)', expected the results directory"
[ "$(grep -c '^\[[1-8]/8\] .* s elapsed, ~[0-9]* s left$' q.err)" -eq 8 ] || { cat q.err; fail "not 8 progress lines"; }
check q null,blocking || fail "--quick output"
[ "$(runs_labelled "$work/bench.db" X)" -eq 8 ] || fail "bench.db has $(runs_labelled "$work/bench.db" X) runs labelled X, expected 8"
[ ! -e "$IOLENS_DB" ] || fail "--db: cells recorded into \$IOLENS_DB too"
echo "ok: --quick, its 8 cells recorded with --label X"

# Resume: the cell that is gone runs again, the others are not touched.
stamps q | grep -v echo-c1-d8-blocking-r1 >stamps.before
rm q/echo-c1-d8-blocking-r1.json
"$bench" --quick --out q >r.out 2>r.err
rc=$?
[ $rc -eq 0 ] || { cat r.err; fail "resume exited $rc"; }
[ "$(grep -c 'skip (done)$' r.err)" -eq 7 ] || { cat r.err; fail "resume did not skip the 7 done cells"; }
grep -q '^\[8/8\] echo conns=1 depth=8 blocking r1 — .* s left$' r.err || { cat r.err; fail "resume did not run the missing cell"; }
stamps q | grep -v echo-c1-d8-blocking-r1 | diff stamps.before - || fail "resume redid done cells"
check q null,blocking || fail "output after the resume"
[ "$(grep -c '^echo-c1-d8-blocking-r1	0	' q/cells.tsv)" -eq 2 ] || fail "cells.tsv does not record both runs of the redone cell"
echo "ok: resume redoes only the missing cell"

# A resume that changes the matrix is refused and changes nothing.
find q -printf '%p %i %T@ %s\n' | sort >tree.before
bad "--depths" --quick --depths 1,2 --out q
bad "--label" --quick --label Y --out q
find q -printf '%p %i %T@ %s\n' | sort | diff tree.before - || fail "a refused resume changed $work/q"
echo "ok: a contradicting matrix is refused"

# SIGINT in the second cell: exit 130 at once (the running iolens is stopped,
# not waited for: its cell takes over 4 s), no partial file, no iolens left;
# the resume runs only what was not finished.
set -m # a background job that takes SIGINT (without job control it ignores it)
"$bench" --quick --backends null --time 2s --out int >int.out 2>int.err &
bg=$!
set +m
for _ in $(seq 300); do grep -q '^\[2/4\]' int.err && break; sleep 0.1; done
grep -q '^\[2/4\]' int.err || fail "the second cell did not start in 30 s: $(cat int.err)"
sleep 0.3
t0=${EPOCHREALTIME/./}
kill -INT "$bg"
wait "$bg"
rc=$?
bg=""
took_ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
[ $took_ms -lt 3000 ] || fail "SIGINT: bench.sh took $took_ms ms to stop (the running cell was not stopped)"
[ $rc -eq 130 ] || { cat int.err; fail "SIGINT: exit $rc, expected 130"; }
grep -q "resume with: .*--out int" int.err || { cat int.err; fail "SIGINT: no resume command"; }
partial=$(find int -name '.*' -type f)
[ -z "$partial" ] || fail "SIGINT left partial files: $partial"
sleep 0.5
for p in /proc/[0-9]*; do
	tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$work/int/" && fail "an iolens still runs after SIGINT: $(tr '\0' ' ' <"$p/cmdline")"
done
done_before=$(find int -maxdepth 1 -name '*.json' | wc -l)
{ [ "$done_before" -ge 1 ] && [ "$done_before" -lt 4 ]; } || fail "SIGINT in cell 2 of 4 left $done_before cells done"
/usr/bin/python3 -c '
import glob, json, sys
for p in glob.glob(sys.argv[1] + "/*.json"):
    assert json.load(open(p))["meta"]["interrupted"] is False, p' int || fail "a cell JSON after SIGINT is broken or interrupted"
stamps int >stamps.before
"$bench" --quick --backends null --time 2s --out int >int2.out 2>int2.err
rc=$?
[ $rc -eq 0 ] || { cat int2.err; fail "resume after SIGINT exited $rc"; }
[ "$(grep -c 'skip (done)$' int2.err)" -eq "$done_before" ] || { cat int2.err; fail "resume after SIGINT did not skip the $done_before done cells"; }
stamps int | grep -F -f <(cut -d' ' -f1 stamps.before) | diff stamps.before - || fail "resume after SIGINT redid done cells"
check int null || fail "output after SIGINT and resume"
[ "$(runs_labelled "$IOLENS_DB" int)" -eq 4 ] || fail "$(runs_labelled "$IOLENS_DB" int) runs labelled 'int' (the directory's name), expected 4"
echo "ok: SIGINT (stopped in $took_ms ms) and resume"

# --mpi with a stand-in launcher (no MPI needed): what each cell is given,
# and a cell whose JSON says a rank was lost is not done, whatever the
# launcher's exit status.
cat >fake-mpirun <<'SH'
#!/usr/bin/env bash
[ "$1" != --version ] || { echo "fake-mpirun 1.0"; exit 0; }
printf '%s\n' "$*" >>"${0%/*}/fake-mpirun.args"
while [ $# -gt 0 ]; do [ "$1" != --json ] || json=$2; shift; done
echo '{"schema": "iolens/1", "meta": {"interrupted": true}, "results": [], "fleet": {"ranks": 1, "error": "rank 1: no answer"}}' >"$json"
SH
chmod +x fake-mpirun
IOLENS_MPI=$iolens "$bench" --mpi "./fake-mpirun -n 2" --backends null --workloads randread,echo --depths 1 \
	--repeats 1 --time 100ms --warmup 0 --size 1m --db "$work/x.db" --out fake >fake.out 2>fake.err
rc=$?
[ $rc -eq 1 ] || { cat fake.err; fail "--mpi, a rank lost in every cell: exit $rc, expected 1"; }
[ -z "$(find fake -name '*.json')" ] || fail "--mpi: a cell whose rank was lost was kept: $(find fake -name '*.json')"
[ "$(grep -c 'fake-mpirun exit 0, no result .*fleet.error: rank 1: no answer$' fake.err)" -eq 2 ] ||
	{ cat fake.err; fail "--mpi: the lost rank is not said for both cells"; }
while read -r line; do
	case " $line " in
	" -n 2 $iolens run --backend null --workload randread "*" --label fake --db $work/x.db --json $work/fake/.randread-"*) ;;
	" -n 2 $iolens run --backend null --workload echo "*" --label fake --db $work/x.db --responder-rank 0 --json $work/fake/.echo-"*) ;;
	*) fail "--mpi: a cell was given '$line'" ;;
	esac
done <fake-mpirun.args
[ "$(wc -l <fake-mpirun.args)" -eq 2 ] || fail "--mpi: the launcher ran $(wc -l <fake-mpirun.args) times, expected 2"
grep -qx "mpi = $work/fake-mpirun -n 2" fake/matrix.txt || fail "--mpi: matrix.txt: $(cat fake/matrix.txt)"
grep -qx 'label = fake' fake/matrix.txt || fail "--mpi: matrix.txt has no label: $(cat fake/matrix.txt)"
{ grep -qx "mpi = $work/fake-mpirun -n 2" fake/host.txt && grep -qx "mpi-version = fake-mpirun 1.0" fake/host.txt; } ||
	fail "--mpi: host.txt: $(cat fake/host.txt)"
bad "--mpi" --mpi "nonexistent-launcher" --out bad
bad "--mpi" --mpi "./fake-mpirun -n 3" --out fake # the matrix's launcher is kept
IOLENS_MPI=$work/nope bad "iolens-mpi" --mpi ./fake-mpirun --out bad
echo "ok: --mpi, its cells' options, a lost rank and the refusals"

# --mpi under mpirun on this machine: 2 ranks of a disk cell, merged in the
# JSON's fleet; an echo cell whose rank 0 serves the other.
if ! command -v mpirun >/dev/null 2>&1; then
	echo "skip: --mpi under mpirun (mpirun not found)"
elif [ ! -x "$(dirname "$iolens")/iolens-mpi" ]; then
	echo "skip: --mpi under mpirun (iolens-mpi was not built beside iolens)"
else
	# Under AddressSanitizer: what Open MPI keeps until exit is not ours (as test_mpi.sh).
	LSAN_OPTIONS="suppressions=$root/tests/lsan_mpi.supp:fast_unwind_on_malloc=0:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
	IOLENS_DB=$work/mpi.db "$bench" --mpi "mpirun --allow-run-as-root --oversubscribe --bind-to none -n 2" \
		--backends blocking --workloads randread,echo --depths 1 --repeats 1 --time 100ms --warmup 0 \
		--size 8m --out mpi >mpi.out 2>mpi.err
	rc=$?
	[ $rc -eq 0 ] || { cat mpi.err; cat mpi/logs/*; fail "bench.sh --mpi exited $rc"; }
	[ "$(runs_labelled "$work/mpi.db" mpi)" -eq 2 ] || fail "--mpi: $(runs_labelled "$work/mpi.db" mpi) runs labelled 'mpi' in \$IOLENS_DB, expected 2 (one a cell)"
	/usr/bin/python3 - mpi <<'PY' || fail "--mpi output"
import csv, json, sys

out = sys.argv[1]
cells = {"randread-bs4k-d1-blocking-r1": 2, "echo-c1-d1-blocking-r1": 1}  # ranks that ran it
for name, ranks in cells.items():
    doc = json.load(open(f"{out}/{name}.json"))
    fleet = doc["fleet"]
    assert doc["schema"] == "iolens/1" and fleet["ranks"] == ranks, (name, fleet.get("ranks"))
    assert len(fleet["results"]) == len(doc["results"]) == 1, name
    res = fleet["results"][0]
    assert len(res["ranks"]) == ranks and all(r["ok"] for r in res["ranks"]), (name, res["ranks"])
    total = sum(r["ops"] for r in res["ranks"])
    assert res["merged"]["ops"] == total > 0, (name, res["merged"]["ops"], total)
with open(f"{out}/results.csv", newline="") as fh:
    rows = list(csv.DictReader(fh))
assert [(r["cell"], r["rc"], r["status"]) for r in rows] == [(c, "0", "ok") for c in cells], rows
PY
	echo "ok: --mpi under mpirun, 2 ranks merged, echo against rank 0, each cell recorded"
fi
echo "PASS"
