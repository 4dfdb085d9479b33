#!/usr/bin/env bash
# iolens's socket figures against the peers people quote on loopback, as
# ratios measured in one run: echo latency at one connection against
# sockperf ping-pong --full-rtt, and stream throughput against iperf3's
# single stream.
#
#   scripts/vs-sockperf.sh [--quick] [--repeats N] [--time S]
#                          [--backends LIST] [--placement cross|same|both]
#                          [--server-cpu N] [--client-cpu N] [--lock FILE]
#                          [--out DIR]
#
# Placements: cross puts the server side (iolens's built-in responder and
# sink, sockperf server, iperf3 -s) on --server-cpu and the client side
# (iolens's job thread, sockperf ping-pong, iperf3 -c) on --client-cpu;
# same puts both on --server-cpu. Both tools get the same placement, with
# taskset for the peers and --cpu/--peer-cpu for iolens.
#
# A pair is one iolens run (every backend of --backends, back to back) and
# one peer run, for one workload and placement. Pair r runs iolens first
# when r is odd and the peer first when r is even, so drift on a busy
# machine hits both sides alike. Ratios are taken per pair; the tables show
# their median (min-max) over the pairs.
#
# What each figure is taken from:
#   echo p50     iolens  results[].latency_ns.p50 of --workload echo --conns 1
#                        --msg 64 --depth 1: from just before the request's
#                        send is submitted to the completion of the recv that
#                        brings its last byte back (harness/net/loop.c)
#                sockperf "percentile 50.000" of ping-pong -m 64 --full-rtt:
#                        the full round trip, send to reply, in usec
#                Both servers echo each message as it comes; both set
#                TCP_NODELAY on both ends. Both servers wait in a blocking
#                recv when their one connection has nothing pending: recv
#                and send per message on each side.
#   stream       iolens  results[].net.gbit_s of --workload stream --no-check
#                        (128 KiB sends): bytes whose send completed in the
#                        window over the window, the sender's side. With
#                        --no-check iolens's sink reads and counts every byte
#                        without comparing it with the stream pattern, as
#                        iperf3's server reads and discards (each result's
#                        net.data_check says "not checked"; the comparison
#                        took about 25% of the CPU in a same-CPU profile)
#                iperf3  end.sum_sent.bits_per_second (default 128 KiB
#                        writes, -O omits the warm-up): the sender's side too.
#                        iperf3's receiver figure (end.sum_received) is in
#                        ratios.csv's raw columns only.
#
# Defaults: 5 pairs, 2 s windows (sockperf and iperf3 take whole seconds),
# iolens warm-up 500 ms (echo; sockperf sends its own warm-up messages) and
# 1 s (stream, as iperf3 -O 1), backends blocking,epoll,io_uring, both
# placements, server CPU 0, client CPU 1. --quick: 1 pair of 1 s windows,
# 200 ms iolens warm-up and none for iperf3 (the shape of the output, not a
# figure to quote). --lock FILE holds FILE (flock) around each pair, so runs
# of other benchmarks on the machine that take the same lock do not overlap.
# iolens is built Release into build-bench unless IOLENS=path is set.
#
# Writes into DIR (new or empty): host.txt; for pair R, placement P and
# workload W the raw outputs rR-P-W-iolens.json (+ .txt, .err),
# rR-P-echo-sockperf.txt, rR-P-stream-iperf3.json (+ .err); runs.tsv (what
# ran, in order, with its exit status); ratios.csv and ratios.md. Bad options:
# one line naming the option, exit 2, nothing created. SIGINT stops the
# running tools, removes the half-done pair's files, writes the ratios of the
# pairs done (marked interrupted) and exits 130 (SIGTERM: the same, 143).
set -euo pipefail
here=$PWD # --out and --lock are relative to where the script was started
cd "$(dirname "$0")/.."
. scripts/deps.sh

