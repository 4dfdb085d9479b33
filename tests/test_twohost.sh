#!/usr/bin/env bash
# Two hosts on one machine: network namespaces joined by a veth pair, the
# responder in one, the client in the other, echo and stream across. Skips
# (exit 77) with the reason when it cannot make namespaces; removes them on
# every exit path.
set -uo pipefail
iolens=$1
tag="iol$$"
a="${tag}a" b="${tag}b"
addr_a=10.231.0.1 addr_b=10.231.0.2 port=7411
work=$(mktemp -d)

skip() { echo "SKIP: $*"; rm -rf "$work"; exit 77; }
cleanup() {
	[ -n "${resp_pid:-}" ] && kill "$resp_pid" 2>/dev/null && wait "$resp_pid" 2>/dev/null
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
	rm -rf "$work"
}
fail() { echo "FAIL: $*"; [ -f "$work/resp.err" ] && cat "$work/resp.err"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root to create network namespaces"
command -v ip >/dev/null || skip "needs ip (iproute2)"
ip netns add "$a" 2>"$work/err" || skip "ip netns add refused: $(cat "$work/err")"
trap cleanup EXIT
ip netns add "$b" || fail "ip netns add $b"
ip link add "${tag}va" type veth peer name "${tag}vb" || fail "veth pair"
ip link set "${tag}va" netns "$a" && ip link set "${tag}vb" netns "$b" || fail "veth into namespaces"
ip -n "$a" addr add "$addr_a/24" dev "${tag}va" && ip -n "$b" addr add "$addr_b/24" dev "${tag}vb" ||
	fail "addresses"
for ns in "$a" "$b"; do
	ip -n "$ns" link set lo up && ip -n "$ns" link set "${tag}v${ns: -1}" up || fail "links up in $ns"
done

ip netns exec "$a" "$iolens" responder --listen "$addr_a:$port" >"$work/resp.out" 2>"$work/resp.err" &
resp_pid=$!
for _ in $(seq 100); do
	grep -q "listening on" "$work/resp.out" 2>/dev/null && break
	kill -0 "$resp_pid" 2>/dev/null || fail "responder exited"
	sleep 0.05
done
grep -q "listening on $addr_a:$port" "$work/resp.out" || fail "responder did not say where it listens: $(cat "$work/resp.out")"

check() { # workload json: status ok, the peer is the other host, figures present
	/usr/bin/python3 - "$1" "$2" "$addr_a:$port" <<'PY' || exit 1
import json, sys
kind, path, peer = sys.argv[1:]
doc = json.load(open(path))
for r in doc["results"]:
    name = r["backend"]
    if r["status"] == "skipped":
        continue
    assert r["status"] == "ok", (name, r["reason"])
    assert peer in r["net"]["peer"], (name, r["net"]["peer"])
    assert r["ops"] > 0 and r["bytes"] > 0, name
    if kind == "echo":
        assert r["ops"] >= 1000 and r["bytes"] == r["ops"] * 100, (name, r["ops"], r["bytes"])
    print(f"{kind} {name}: ok, {r['ops']} ops, {r['net']['gbit_s']:.3f} Gbit/s across the veth pair")
PY
}

ip netns exec "$b" "$iolens" run --workload echo --connect "$addr_a:$port" --conns 4 --msg 100 \
	--ops 1000 --backend blocking,epoll,io_uring --count off --json "$work/echo.json" >/dev/null ||
	fail "echo across the namespaces"
check echo "$work/echo.json"
ip netns exec "$b" "$iolens" run --workload stream --connect "$addr_a:$port" --time 300ms \
	--backend epoll,io_uring --count off --json "$work/stream.json" >/dev/null ||
	fail "stream across the namespaces"
check stream "$work/stream.json"
# The client's namespace cannot reach the responder's loopback: a clear error, exit 1.
ip netns exec "$b" "$iolens" run --workload echo --connect "127.0.0.1:$port" --ops 10 \
	--backend epoll --count off >"$work/refused.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "connecting to nothing: exit $rc, want 1"
grep -q "Connection refused" "$work/refused.out" || fail "no 'Connection refused' in: $(cat "$work/refused.out")"
echo "two hosts: ok"
