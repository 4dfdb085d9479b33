#!/usr/bin/env bash
# iolens-mpi on this machine: 2 and 4 ranks of one disk run, the merge
# checked against the ranks' own figures (the merged histogram holds every
# rank's operations; the merged p99 lies between the ranks' p99, as a merge
# of distributions does and an average need not), and the not-supported
# paths. Usage: test_mpi.sh PATH-TO-IOLENS-MPI (empty: not built) [MPIRUN].
set -u
exe=${1:-}
mpirun=${2:-mpirun}
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
	echo "skip: iolens-mpi was not built (IOLENS_WITH_MPI=OFF, or MPI not found at configure time)"
	exit 77
fi
if ! command -v "$mpirun" >/dev/null 2>&1; then
	echo "skip: $mpirun not found (install openmpi-bin)"
	exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
ns="iolm$$"
trap 'ip netns del "${ns}0" 2>/dev/null; ip netns del "${ns}1" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work" || exit 1
# Under AddressSanitizer: what Open MPI itself keeps until exit is not ours.
# The slow unwinder: the fast one loses the stack inside Open MPI, and with it the
# library name the suppressions match.
export LSAN_OPTIONS="suppressions=$here/lsan_mpi.supp:fast_unwind_on_malloc=0:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# Open MPI refuses root unless told; a singleton (no mpirun) reads these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fail=0
check() { # name, condition-result
	if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
launch() { # ranks, iolens-mpi args...
	local n=$1; shift
	timeout 60 "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -n "$n" "$exe" "$@"
}

# The merge, checked from the JSON rank 0 wrote.
check_fleet() { # json, ranks
	/usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
assert doc["schema"] == "iolens/1", doc["schema"]
assert doc["results"] and "meta" in doc and "verdict" in doc, list(doc)
fleet = doc["fleet"]
assert fleet["ranks"] == n and fleet["role"] == "ranks", fleet
assert [c["rank"] for c in fleet["clock"]] == list(range(n)), fleet["clock"]
assert len(fleet["results"]) == len(doc["results"])
for res in fleet["results"]:
    ranks, merged = res["ranks"], res["merged"]
    assert len(ranks) == n and all(r["ok"] for r in ranks), ranks
    buckets = merged["histogram"]["buckets"]
    total = sum(r["ops"] for r in ranks)
    assert total > 0
    assert merged["histogram"]["count"] == total == sum(b[2] for b in buckets) == merged["ops"], \
        (merged["histogram"]["count"], total, merged["ops"])
    p99s = [r["p99_ns"] for r in ranks]
    assert min(p99s) <= merged["latency_ns"]["p99"] <= max(p99s), (p99s, merged["latency_ns"])
    assert merged["latency_ns"]["max"] >= merged["latency_ns"]["p99"] >= merged["latency_ns"]["p50"]
    assert merged["window_spread_us"] >= 0
    # --count off: no rank counted syscalls, so the fleet has no figure (null, never 0).
    assert merged["syscalls"] is None, merged["syscalls"]
    # The fleet's model is the ranks' when they agree, null when none measured one.
    models = {r["model"] for r in ranks}
    assert merged["model"] == (models.pop() if len(models) == 1 else "mixed"), (models, merged)
    assert merged["window_length_spread_us"] >= 0
    # CPU and switches summed over the ranks, never averaged.
    assert abs(merged["cpu_s"] - sum(r["cpu_s"] for r in ranks)) < 1e-9 * max(1, merged["cpu_s"])
    assert merged["cpu_s"] > 0 and merged["vcsw"] is not None
print("fleet of %d: %s" % (n, ", ".join("%s %d ops" % (r["backend"], r["merged"]["ops"])
                                       for r in fleet["results"])))
PY
}

# The fleet as recorded in the results database: its rows hold the merged
# figures, one row per rank beside them, and its parameters name the fleet.
check_store() { # db, label, json
	/usr/bin/python3 - "$@" <<'PY'
import json, sqlite3, sys
db, label, path = sys.argv[1:]
doc = json.load(open(path))
con = sqlite3.connect(db)
runs = con.execute("SELECT id, kind FROM runs WHERE label = ?", (label,)).fetchall()
assert len(runs) == 1 and runs[0][1] == "fleet", runs
rows = con.execute("SELECT id, idx, ops, iops, p50_ns, p99_ns, params FROM results WHERE run_id = ?"
                   " ORDER BY idx", (runs[0][0],)).fetchall()
assert len(rows) == len(doc["results"]) == len(doc["fleet"]["results"]), rows
for (rid, idx, ops, iops, p50, p99, params), f in zip(rows, doc["fleet"]["results"]):
    m, role = f["merged"], doc["fleet"]["role"]
    want = m if role != "serve" else doc["results"][idx]  # serve: the server's own result
    assert ops == want["ops"] and p50 == want["latency_ns"]["p50"] and p99 == want["latency_ns"]["p99"], \
        (ops, p50, p99, want["ops"], want["latency_ns"])
    assert json.loads(params)["fleet"] == {"role": role, "ranks": doc["fleet"]["ranks"]}, params
    counted = con.execute("SELECT sum(count) FROM hist_buckets WHERE result_id = ?", (rid,)).fetchone()[0]
    assert counted == m["histogram"]["count"], (counted, m["histogram"]["count"])
    ranks = con.execute("SELECT rank, ops FROM fleet_ranks WHERE result_id = ? ORDER BY rank",
                        (rid,)).fetchall()
    assert ranks == [(r["rank"], r["ops"]) for r in f["ranks"]], ranks
print("recorded: %d results of the fleet" % len(rows))
PY
}

run="run --backend blocking --workload randread --size 8m --time 200ms --count off"
out=$(launch 2 $run --json "$work/two.json" --db "$work/f.db" --label two 2>"$work/two.err")
check "2 ranks run" $?
echo "$out"
check_fleet "$work/two.json" 2; check "  the merge holds every rank's operations" $?
[ "$(echo "$out" | grep -c '^ *[01]  ')" -eq 2 ]; check "  the table has a row per rank" $?
echo "$out" | grep -q '^clock: rank 1 '; check "  the clock offset of rank 1 is said" $?
[ "$(ls "$work" | grep -c json)" -eq 1 ]; check "  only rank 0 wrote the JSON" $?
[ "$(echo "$out" | grep -c '^recorded: run 1 in ')" -eq 1 ]; check "  rank 0 alone recorded it" $?
check_store "$work/f.db" two "$work/two.json"; check "  the database holds the merged figures" $?
if [ -x "$(dirname "$exe")/iolens" ]; then
	iolens=$(dirname "$exe")/iolens
	"$iolens" diff --db "$work/f.db" two "$work/two.json" >"$work/diff.out" 2>&1
	check "  iolens diff pairs the recorded fleet with its JSON" $?
	grep -q '^randread.* 1/1 ' "$work/diff.out"; check "    one result a side" $?
	"$iolens" run --backend blocking --workload randread --size 8m --time 100ms --count off \
		--no-db --json "$work/one.json" >/dev/null 2>&1
	err=$("$iolens" diff --db "$work/f.db" two "$work/one.json" 2>&1 >/dev/null)
	check "  and not with a run of one process (exit 2)" $(( $? != 2 ))
	echo "$err" | grep -q "pairs with"; check "    saying nothing pairs" $?
fi

launch 4 $run --json "$work/four.json" >/dev/null 2>"$work/four.err"
check "4 ranks run (oversubscribed)" $?
check_fleet "$work/four.json" 4; check "  the merge holds every rank's operations" $?

# The measured model per rank and for the fleet: counted, the ranks measure one.
launch 2 run --backend blocking --workload randread --size 8m --time 100ms \
	--json "$work/model.json" >/dev/null 2>"$work/model.err"
check "2 ranks, syscalls counted" $?
/usr/bin/python3 - "$work/model.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
res = doc["fleet"]["results"][0]
models = [r["model"] for r in res["ranks"]]
assert models[0] == doc["results"][0]["model"]["measured"], models   # rank 0's own
assert all(models), models
assert res["merged"]["model"] == (models[0] if len(set(models)) == 1 else "mixed"), res["merged"]
assert res["merged"]["syscalls"] > 0
# Per op over the operations the syscalls were counted over (the counting pass's).
own = doc["results"][0]["syscalls"]
assert res["merged"]["syscalls_per_op"] > 0 and own["ops"] > 0
PY
check "  each rank's measured model, and the fleet's" $?

# serve at fleet scale: rank 0 runs the backend under test, ranks 1-3 are
# load generators; the server's figures are the generators' summed.
out=$(IOLENS_DB=$work/s.db launch 4 run --workload serve --backend epoll --conns 7 --time 200ms \
	--count off --label serve3 --json "$work/serve.json" 2>"$work/serve.err")
check "serve driven by 3 generator ranks" $?
echo "$out"
check_store "$work/s.db" serve3 "$work/serve.json"; check "  recorded: the server's figures, a row per generator" $?
/usr/bin/python3 - "$work/serve.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
fleet, r = doc["fleet"], doc["results"][0]
assert fleet["ranks"] == 3 and fleet["role"] == "serve" and fleet["server_rank"] == 0, fleet
assert r["status"] == "ok" and r["net"]["data_check"] == "verified", (r["status"], r["net"])
assert "the caller's load generator" in r["net"]["peer"], r["net"]["peer"]
assert r["net"]["conns_open"] == 7, r["net"]["conns_open"]
rows, merged = fleet["results"][0]["ranks"], fleet["results"][0]["merged"]
assert [x["rank"] for x in rows] == [1, 2, 3] and [x["conns"] for x in rows] == [3, 2, 2], rows
assert all(x["ok"] and x["ops"] > 0 and 0 < x["busy"] for x in rows), rows
total = sum(x["ops"] for x in rows)
assert r["ops"] == merged["ops"] == merged["histogram"]["count"] == total, (r["ops"], merged["ops"], total)
assert sum(b[2] for b in r["histogram"]["buckets"]) == total, "the server result's own histogram"
p99s = [x["p99_ns"] for x in rows]
assert min(p99s) <= merged["latency_ns"]["p99"] <= max(p99s), (p99s, merged["latency_ns"])
# The generators' CPU is their busy share, not a window's: the fleet's is not measured.
assert merged["cpu_s"] is None and merged["vcsw"] is None and all(x["cpu_s"] is None for x in rows)
PY
check "  the server's requests are the generators' summed, every byte checked" $?
[ "$(echo "$out" | grep -c '^ *[123]  ')" -eq 3 ]; check "  the table has a row per generator" $?
err=$("$exe" run --workload serve --backend epoll --time 100ms 2>&1 >/dev/null)
check "serve on one rank is refused with exit 2" $(( $? != 2 ))
[ "$err" = "iolens-mpi: --workload serve: needs 2 or more ranks (rank 0 serves, the others generate the load)" ]
check "  in one line" $?

# Echo at fleet scale: rank 1 serves the responder, rank 0 runs echo at it
# over its own sockets; the merge is of the clients alone.
launch 2 run --responder-rank 1 --workload echo --backend epoll --conns 2 --time 200ms \
	--count off --json "$work/echo.json" >"$work/echo.out" 2>"$work/echo.err"
check "echo against a responder rank" $?
/usr/bin/python3 - "$work/echo.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
fleet = doc["fleet"]
assert fleet["ranks"] == 1, fleet["ranks"]            # the clients; rank 1 served
res = fleet["results"][0]
assert [r["rank"] for r in res["ranks"]] == [0], res["ranks"]
assert res["merged"]["ops"] == res["merged"]["histogram"]["count"] == res["ranks"][0]["ops"] > 0
peer = doc["results"][0]["net"]["peer"]
assert "remote responder" in peer, peer                # not an in-process one
PY
check "  the client's requests went to rank 1's responder, merged" $?
# Stream at fleet scale: ranks 1 and 2 stream to rank 0's sink, each
# checking its own bytes; the fleet's Gbit/s is the clients' summed.
launch 3 run --responder-rank 0 --workload stream --backend epoll --time 200ms --count off \
	--db "$work/st.db" --label st --json "$work/stream.json" >"$work/stream.out" 2>"$work/stream.err"
check "stream to a responder rank from 2 ranks" $?
/usr/bin/python3 - "$work/stream.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
fleet = doc["fleet"]
assert fleet["role"] == "stream" and fleet["responder_rank"] == 0 and fleet["ranks"] == 2, fleet
r, res = doc["results"][0], fleet["results"][0]
assert r["net"]["data_check"] == "verified" and "remote responder" in r["net"]["peer"], r["net"]
assert [x["rank"] for x in res["ranks"]] == [1, 2], res["ranks"]
assert res["merged"]["ops"] == sum(x["ops"] for x in res["ranks"]) > 0
g = [x["gbit_s"] for x in res["ranks"]]
assert all(v > 0 for v in g) and abs(res["merged"]["gbit_s"] - sum(g)) < 1e-9 * sum(g), (g, res["merged"])
PY
check "  every byte checked, the Gbit/s summed over the clients" $?
grep -q "^  merged, 2 ranks: [0-9]* send calls/s ([0-9.]* Gbit/s)" "$work/stream.out"
check "  the merged line says send calls/s and Gbit/s" $?
check_store "$work/st.db" st "$work/stream.json"; check "  recorded with the merged figures" $?
err=$(launch 2 run --responder-rank 2 --workload echo --backend epoll --time 100ms 2>&1 >/dev/null)
check "a responder rank outside the job is refused" $(( $? == 0 ))
echo "$err" | grep -q "^iolens-mpi: --responder-rank: '2' (accepts a rank 0 to 1"
check "  naming the option and what it accepts" $?

# Two ranks as two hosts: each enters its own network namespace (after
# MPI_Init), joined by a veth pair; rank 1's responder is reachable only
# across it, at 10.233.0.2. Skipped (said) where namespaces cannot be made.
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && ip netns add "${ns}0" 2>/dev/null &&
	ip netns add "${ns}1" && ip link add "${ns}a" type veth peer name "${ns}b" &&
	ip link set "${ns}a" netns "${ns}0" && ip link set "${ns}b" netns "${ns}1" &&
	ip -n "${ns}0" addr add 10.233.0.1/24 dev "${ns}a" &&
	ip -n "${ns}1" addr add 10.233.0.2/24 dev "${ns}b" &&
	ip -n "${ns}0" link set "${ns}a" up && ip -n "${ns}1" link set "${ns}b" up &&
	ip -n "${ns}0" link set lo up && ip -n "${ns}1" link set lo up; then
	launch 2 run --rank-netns "${ns}%d" --responder-rank 1 --responder-listen 10.233.0.2:0 \
		--workload echo --backend epoll --conns 2 --time 200ms --count off \
		--json "$work/ns.json" >"$work/ns.out" 2>"$work/ns.err"
	check "echo across namespaces, a rank in each" $?
	/usr/bin/python3 - "$work/ns.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
peer = doc["results"][0]["net"]["peer"]
assert peer.startswith("10.233.0.2:"), peer     # only reachable across the veth pair
assert doc["fleet"]["results"][0]["merged"]["ops"] > 0
PY
	check "  the client reached rank 1's responder across the veth pair" $?
	launch 2 run --rank-netns "${ns}%d" --workload serve --listen 10.233.0.1:0 --backend epoll \
		--conns 2 --time 200ms --count off --json "$work/ns-serve.json" >/dev/null 2>"$work/ns-serve.err"
	check "serve across namespaces: rank 1 generates, rank 0 serves" $?
	/usr/bin/python3 - "$work/ns-serve.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
r, row = doc["results"][0], doc["fleet"]["results"][0]["ranks"][0]
assert r["net"]["peer"].startswith("listen 10.233.0.1:"), r["net"]["peer"]
assert row["rank"] == 1 and row["conns"] == 2 and r["ops"] == row["ops"] > 0, (r["ops"], row)
PY
	check "  its requests came across the veth pair" $?
else
	echo "skip: echo across namespaces (cannot make network namespaces here)"
fi
err=$(launch 2 run --rank-netns "nosuch${ns}%d" --workload randread --size 1m --ops 100 2>&1 >/dev/null)
check "a namespace that does not exist is refused" $(( $? == 0 ))
echo "$err" | grep -q "^iolens-mpi: --rank-netns: rank 1: /var/run/netns/nosuch${ns}1: No such file"
check "  by the rank that could not enter it, naming it" $?

# A rank lost mid-run: rank 1 killed in the first window. With Open MPI's
# recovery on (else mpirun itself ends the job at once), rank 0 gives up on
# it after --rank-timeout, writes its own results marked interrupted with a
# fleet that says why, and ends the job: no hang. (Under ASan the aborted
# job's memory is not freed, by design: no leak check for this one run.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 60 "$mpirun" --allow-run-as-root \
	--mca orte_enable_recovery 1 --oversubscribe --bind-to none -n 2 "$exe" run \
	--backend blocking,null --workload randread --size 8m --time 1500ms --count off \
	--rank-timeout 2s --json "$work/lost.json" --db "$work/lost.db" >"$work/lost.out" 2>&1 &
launcher=$!
victim=""
for _ in $(seq 100); do # rank 1's pid, from the rank Open MPI put in its environment
	for p in $(pgrep -f -- "--json $work/lost.json" || true); do
		tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
	done
	[ -n "$victim" ] && break
	sleep 0.05
done
sleep 0.7
[ -n "$victim" ] && kill -9 "$victim"
wait "$launcher"
check "a lost rank: the job ends (no hang past the timeout)" $(( $? == 124 ))
/usr/bin/python3 - "$work/lost.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["meta"]["interrupted"] is True
assert "a rank was lost" in doc["fleet"]["error"], doc["fleet"]
assert doc["results"], "rank 0's own results are there"
PY
check "  rank 0 wrote its own results, marked, saying a rank was lost" $?
grep -q "^iolens-mpi: the run is not recorded in the results database: without the lost rank" \
	"$work/lost.out"; check "  not recorded, and it says why" $?
[ ! -e "$work/lost.db" ]; check "    no database made" $?

# Not supported: one line, exit 2, straight from a singleton.
err=$("$exe" run --workload echo --backend epoll --time 100ms 2>&1 >/dev/null)
rc=$?
check "echo without a responder rank is refused with exit 2" $(( rc != 2 ))
[ "$err" = "iolens-mpi: --workload echo: needs --responder-rank R (the rank the others echo against)" ]
check "  in one line" $?
err=$("$exe" run --workload stream --backend epoll --time 100ms 2>&1 >/dev/null)
rc=$?
check "stream without a responder rank is refused with exit 2" $(( rc != 2 ))
[ "$err" = "iolens-mpi: --workload stream: needs --responder-rank R (the rank the others stream to)" ]
check "  in one line" $?
"$exe" run --backend null --time 100ms --json - >/dev/null 2>&1
check "--json - is refused" $(( $? != 2 ))
"$exe" run --backend null --time 100ms --hdr-log - >/dev/null 2>&1
check "--hdr-log - is refused" $(( $? != 2 ))
"$exe" run --backend null --time 100ms --json "$work/same" --hdr-log "$work/same" >/dev/null 2>&1
check "--json and --hdr-log on one file are refused" $(( $? != 2 ))
[ ! -e "$work/same" ]; check "  and nothing written" $?
# An output checked before the run: a bad --json path costs no run at all.
err=$("$exe" run --backend null --time 100ms --json "$work/no/such/dir/x.json" 2>&1 >/dev/null)
rc=$?
check "an unwritable --json is refused before the run, exit 2" $(( rc != 2 ))
echo "$err" | grep -q -- "--json"; check "  naming --json" $?
exit $fail