me=vs-sockperf.sh
usage_err() { echo "$me: $*" >&2; exit 2; }
int_opt() { [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
	usage_err "$1: expected a whole number from $3 to $4, got '$2'"; }

quick=0 repeats="" secs="" backends=blocking,epoll,io_uring placement=both out="" lock=""
ncpu=$(nproc)
server_cpu=0 client_cpu=$((ncpu > 1 ? 1 : 0))
while [ $# -gt 0 ]; do
	opt=$1 val=""
	case $opt in
	--*=*) val=${opt#*=} opt=${opt%%=*} ;;
	esac
	case $opt in
	--quick) [ -z "$val" ] || usage_err "--quick takes no value"; quick=1 ;;
	--repeats | --time | --backends | --placement | --server-cpu | --client-cpu | --lock | --out)
		if [[ $1 != *=* ]]; then
			[ $# -ge 2 ] || usage_err "$opt needs a value"
			val=$2
			shift
		fi
		case $opt in
		--repeats) int_opt "$opt" "$val" 1 1000; repeats=$val ;;
		--time) int_opt "$opt" "$val" 1 3600; secs=$val ;;
		--backends) [[ $val =~ ^[a-z0-9_:=+-]+(,[a-z0-9_:=+-]+)*$ ]] ||
			usage_err "--backends: expected a comma-separated list of iolens backend specs (e.g. blocking,epoll,io_uring), got '$val'"
			backends=$val ;;
		--placement) [[ $val =~ ^(cross|same|both)$ ]] ||
			usage_err "--placement: expected cross, same or both, got '$val'"
			placement=$val ;;
		--server-cpu) int_opt "$opt" "$val" 0 $((ncpu - 1)); server_cpu=$val ;;
		--client-cpu) int_opt "$opt" "$val" 0 $((ncpu - 1)); client_cpu=$val ;;
		--lock) [[ $val == /* ]] || val=$here/$val
			[ -e "$val" ] || [ -d "$(dirname "$val")" ] ||
			usage_err "--lock: '$val' cannot be created (no such directory)"
			lock=$val ;;
		--out) [ -n "$val" ] || usage_err "--out: expected a directory, got ''"
			[[ $val == /* ]] || val=$here/$val
			if [ -e "$val" ] && { [ ! -d "$val" ] || [ -n "$(ls -A "$val")" ]; }; then
				usage_err "--out: '$val' exists and is not an empty directory (accepts a new or empty one)"
			fi
			out=$val ;;
		esac ;;
	*) usage_err "unknown option '$1' (accepts --quick, --repeats N, --time S, --backends LIST, --placement cross|same|both, --server-cpu N, --client-cpu N, --lock FILE, --out DIR)" ;;
	esac
	shift
done
if [ "$placement" != same ] && [ "$server_cpu" -eq "$client_cpu" ]; then
	usage_err "--client-cpu: cross placement needs it to differ from --server-cpu ($server_cpu); on one CPU use --placement same"
fi

echo_warm=500ms stream_warm=1s omit=1
if [ $quick -eq 1 ]; then
	repeats=${repeats:-1} secs=${secs:-1} echo_warm=200ms stream_warm=200ms omit=0
fi
repeats=${repeats:-5} secs=${secs:-2}
placements=(cross same)
[ "$placement" = both ] || placements=("$placement")

if [ -n "${IOLENS:-}" ]; then
	iolens=$IOLENS
	[ -x "$iolens" ] || usage_err "IOLENS: no executable at '$iolens'"
else
	iolens_install_deps >/dev/null
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-bench -j"$ncpu" >/dev/null
	iolens=build-bench/iolens
fi
# The specs, checked by iolens itself: one request each, nothing written.
rc=0
err=$("$iolens" run --backend "$backends" --workload echo --conns 1 --ops 1 --count off 2>&1 >/dev/null) || rc=$?
if [ $rc -eq 2 ]; then
	err=${err#iolens: }
	usage_err "--backends: ${err#--backend: }"
fi
"$iolens" run --no-check --help >/dev/null 2>&1 ||
	usage_err "IOLENS: '$iolens' has no --no-check (the stream is compared with the sink's check off; build a newer iolens)"

for tool in sockperf iperf3 ss; do
	command -v "$tool" >/dev/null && continue
	iolens_install_deps sockperf iperf3 iproute2 >&2 || true
	command -v "$tool" >/dev/null || { echo "$me: $tool is not installed and could not be installed" >&2; exit 1; }
done

out=${out:-results/vs-sockperf-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
host="host: kernel $(uname -r), $ncpu CPUs, ${cpu_model:-unknown CPU}; $(sockperf --version 2>&1 | head -1); $(iperf3 --version | head -1); $repeats pair(s) of ${secs}s windows; backends $backends; server CPU $server_cpu, client CPU $client_cpu"
echo "$host" >"$out/host.txt"
printf 'pair\tplacement\tworkload\ttool\tstart\tseconds\trc\n' >"$out/runs.tsv"

servers=() cur="" part=() done_pairs=0 interrupted=0
stop_all() {
	local p
	# Every background child of this shell, not only those recorded: a
	# signal can land between a server's start and its entry in servers.
	for p in $cur "${servers[@]}" $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done
	for p in $cur "${servers[@]}" $(jobs -p); do wait "$p" 2>/dev/null || true; done
	cur="" servers=()
	return 0
}
on_signal() { # exit status
	trap '' INT TERM
	interrupted=1
	stop_all
	rm -f "${part[@]}"
	echo "$me: interrupted after $done_pairs of $repeats pair(s)" >&2
	summarise || true
	exit "$1"
}
# A shell started in the background without job control ignores SIGINT and
# cannot trap it: SIGTERM stops it the same way.
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'stop_all' EXIT

# Run a command in the background and wait for it, so SIGINT is taken at once.
# Children do not inherit the lock's descriptor: only this shell holds it.
fg_run() {
	"$@" 9>&- &
	cur=$!
	local rc=0
	wait "$cur" || rc=$?
	cur=""
	return $rc
}

# A port below the kernel's ephemeral range that no socket uses: a
# listener there cannot collide with a connection's local port.
free_port() {
	local low p
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	[ "$low" -gt 11000 ] || low=61000
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % (low - 10000)))
		[ -z "$(ss -Htan "sport = :$p")" ] && { echo $p; return; }
	done
	echo "$me: no free TCP port found" >&2
	exit 1
}

# Start a server (pinned to CPU $1) listening on a free port; sets port and
# adds it to servers. A server that exits before it listens (the port was
# taken meanwhile) is tried again on another port.
start_server() { # cpu command... (PORT in the arguments is replaced)
	local cpu=$1 try a args
	shift
	for try in 1 2 3; do
		port=$(free_port)
		args=()
		for a in "$@"; do args+=("${a//PORT/$port}"); done
		taskset -c "$cpu" "${args[@]}" >/dev/null 2>&1 9>&- &
		servers+=($!)
		for _ in $(seq 200); do
			[ -n "$(ss -Hltn "sport = :$port")" ] && return 0
			kill -0 "${servers[-1]}" 2>/dev/null || break
			sleep 0.05
		done
		stop_all
	done
	return 1
}

log_run() { # pair placement workload tool start rc
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$(date -u -d "@$5" +%H:%M:%S)" \
		$(($(date +%s) - $5)) "$6" >>"$out/runs.tsv"
}

run_iolens() { # pair placement workload server-cpu client-cpu
	local base=$out/r$1-$2-$3-iolens rc=0 start
	local warm=$echo_warm nocheck=()
	[ "$3" = stream ] && warm=$stream_warm nocheck=(--no-check)
	part+=("$base.json" "$base.txt" "$base.err")
	echo "== r$1 $2 $3 iolens" >&2
	start=$(date +%s)
	fg_run "$iolens" run --backend "$backends" --workload "$3" --conns 1 --depth 1 \
		--time "${secs}s" --warmup "$warm" --cpu "$5" --peer-cpu "$4" --count off \
		"${nocheck[@]}" --json "$base.json" >"$base.txt" 2>"$base.err" || rc=$?
	log_run "$1" "$2" "$3" iolens "$start" $rc
}

run_peer() { # pair placement workload server-cpu client-cpu
	local port rc=0 start base
	start=$(date +%s)
	if [ "$3" = echo ]; then
		base=$out/r$1-$2-echo-sockperf
		part+=("$base.txt")
		echo "== r$1 $2 echo sockperf" >&2
		if start_server "$4" sockperf server --tcp -i 127.0.0.1 -p PORT; then
			fg_run taskset -c "$5" sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 \
				-t "$secs" --full-rtt >"$base.txt" 2>&1 || rc=$?
		else
			echo "sockperf server did not start listening" >"$base.txt"
			rc=1
		fi
		log_run "$1" "$2" echo sockperf "$start" $rc
	else
		base=$out/r$1-$2-stream-iperf3
		part+=("$base.json" "$base.err")
		echo "== r$1 $2 stream iperf3" >&2
		if start_server "$4" iperf3 -s -1 -p PORT; then
			fg_run taskset -c "$5" iperf3 -c 127.0.0.1 -p "$port" -t "$secs" -O "$omit" -J \
				>"$base.json" 2>"$base.err" || rc=$?
		else
			echo "iperf3 -s did not start listening" >"$base.err"
			rc=1
		fi
		log_run "$1" "$2" stream iperf3 "$start" $rc
	fi
	stop_all
}

pair_block() { # pair placement server-cpu client-cpu
	local w
	part=()
	for w in echo stream; do
		if (($1 % 2)); then
			run_iolens "$1" "$2" "$w" "$3" "$4"
			run_peer "$1" "$2" "$w" "$3" "$4"
		else
			run_peer "$1" "$2" "$w" "$3" "$4"
			run_iolens "$1" "$2" "$w" "$3" "$4"
		fi
	done
	part=()
}

summarise() {
	/usr/bin/python3 - "$out" "$repeats" "$done_pairs" "$interrupted" "$backends" \
		"$server_cpu" "$client_cpu" "${placements[@]}" <<'PY'
import csv, json, os, re, statistics, sys

out, repeats, done, interrupted, backends = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5]
scpu, ccpu, placements = sys.argv[6], sys.argv[7], sys.argv[8:]
backends = backends.split(",")
where = {"cross": f"server CPU {scpu}, client CPU {ccpu}", "same": f"both on CPU {scpu}"}

def first_line(path):
    try:
        for line in open(path):
            if line.strip():
                return line.strip()
    except OSError:
        pass
    return ""

def iolens_side(base):
    """{backend: (value, None) or (None, why)} for echo p50 (ns) or stream Gbit/s."""
    try:
        doc = json.load(open(base + ".json"))
    except (OSError, ValueError):
        why = f"iolens failed: {first_line(base + '.err') or 'no JSON'}"
        return {b: (None, why) for b in backends}, None
    got, placement = {}, None
    for i, r in enumerate(doc.get("results", [])):
        b = backends[i] if i < len(backends) else r["backend"]
        if r["status"] != "ok":
            got[b] = (None, f"iolens {b} {r['status']}: {r.get('reason') or '-'}")
            continue
        placement = placement or r["net"]["placement"]
        if r["workload"]["name"] == "stream":
            stream_checks.add(r["net"].get("data_check") or "no data check reported")
        v = r["latency_ns"]["p50"] if r["workload"]["name"] == "echo" else r["net"]["gbit_s"]
        got[b] = (v, None) if v else (None, f"iolens {b}: no figure")
    for b in backends:
        got.setdefault(b, (None, "iolens: no result"))
    return got, placement

def sockperf_p50(path):
    try:
        text = open(path).read()
    except OSError:
        return None, "sockperf: no output"
    m = re.search(r"percentile 50\.000 =\s+([\d.]+)", text)
    if not m:
        return None, f"sockperf failed: {first_line(path) or 'no percentile line'}"
    return float(m.group(1)) * 1000, None

def iperf3_gbit(path):
    try:
        end = json.load(open(path))["end"]
        return end["sum_sent"]["bits_per_second"] / 1e9, end["sum_received"]["bits_per_second"] / 1e9, None
    except (OSError, ValueError, KeyError):
        return None, None, f"iperf3 failed: {first_line(path[:-5] + '.err') or 'no JSON'}"

stream_checks = set()
metrics = [("echo_p50", "echo", "sockperf", 1.1, "<="), ("stream_gbit", "stream", "iperf3", 0.95, ">=")]
rows, table, seen_where = [], [], {}
for pl in placements:
    cells = {}
    for m, w, peer, target, sense in metrics:
        for b in backends:
            cells[(m, b)] = {"ratio": [], "iolens": [], "peer": [], "peer_recv": [], "why": []}
        for r in range(1, done + 1):
            side, placed = iolens_side(f"{out}/r{r}-{pl}-{w}-iolens")
            if placed:
                seen_where.setdefault(pl, placed)
            recv = None
            if peer == "sockperf":
                pv, pw = sockperf_p50(f"{out}/r{r}-{pl}-echo-sockperf.txt")
            else:
                pv, recv, pw = iperf3_gbit(f"{out}/r{r}-{pl}-stream-iperf3.json")
            for b in backends:
                c = cells[(m, b)]
                iv, iw = side[b]
                for why in (iw, pw):
                    if why and why not in c["why"]:
                        c["why"].append(why)
                if iv is None or pv is None:
                    continue
                c["ratio"].append(iv / pv)
                c["iolens"].append(iv)
                c["peer"].append(pv)
                if recv is not None:
                    c["peer_recv"].append(recv)
    for b in backends:
        md = [pl, b]
        for m, w, peer, target, sense in metrics:
            c = cells[(m, b)]
            v = c["ratio"]
            scale = 1e3 if m == "echo_p50" else 1.0
            med = lambda xs: statistics.median(xs) if xs else None
            why = "; ".join(c["why"])
            if v:
                mid = med(v)
                ok = mid <= target if sense == "<=" else mid >= target
                rows.append([pl, b, m, f"{mid:.4g}", f"{min(v):.4g}", f"{max(v):.4g}", len(v),
                             f"{sense} {target}", "met" if ok else "NOT met",
                             f"{med(c['iolens']) / scale:.4g}", f"{med(c['peer']) / scale:.4g}",
                             f"{med(c['peer_recv']):.4g}" if c["peer_recv"] else "", why])
                s = f"{mid:.2f} ({min(v):.2f}–{max(v):.2f})"
                if len(v) < done:
                    s += f" n={len(v)}"
                md += [s, "met" if ok else "**NOT met**",
                       f"{med(c['iolens']) / scale:.1f}" if m == "echo_p50" else f"{med(c['iolens']):.2f}",
                       f"{med(c['peer']) / scale:.1f}" if m == "echo_p50" else f"{med(c['peer']):.2f}"]
            else:
                why = why or "no pair done"
                rows.append([pl, b, m, "", "", "", 0, f"{sense} {target}", "", "", "", "", why])
                md += [why, "-", "-", "-"]
        table.append(md)

with open(f"{out}/ratios.csv", "w", newline="") as fh:
    wr = csv.writer(fh)
    wr.writerow(["placement", "backend", "metric", "median", "min", "max", "n", "target", "verdict",
                 "iolens_median", "peer_median", "iperf3_received_gbit_median", "reason"])
    wr.writerows(rows)

head = ["placement", "backend", "echo p50 iolens/sockperf (≤ 1.1)", "echo", "p50 µs iolens",
        "p50 µs sockperf", "stream iolens/iperf3 (≥ 0.95)", "stream", "Gbit/s iolens", "Gbit/s iperf3"]
lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in table]
status = f"INTERRUPTED after {done} of {repeats} pair(s)" if interrupted else f"{done} pair(s)"
text = "\n".join(
    [open(f"{out}/host.txt").read().strip(), "",
     f"### iolens against sockperf and iperf3: median (min–max) over {status}", ""]
    + lines + [""]
    + [f"- {pl}: {where[pl]} (iolens reports: {seen_where.get(pl, '-')})" for pl in placements]
    + ["- echo: 64 B, one connection, depth 1; iolens p50 from send submission to the last byte's "
       "recv completion, sockperf ping-pong --full-rtt p50 (full round trip).",
       "- stream: one connection, 128 KiB sends/writes; both figures are the sender's (iperf3 "
       "end.sum_sent, iolens bytes sent in the window); iperf3's receiver figure is in ratios.csv. "
       "iolens ran with --no-check, its sink counting without comparing as iperf3's server "
       f"discards (iolens's net.data_check: {', '.join(sorted(stream_checks)) or '-'}).", ""])
open(f"{out}/ratios.md", "w").write(text)
print("\n" + text)
PY
}

for ((r = 1; r <= repeats; r++)); do
	for pl in "${placements[@]}"; do
		ccpu=$client_cpu
		[ "$pl" = same ] && ccpu=$server_cpu
		if [ -n "$lock" ]; then
			# flock on a descriptor keeps this shell's functions and traps.
			exec 9>>"$lock"
			flock 9 &
			cur=$!
			wait "$cur"
			cur=""
			pair_block "$r" "$pl" "$server_cpu" "$ccpu"
			exec 9>&-
		else
			pair_block "$r" "$pl" "$server_cpu" "$ccpu"
		fi
	done
	done_pairs=$r
done
summarise
echo "results in $out" >&2
