"""The results files and what the plots read from them, without matplotlib.

Loading and checking a results file (load), the number test every plot uses
(num), percentiles from the exported histogram as iolens computes its own
(hist_percentile), syscalls per op by name (syscall_stack), the model map's
coordinates and regions by the classifier's rules (model_thresholds,
regions, map_point), and the results grouped by workload with the names
that tell them apart (Entry, varying, scaling_key, group).

Imports nothing beyond the standard library: the tests call it with a
python3 that may lack matplotlib.
"""
import json
import math
import sys

PROG = "plot.py"

SOCKET_WORKLOADS = ("echo", "serve", "stream")
# The classifier's thresholds (harness/measure/model.c), for results that carry none.
MAJORITY, SOME = 0.5, 0.05
# Coordinates a result needs to be on the model map; offload_share may be null (0).
MAP_AXES = ("async_share", "nonblock_share", "blocked_share")


def fail(code, msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(code)


def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        fail(1, f"{path}: {e.strerror}")
    except (ValueError, UnicodeDecodeError) as e:
        fail(1, f"{path}: not valid JSON ({e})")
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list) \
            or not isinstance(doc.get("meta"), dict):
        fail(1, f"{path}: not an iolens results file (no meta or results list)")
    for i, r in enumerate(doc["results"]):
        if not isinstance(r, dict) or not isinstance(r.get("backend"), str) \
                or not isinstance(r.get("workload"), dict):
            fail(1, f"{path}: results[{i}] has no backend or workload")
    return fleet_merged(path, doc)


def fleet_merged(path, doc):
    """An iolens-mpi document, as the fleet's: where every rank ran the
    workload (role ranks or echo) each result gets the fleet's merged
    figures in place of rank 0's, as the results database records them.
    Syscalls by name and the trace are rank 0's alone, so they are dropped;
    serve's results are the server's already."""
    fleet = doc.get("fleet")
    if not isinstance(fleet, dict):
        return doc
    if fleet.get("error"):
        fail(1, f"{path}: the fleet has no merged results ({fleet['error']})")
    if fleet.get("role") == "serve":
        return doc
    merged = [f.get("merged") if isinstance(f, dict) else None for f in fleet.get("results") or []]
    if len(merged) != len(doc["results"]) or not all(isinstance(m, dict) for m in merged):
        fail(1, f"{path}: fleet.results does not match results (one merged object each)")
    for r, m in zip(doc["results"], merged):
        r.update(ops=m.get("ops"), iops=m.get("iops"), mib_s=m.get("mib_s"),
                 latency_ns=m.get("latency_ns"), histogram=m.get("histogram"), trace=None,
                 ctx_switches={"voluntary": m.get("vcsw"), "involuntary": m.get("ivcsw")})
        r["cpu"] = dict(r.get("cpu") or {}, per_op_ns=m.get("cpu_per_op_ns"))
        r["syscalls"] = dict(r.get("syscalls") or {}, per_op=m.get("syscalls_per_op"),
                             by_name=None, why="a fleet's syscalls are summed, not by name")
        r["model"] = dict(r.get("model") or {}, measured=m.get("model"))
    return doc


# ---------------------------------------------------------------- figures

def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def hist_percentile(buckets, p, lo_clamp, hi_clamp):
    """iolens_hist_percentile() on the exported buckets."""
    n = sum(b[2] for b in buckets)
    if n == 0:
        return None
    if p <= 0:
        return lo_clamp
    if p >= 100:
        return hi_clamp
    x = p / 100.0 * n
    rank = int(x)
    if rank < x - x * 1e-12:
        rank += 1
    rank = max(rank, 1)
    seen = 0
    for lo, hi, count in buckets:
        seen += count
        if seen < rank:
            continue
        mid = lo + (hi - lo) // 2
        return min(max(mid, lo_clamp), hi_clamp)
    return hi_clamp


def nines(p):
    """Position of percentile p on a 'nines' axis: 90 -> 1, 99 -> 2, 99.9 -> 3."""
    return -math.log10(1 - p / 100.0)


PERCENTILES = [round(100 * (1 - 10 ** (-t / 20)), 6) for t in range(0, 81)]  # 0 .. 99.99


def syscall_stack(r):
    s = r.get("syscalls")
    if not isinstance(s, dict) or s.get("why") or not num(s.get("per_op")) \
            or not num(s.get("ops")) or not s["ops"] or not isinstance(s.get("by_name"), dict):
        why = s.get("why") if isinstance(s, dict) else None
        return None, why or "syscalls not counted"
    return {k: v / s["ops"] for k, v in s["by_name"].items() if num(v)}, None


def model_thresholds(m):
    """The classifier's thresholds a result carries (model.thresholds), or
    the defaults of the builds that wrote none."""
    t = m.get("thresholds") if isinstance(m.get("thresholds"), dict) else {}
    return {"majority": t["majority"] if num(t.get("majority")) else MAJORITY,
            "some": t["some"] if num(t.get("some")) else SOME}


