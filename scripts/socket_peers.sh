#!/usr/bin/env bash
# Socket figures of every backend beside the peers people use on loopback:
# sockperf ping-pong (--full-rtt) for echo latency at one connection, iperf3
# for single-stream throughput. Same machine, same run, same CPU placement:
# the server side (iolens's built-in responder, sockperf server, iperf3 -s)
# on CPU $SERVER_CPU, the client side on CPU $CLIENT_CPU.
#
#   scripts/socket_peers.sh [--quick] [--out DIR]
#
# Writes DIR/iolens-*.json, DIR/sockperf.txt, DIR/iperf3.json and prints one
# markdown table per measurement.
set -euo pipefail
caller_pwd=$PWD
cd "$(dirname "$0")/.."
. scripts/deps.sh

quick=0 out=""
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--out) out=$2; shift ;;
	*) echo "socket_peers.sh: unknown option '$1' (accepts --quick, --out DIR)" >&2; exit 2 ;;
	esac
	shift
done
iolens_install_deps sockperf iperf3 iproute2
iolens_mount_tracefs
# A relative --out is the caller's, not the source tree's.
case $out in "" | /*) ;; *) out=$caller_pwd/$out ;; esac
out=${out:-results/socket-peers-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
t=5s conns_big=1000 serve_conns=10000 peer_t=5
[ $quick -eq 1 ] && t=500ms conns_big=100 serve_conns=200 peer_t=1
ncpu=$(nproc)
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-$((ncpu > 1 ? 1 : 0))}

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$ncpu" >/dev/null
iolens=build-bench/iolens
pin=(--cpu "$CLIENT_CPU" --peer-cpu "$SERVER_CPU")
port=$((20000 + RANDOM % 20000))

pids=()
wait_port() { # until something listens on 127.0.0.1:$1, at most 10 s
	for _ in $(seq 200); do
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	echo "socket_peers.sh: nothing listens on port $1" >&2
	exit 1
}
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

run() { # name, iolens run arguments...
	local name=$1; shift
	echo "== iolens $name" >&2
	"$iolens" run --backend all "${pin[@]}" --json "$out/iolens-$name.json" "$@" >"$out/iolens-$name.txt"
}
run echo1 --workload echo --conns 1 --time "$t"
run echo64 --workload echo --conns 64 --time "$t" --count off
run echo$conns_big --workload echo --conns "$conns_big" --time "$t" --count off
run stream --workload stream --time "$t" --count off
run serve$serve_conns --workload serve --conns "$serve_conns" --time "$t" --count off \
	--backend poll,epoll,io_uring

echo "== sockperf ping-pong" >&2
taskset -c "$SERVER_CPU" sockperf server --tcp -i 127.0.0.1 -p "$port" >/dev/null 2>&1 &
pids+=($!)
wait_port "$port"
taskset -c "$CLIENT_CPU" sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 -t "$peer_t" \
	--full-rtt >"$out/sockperf.txt" 2>&1
grep -q "percentile 50.000" "$out/sockperf.txt" || { cat "$out/sockperf.txt" >&2; exit 1; }

echo "== iperf3" >&2
taskset -c "$SERVER_CPU" iperf3 -s -1 -p $((port + 1)) >/dev/null 2>&1 &
pids+=($!)
wait_port $((port + 1))
taskset -c "$CLIENT_CPU" iperf3 -c 127.0.0.1 -p $((port + 1)) -t "$peer_t" -J >"$out/iperf3.json"

/usr/bin/python3 - "$out" "$conns_big" "$serve_conns" <<'PY'
import json, re, sys
out, big, serve = sys.argv[1], sys.argv[2], sys.argv[3]

def results(name):
    with open(f"{out}/iolens-{name}.json") as f:
        return json.load(f)["results"]

def us(ns):
    return "-" if ns is None else f"{ns / 1000:.1f}"

sp = open(f"{out}/sockperf.txt").read()
pct = {m.group(1): float(m.group(2)) for m in
       re.finditer(r"percentile (\d+\.\d+) =\s+([\d.]+)", sp)}
ip = json.load(open(f"{out}/iperf3.json"))
ip_gbit = ip["end"]["sum_received"]["bits_per_second"] / 1e9

e1, e64, ebig = results("echo1"), results("echo64"), results(f"echo{big}")
print(f"\n### echo, 64-byte requests (placement: {e1[0]['net']['placement'] if e1[0]['net']['placement'] else '-'})")
print(f"| backend | p50 us (1 conn) | p99 us (1 conn) | req/s 1 conn | req/s 64 conns | req/s {big} conns | syscalls/req (1 conn) | measured model (1 conn) |")
print("|---|---|---|---|---|---|---|---|")
for a, b, c in zip(e1, e64, ebig):
    sc = a["syscalls"]["per_op"]
    m = a["model"]["measured"] or "-"
    if a["model"]["mismatch"]:
        m += " (!)"
    row = [a["backend"], us(a["latency_ns"]["p50"]), us(a["latency_ns"]["p99"])]
    row += [f"{r['iops']:.0f}" if r["status"] == "ok" else r["status"] for r in (a, b, c)]
    row += ["-" if sc is None else f"{sc:.2f}", m]
    print("| " + " | ".join(row) + " |")
print(f"| sockperf ping-pong --full-rtt | {pct.get('50.000', float('nan')):.1f} | {pct.get('99.000', float('nan')):.1f} | - | - | - | - | - |")

print("\n### stream, 128 KiB sends, one connection")
print("| backend | Gbit/s | bytes per send |")
print("|---|---|---|")
for r in results("stream"):
    g, per = r["net"]["gbit_s"], r["net"]["bytes_per_send"]
    g = "-" if g is None else f"{g:.2f}"
    per = "-" if per is None else f"{per:.0f}"
    print(f"| {r['backend']} | {g} | {per} |")
print(f"| iperf3 (single stream) | {ip_gbit:.2f} | - |")

print(f"\n### serve, {serve} connections, 64-byte requests (load generator's round trips)")
print("| backend | status | req/s | p50 us | p99 us | connections open |")
print("|---|---|---|---|---|---|")
for r in results(f"serve{serve}"):
    print(f"| {r['backend']} | {r['status']} | {r['iops']:.0f} | {us(r['latency_ns']['p50'])} | "
          f"{us(r['latency_ns']['p99'])} | {r['net']['conns_open']} |")
PY
echo "results in $out" >&2