def regions(point, thresholds):
    """(who, wait) of a point of the model map, by the classifier's rules:
    who moved the data from async_share and offload_share (None counts as 0)
    against the majority threshold; where the submitting thread waited from
    blocked_share, then nonblock_share, against the 'some' threshold."""
    majority, some = thresholds["majority"], thresholds["some"]
    offload = point.get("offload_share")
    offload = offload if num(offload) else 0.0
    if point["async_share"] < majority:
        who = "submitter"
    elif offload >= majority:
        who = "threads"
    else:
        who = "kernel"
    if point["blocked_share"] >= some:
        wait = "blocking"
    elif point["nonblock_share"] >= some:
        wait = "non-blocking"
    else:
        wait = "no wait needed"
    return who, wait


def map_point(r):
    """A result's place on the model map (its coordinates, the classifier's
    verdict and the regions the coordinates fall in), or (None, why not)."""
    if r.get("status") != "ok":
        why = str(r.get("status") or "not run")
        return None, why + (f": {r['reason']}" if r.get("reason") else "")
    m = r.get("model") if isinstance(r.get("model"), dict) else {}
    if m.get("measured") == "no I/O":
        return None, "no I/O"
    if not m.get("measured"):
        return None, "model not measured"
    if not all(num(m.get(k)) for k in MAP_AXES):
        return None, "no model coordinates"
    pt = {k: m[k] for k in MAP_AXES}
    pt["offload_share"] = m["offload_share"] if num(m.get("offload_share")) else 0.0
    th = model_thresholds(m)
    who, wait = regions(pt, th)
    pt.update(model_who=m.get("who"), model_wait=m.get("wait"), measured=m["measured"],
              declared=m.get("declared"), mismatch=m.get("mismatch"), region_who=who,
              region_wait=wait, thresholds=th)
    return pt, None


# ---------------------------------------------------------------- input model

# Workload settings that tell apart results of one backend, in label order.
TAG_FORMS = {"conns": "c={}", "depth": "d={}", "jobs": "jobs={}", "batch": "batch={}",
             "bs": "bs={}", "msg": "msg={}", "rwmix": "rwmix={}", "direct": None,
             "cache": None, "fsync": "fsync={}"}


class Entry:
    def __init__(self, doc, path, r, multi):
        self.r = r
        self.path = path
        meta = doc["meta"]
        self.host = meta.get("hostname") or "?"
        self.kernel = meta.get("kernel") or "?"
        self.file_index = None
        self.spec = r["backend"] + (":" + r["variant"] if r.get("variant") else "")
        self.label = self.spec + (f" @ {self.host}/{self.kernel}" if multi else "")
        wl = r["workload"]
        self.workload = wl.get("name") or "?"
        self.socket = self.workload in SOCKET_WORKLOADS or wl.get("conns") is not None
        self.depth = wl.get("depth")
        self.conns = wl.get("conns")
        self.ok = r.get("status") == "ok"
        self.name = self.label  # made unique inside a workload below

    def param(self, key):
        return self.conns if key == "conns" else self.depth

    def tag(self, keys):
        """The settings named by keys, as they appear in labels: 'd=32 O_DIRECT'."""
        w = self.r["workload"]
        parts = []
        for k in keys:
            v = w.get(k)
            if k == "direct":
                if v:
                    parts.append("O_DIRECT")
            elif k == "cache":
                if not w.get("direct"):
                    parts.append(f"{v} cache")
            else:
                parts.append(TAG_FORMS[k].format(v))
        return " ".join(parts)


def varying(entries, skip=()):
    """The TAG_FORMS settings that differ across entries (the cache mode only
    among buffered ones: O_DIRECT says it already)."""
    def differs(k, es):
        return len({json.dumps(e.r["workload"].get(k)) for e in es}) > 1
    buffered = [e for e in entries if not e.r["workload"].get("direct")]
    return [k for k in TAG_FORMS if k not in skip
            and differs(k, buffered if k == "cache" else entries)]


def scaling_key(entries):
    """'conns' or 'depth': what varies across results of one label."""
    socket = any(e.socket for e in entries)
    if socket and len({e.conns for e in entries}) > 1:
        return "conns"
    if len({e.depth for e in entries}) > 1:
        return "depth"
    return None


def group(docs, multi):
    by_wl = {}
    for i, (path, doc) in enumerate(docs):
        for r in doc["results"]:
            e = Entry(doc, path, r, multi)
            e.file_index = i
            by_wl.setdefault(e.workload, []).append(e)
    for entries in by_wl.values():
        by_label = {}
        for e in entries:
            by_label.setdefault(e.label, []).append(e)
        for same in by_label.values():
            if len(same) < 2:
                continue
            keys = varying(same)
            for e in same:
                tag = e.tag(keys)
                e.name = f"{e.label} {tag}" if tag else e.label
            names = [e.name for e in same]
            for k, e in enumerate(same):
                if names.count(e.name) > 1:  # the same settings twice: number them
                    e.name = f"{names[k]} #{names[:k + 1].count(names[k])}"
    return by_wl
