#!/usr/bin/python3
"""Plots of iolens results files (schema iolens/1).

Usage: plot.py [--out DIR] [--dump] [--with-null] FILE.json [FILE.json ...]

One piece, ~1,270 lines, on purpose for now: the CLI and the benchmark
scripts run it as a single file with Debian's python3 and nothing installed;
splitting it into a package (one module per plot family) is part of issue 18.

Needs Debian's python3 and python3-matplotlib only. Writes PNG and SVG of,
for each workload found in the input:

  1-throughput-W   operations (or requests) per second per backend; Gbit/s too
                   for the stream workload. The null backend (no I/O: the
                   harness's own floor, tens of times any other rate) is left
                   out and its rate given in the caption; --with-null draws it
  2-latency-W      latency at each percentile, computed from the exported
                   histogram exactly as iolens computes its own percentiles
                   (the midpoint of the bucket holding rank ceil(p/100 * n),
                   clamped to the measured min and max)
  3-syscalls-W     syscalls per operation, stacked by name: by_name[n] /
                   syscalls.ops; names under 1% of a result's total in every
                   result are summed into "other"
  4-cpu-ctxsw-W    voluntary context switches per op (ctx_switches.voluntary /
                   ops) and CPU time per op (cpu.per_op_ns)
  5-scaling-W      IOPS and p99 against depth (or connections for socket
                   workloads), only for backends run at several of them; the
                   null backend as in 1
  6-timeline-W     the traced operations (trace.ops), one bar per op from
                   submission to completion, one lane per op in flight,
                   coloured by whether the op completed inside its submit
                   call; each panel's title gives the run's model.measured
  7-model-map-W    the measured model as the classifier (harness/measure/model.c)
                   decides it, one panel per axis, each drawing the
                   coordinates and thresholds the result's JSON carries
                   (model.thresholds; 0.5 and 0.05 when absent):

     who moved the data: x = model.async_share, y = model.offload_share
       (null = 0); "sync: the submitting thread's own call" left of
       x = majority, "async: threads" right of it at y >= majority,
       "async: kernel" below.
     where the submitting thread waited: x = model.nonblock_share,
       y = model.blocked_share, on axes stretched below 'some';
       "blocking" at y >= some, "non-blocking" under it at x >= some,
       "no wait needed" at both under some.
     Every point is named in the legend with its model.measured. Results
     not ok, with no I/O or without the coordinates are left off and named
     in the caption. regions() decides a point's regions by the classifier's
     rules; --dump gives them next to model.who and model.wait.

With several files each series is labelled "backend[:variant] @ host/kernel";
results of one backend within a workload are told apart by the settings
that differ among them ("d=32", "c=64", "O_DIRECT", ...). Each backend keeps
one colour in every plot. The plots are drawn in one worker process per CPU.
--dump prints, as JSON on stdout, what each plot drew. Exit 2 on bad
arguments, 1 on an unreadable or invalid results file.
"""
import argparse
import json
import math
import os
import signal
import sys
import textwrap

PROG = "plot.py"

SOCKET_WORKLOADS = ("echo", "serve", "stream")
INLINE_COLOUR, REAPED_COLOUR = "tab:orange", "tab:blue"
SHARED_TIME_RATIO = 50  # timeline panels share one time axis when their spans are within this
DPI = 110
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
MARKERS = ("o", "s", "^", "D", "v", "P")
CAPTION_PT = 7
# The classifier's thresholds (harness/measure/model.c), for results that carry none.
MAJORITY, SOME = 0.5, 0.05
# Coordinates a result needs to be on the model map; offload_share may be null (0).
MAP_AXES = ("async_share", "nonblock_share", "blocked_share")
MAP_CAPTION = ("left: x = model.async_share (share of ops the submitting thread did not complete "
               "in a call of its own), y = model.offload_share (share of the I/O done by other "
               "threads; null = 0). right: x = model.nonblock_share (waits in readiness or "
               "completion calls, or data calls made so they cannot sleep, per op), "
               "y = model.blocked_share (sleeps inside data or submit calls, per op). "
               "Region edges are the classifier's thresholds: majority {majority:g} (left), "
               "some {some:g} (right); the right panel's axes are linear on each side of "
               "{some:g}, stretched below it.")
# The right panel's axes give this share of their length to [0, some].
STRETCH = 0.3


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def fail(code, msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_args(argv):
    p = Parser(prog=PROG, description="Plot iolens results files.")
    p.add_argument("--out", metavar="DIR", help="output directory (default: that of the first file)")
    p.add_argument("--dump", action="store_true", help="print the plotted series as JSON")
    p.add_argument("--with-null", action="store_true",
                   help="draw the null backend in the throughput and scaling plots too")
    p.add_argument("files", nargs="*", metavar="FILE.json")
    try:
        a = p.parse_args(argv)
    except UsageError as e:
        fail(2, str(e))
    if not a.files:
        fail(2, "no results file given (usage: plot.py [--out DIR] [--dump] [--with-null] FILE.json ...)")
    if a.out is not None and (a.out == "" or (os.path.exists(a.out) and not os.path.isdir(a.out))):
        fail(2, f"--out {a.out!r}: not a directory")
    return a


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


def timeline_lanes(ops, by_job=False):
    """Bars (submit, complete, lane, inline, job): the lowest lane free at
    submission, or with by_job (a thread per op) the job's own lane."""
    if by_job:
        jobs = sorted({op[4] if len(op) > 4 else 0 for op in ops})
        lane = {j: k for k, j in enumerate(jobs)}
        return [(op[0], op[1], lane[op[4] if len(op) > 4 else 0], bool(op[3]) if len(op) > 3 else False,
                 op[4] if len(op) > 4 else 0) for op in ops]
    order = sorted(range(len(ops)), key=lambda i: (ops[i][0], ops[i][1]))
    free_at = []  # lane -> completion time of its last op
    bars = [None] * len(ops)
    for i in order:
        sub, comp = ops[i][0], ops[i][1]
        lane = next((k for k, t in enumerate(free_at) if t <= sub), None)
        if lane is None:
            lane = len(free_at)
            free_at.append(comp)
        else:
            free_at[lane] = comp
        bars[i] = (sub, comp, lane, bool(ops[i][3]) if len(ops[i]) > 3 else False,
                   ops[i][4] if len(ops[i]) > 4 else 0)
    return bars


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


# ---------------------------------------------------------------- drawing

class Plotter:
    def __init__(self, out, docs, with_null=False):
        import matplotlib
        matplotlib.use("Agg")
        # Text in the SVGs as text, not glyph outlines: smaller, searchable,
        # and a third quicker to write.
        matplotlib.rcParams["svg.fonttype"] = "none"
        # Titles at a fixed height: no plot has ticks on top, and finding
        # that out again for every axes and every draw was an eighth of the time.
        matplotlib.rcParams["axes.titley"] = 1.0
        import matplotlib.pyplot as plt
        self.plt = plt
        self.out = out
        self.with_null = with_null
        self.written = []
        self.hosts = []
        for _, doc in docs:
            m = doc["meta"]
            s = f"{m.get('hostname') or '?'}, kernel {m.get('kernel') or '?'}"
            if m.get("cpu_model"):
                s += f", {m['cpu_model']} x{m.get('cores') or '?'}"
            self.hosts.append(s)
        self.files = None
        self.said = []  # messages for stderr, printed in plot order
        # One colour per backend spec across every plot of the run.
        self.specs = []
        for _, doc in docs:
            for r in doc["results"]:
                spec = r["backend"] + (":" + r["variant"] if r.get("variant") else "")
                if spec not in self.specs:
                    self.specs.append(spec)
        self.cmap = matplotlib.colormaps["tab10" if len(self.specs) <= 10 else "tab20"]

    def colour(self, spec):
        return self.cmap(self.specs.index(spec) % self.cmap.N)

    def styles(self, items):
        """(colour, line style, marker) for each (spec, name) pair: the colour
        says the backend, the line style and marker what else sets the series
        apart (depth, connections, O_DIRECT, host)."""
        rests = []
        for spec, name in items:
            rest = name[len(spec):] if name.startswith(spec) else name
            if rest not in rests:
                rests.append(rest)
        out = []
        for spec, name in items:
            k = rests.index(name[len(spec):] if name.startswith(spec) else name)
            out.append((self.colour(spec), LINESTYLES[k % len(LINESTYLES)], MARKERS[k % len(MARKERS)]))
        return out

    def log_axis(self, axis, fmt):
        """A log scale labelled with plain numbers (fmt), not powers of ten;
        when the axis spans under a decade and a half the minor ticks are
        labelled too (matplotlib puts them on a linear grid then)."""
        from matplotlib.ticker import FuncFormatter, LogLocator
        if axis.axis_name == "x":
            axis.axes.set_xscale("log")
        else:
            axis.axes.set_yscale("log")

        def minor(v, pos):
            lo, hi = axis.get_view_interval()
            return fmt(v) if v > 0 and lo > 0 and hi / lo <= 10 ** 1.5 else ""
        axis.set_major_formatter(FuncFormatter(lambda v, pos: fmt(v)))
        # Minor ticks at the 2s and 5s only: enough to read a value off, and
        # a tick costs more to make than the whole curve.
        axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        axis.set_minor_formatter(FuncFormatter(minor))

    def caption_lines(self, caption, width_in):
        """The caption under every plot (hosts, then what was run), wrapped to
        the figure's width so its height is known before the layout."""
        seen = []
        for i in sorted(self.files if self.files is not None else range(len(self.hosts))):
            if self.hosts[i] not in seen:
                seen.append(self.hosts[i])
        text = "host: " + "; ".join(seen) + ("\n" + caption if caption else "")
        per_line = max(40, int((width_in - 0.2) * 72 / (CAPTION_PT * 0.55)))
        lines = []
        for para in text.split("\n"):
            lines += textwrap.wrap(para, per_line, subsequent_indent="  ") or [""]
        return lines

    def caption_height(self, caption, width_in):
        """Inches the caption takes at the bottom of a figure width_in wide."""
        return 0.12 + len(self.caption_lines(caption, width_in)) * CAPTION_PT * 1.25 / 72

    def save(self, fig, name, caption, tight=True):
        """Write fig as PNG and SVG with the caption at the bottom; with tight,
        lay the axes out in the space above it (otherwise the caller placed
        them, leaving caption_height() free)."""
        w, h = fig.get_size_inches()
        fig.text(0.1 / w, 0.06 / h, "\n".join(self.caption_lines(caption, w)), fontsize=CAPTION_PT,
                 ha="left", va="bottom", linespacing=1.25)
        if tight:
            self.layout(fig, self.caption_height(caption, w))
        for ext, kw in (("png", {"pil_kwargs": {"compress_level": 3}}), ("svg", {})):
            path = os.path.join(self.out, f"{name}.{ext}")
            # Under a temporary name, renamed when whole: a plot stopped
            # mid-write (SIGTERM from iolens) leaves no half a file.
            part = os.path.join(self.out, f".{name}.{ext}.part")
            try:
                fig.savefig(part, dpi=DPI, format=ext, **kw)
                os.replace(part, path)
            finally:
                if os.path.exists(part):
                    os.unlink(part)
            self.written.append(path)
        self.plt.close(fig)

    @staticmethod
    def layout(fig, bottom_in):
        """tight_layout, then the axes raised to leave bottom_in inches free.
        tight_layout(rect=...) would do the same with a second measuring
        pass, which costs as much as drawing the figure."""
        fig.tight_layout()
        sp = fig.subplotpars
        rows = fig.axes[0].get_subplotspec().get_gridspec().nrows
        free = bottom_in / fig.get_size_inches()[1]
        # Keep the gaps between rows in inches while the rows get shorter.
        row = (sp.top - sp.bottom) / (rows + sp.hspace * (rows - 1))
        new_row = (sp.top - sp.bottom - free - sp.hspace * row * (rows - 1)) / rows
        fig.subplots_adjust(bottom=sp.bottom + free, hspace=sp.hspace * row / new_row)


def colours(n):
    import matplotlib
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


def bar_width(n, panels=1):
    """Figure width for n bars with slanted names under them."""
    return max(6.0, 0.5 * n + 2.5) * panels


def floor_apart(P, entries):
    """(entries to draw, null ones left out): the null backend's rate is the
    harness's own floor, tens of times any real backend's, and would squash
    their bars; it stays in with --with-null, or when nothing else is there."""
    if P.with_null:
        return entries, []
    rest = [e for e in entries if e.r["backend"] != "null"]
    if not rest:
        return entries, []
    return rest, [e for e in entries if e.r["backend"] == "null"]


def floor_note(floor, unit, gbit=False):
    """'null (the harness floor): 15.1M IOPS' for the caption, with each
    result's settings when there are several."""
    def one(e):
        text = f"{fmt_rate(e.r['iops'])} {unit}"
        g = (e.r.get("net") or {}).get("gbit_s")
        if gbit and num(g):
            text += f", {fmt_plain(g)} Gbit/s"
        rest = e.name[len(e.spec):].strip() if e.name.startswith(e.spec) else e.name
        return text + (f" ({rest})" if rest else "")
    return "null (the harness floor): " + ", ".join(one(e) for e in floor) + \
        "; left out (--with-null draws it)"


def plot_throughput(P, wl, entries, dump, notes):
    rated = [e for e in entries if e.ok and num(e.r.get("iops"))]
    name = f"1-throughput-{wl}"
    if not rated:
        return skip(P, name, "no result with a measured rate")
    ok, floor = floor_apart(P, rated)
    unit = "requests/s" if wl in ("echo", "serve") else ("send calls/s" if wl == "stream" else "IOPS")
    gbit = [e for e in ok if num((e.r.get("net") or {}).get("gbit_s"))] if wl == "stream" else []
    panels = [(ok, [e.r["iops"] for e in ok], f"throughput ({unit}",
               f"{wl}: throughput per backend", fmt_rate)]
    if gbit:
        panels.append((gbit, [e.r["net"]["gbit_s"] for e in gbit], "throughput (Gbit/s",
                       f"{wl}: Gbit/s per backend", fmt_plain))
    fig, axes = P.plt.subplots(1, len(panels), figsize=(bar_width(len(ok), len(panels)), 5),
                               squeeze=False)
    for ax, (es, vals, ylab, title, fmt) in zip(axes[0], panels):
        bars = ax.bar(range(len(es)), vals, color=[P.colour(e.spec) for e in es])
        ax.bar_label(bars, labels=[fmt(v) for v in vals], fontsize=7)
        ax.set_xticks(range(len(es)), [e.name for e in es], rotation=30, ha="right", fontsize=8)
        # A log scale where the bars span over a decade; under that, bars
        # cut off by a log axis's bottom would overstate the differences.
        pos = [v for v in vals if v > 0]
        if pos and max(pos) > 10 * min(pos):
            P.log_axis(ax.yaxis, fmt_rate)
            ylab += ", log scale"
        else:
            from matplotlib.ticker import FuncFormatter
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, pos: fmt_rate(v) if v else "0"))
        ax.set_ylabel(ylab + ")")
        ax.set_xlabel("backend")
        ax.set_title(title)
        ax.margins(y=0.08)
    dump[name] = {"unit": unit, "series": [{"label": e.name, "x": e.name, "y": e.r["iops"]} for e in ok]}
    if gbit:
        dump[name]["gbit_s"] = [{"label": e.name, "x": e.name, "y": e.r["net"]["gbit_s"]} for e in gbit]
    dump[name]["floor"] = [{"label": e.name, "y": e.r["iops"]} for e in floor]
    left = [e.name for e in entries if e not in rated]
    cap = describe(entries) + (f"; not run or failed: {', '.join(left)}" if left else "")
    if floor:
        cap += "\n" + floor_note(floor, unit, gbit=bool(gbit))
    P.save(fig, name, cap)


def fmt_rate(v):
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:.3g}{suf}"
    return f"{v:.3g}"


def fmt_plain(v):
    """10000 -> '10,000', 0.1 -> '0.1': tick labels without powers of ten."""
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def describe(entries, skip=()):
    """What the plotted results ran, each setting with every value it took."""
    def values(key):
        out = []
        for e in entries:
            v = e.r["workload"].get(key)
            if v is not None and v not in out:
                out.append(v)
        return sorted(out) if all(num(v) for v in out) else out
    parts = [f"workload {entries[0].workload}"]
    for key, word in (("bs", "bs"), ("conns", "conns"), ("msg", "msg"), ("depth", "depth"),
                      ("jobs", "jobs")):
        vs = values(key)
        if key not in skip and vs and not (key in ("bs", "msg") and vs == [0]):
            parts.append(f"{word} {', '.join(str(v) for v in vs)}")
    direct = values("direct")
    if True in direct:
        parts.append("O_DIRECT" if direct == [True] else "buffered and O_DIRECT")
    return ", ".join(parts)


def outside_legend(ax, n, **kw):
    """A legend right of ax, out of the data's way."""
    return ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0,
                     ncol=1 + n // 32, **kw)


def plot_latency(P, wl, entries, dump, notes):
    name = f"2-latency-{wl}"
    have = [e for e in entries if e.ok and isinstance(e.r.get("histogram"), dict)
            and e.r["histogram"].get("buckets")]
    if not have:
        return skip(P, name, "no result with a histogram")
    fig, ax = P.plt.subplots(figsize=(10, 5.5))
    series = []
    for e, (c, ls, _) in zip(have, P.styles([(e.spec, e.name) for e in have])):
        lat = e.r.get("latency_ns") or {}
        b = e.r["histogram"]["buckets"]
        lo = lat.get("min") if num(lat.get("min")) else b[0][0]
        hi = lat.get("max") if num(lat.get("max")) else b[-1][1]
        ys = [hist_percentile(b, p, lo, hi) for p in PERCENTILES]
        ax.plot([nines(p) for p in PERCENTILES], [y / 1000.0 for y in ys], label=e.name,
                color=c, ls=ls, lw=1.5)
        series.append({"label": e.name, "x": PERCENTILES, "y": ys})
    ticks = [0, 50, 90, 99, 99.9, 99.99]
    ax.set_xticks([nines(p) for p in ticks], [f"{p:g}" for p in ticks])
    P.log_axis(ax.yaxis, fmt_plain)
    ax.set_xlabel("percentile (%), nines scale")
    ax.set_ylabel("latency (µs, log scale)")
    ax.set_title(f"{wl}: latency percentiles per backend")
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.15)
    outside_legend(ax, len(have))
    dump[name] = {"unit": "ns", "series": series}
    P.save(fig, name, describe(entries) + "; from the exported histogram (bucket midpoints)")


def plot_syscalls(P, wl, entries, dump, notes):
    name = f"3-syscalls-{wl}"
    ok = [e for e in entries if e.ok]
    if not ok:
        return skip(P, name, "no result")
    stacks, absent = {}, {}
    for e in ok:
        st, why = syscall_stack(e.r)
        if st is None:
            absent[e.name] = why
        else:
            stacks[e.name] = st
    keep = set()
    for st in stacks.values():
        tot = sum(st.values())
        keep |= {k for k, v in st.items() if k != "other" and tot > 0 and v >= 0.01 * tot}
    keep = sorted(keep, key=lambda k: (-sum(st.get(k, 0) for st in stacks.values()), k))
    fig, ax = P.plt.subplots(figsize=(bar_width(len(ok)) + 1.5, 5))
    names = [e.name for e in ok]
    bottoms = [0.0] * len(ok)
    layers = keep + ["other"]
    series = []
    for k, c in zip(layers, colours(len(layers))):
        vals = []
        for n in names:
            st = stacks.get(n)
            if st is None:
                vals.append(0.0)
            elif k == "other":
                vals.append(sum(v for kk, v in st.items() if kk not in keep))
            else:
                vals.append(st.get(k, 0.0))
        if any(vals):
            ax.bar(range(len(ok)), vals, bottom=bottoms, label=k, color=c)
        bottoms = [b + v for b, v in zip(bottoms, vals)]
    for i, n in enumerate(names):
        if n in absent:
            ax.text(i, 0, "not counted", rotation=90, ha="center", va="bottom", fontsize=8,
                    color="grey")
        else:
            ax.text(i, bottoms[i], fmt_small(bottoms[i]), ha="center", va="bottom", fontsize=7)
    for n in names:
        st = stacks.get(n)
        if st is None:
            continue
        stack = {k: st.get(k, 0.0) for k in keep}
        stack["other"] = sum(v for kk, v in st.items() if kk not in keep)
        series.append({"label": n, "x": n, "y": sum(stack.values()), "stack": stack})
    ax.set_xticks(range(len(ok)), names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("syscalls per operation")
    ax.set_xlabel("backend")
    ax.set_title(f"{wl}: syscalls per operation, by name")
    ax.margins(y=0.08)
    ax.set_ylim(bottom=0)  # a zero-height layer on a tiny stack would lift it off 0
    outside_legend(ax, len(layers), title="syscall", title_fontsize=7)
    dump[name] = {"series": series, "absent": absent}
    cap = describe(entries) + "; names under 1% of every result's total are in 'other'"
    if absent:
        cap += "; not counted: " + ", ".join(f"{n} ({w})" for n, w in absent.items())
    P.save(fig, name, cap)


def fmt_small(v):
    """A per-op count as a bar label: the digits of 1e-05 only crowd the bars
    next to it, and the bar is flat anyway."""
    return f"{v:.3g}" if v == 0 or v >= 0.001 else "<0.001"


def fmt_ns(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def plot_cpu(P, wl, entries, dump, notes):
    from matplotlib.ticker import FuncFormatter
    name = f"4-cpu-ctxsw-{wl}"
    ok = [e for e in entries if e.ok and num(e.r.get("ops")) and e.r["ops"] > 0]
    if not ok:
        return skip(P, name, "no result with operations")
    # Side by side while the names fit; one above the other when there are many.
    if len(ok) <= 8:
        fig, (a1, a2) = P.plt.subplots(1, 2, figsize=(bar_width(len(ok), 2), 5))
    else:
        fig, (a1, a2) = P.plt.subplots(2, 1, figsize=(bar_width(len(ok)), 9))
    names = [e.name for e in ok]
    cs = [P.colour(e.spec) for e in ok]
    vcsw = [((e.r.get("ctx_switches") or {}).get("voluntary"), e.r["ops"]) for e in ok]
    vcsw = [v / n if num(v) else None for v, n in vcsw]
    cpu = [(e.r.get("cpu") or {}).get("per_op_ns") for e in ok]
    for ax, vals, ylab, title, fmt in (
            (a1, vcsw, "voluntary context switches per op", "voluntary switches / op",
             fmt_small),
            (a2, cpu, "CPU time per op (ns)", "CPU time / op", fmt_ns)):
        v = [x if num(x) else 0 for x in vals]
        b = ax.bar(range(len(ok)), v, color=cs)
        ax.bar_label(b, labels=[fmt(x) if num(x) else "n/a" for x in vals], fontsize=7)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, pos: fmt_plain(y) if y else "0"))
        ax.set_xticks(range(len(ok)), names, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(ylab)
        ax.set_xlabel("backend")
        ax.set_title(f"{wl}: {title}")
        ax.margins(y=0.08)
    dump[name] = {
        "vcsw_per_op": [{"label": n, "x": n, "y": v} for n, v in zip(names, vcsw)],
        "cpu_per_op_ns": [{"label": n, "x": n, "y": v} for n, v in zip(names, cpu)],
    }
    P.save(fig, name, describe(entries) +
           "; switches/op = ctx_switches.voluntary / ops; CPU/op = cpu.per_op_ns (user + sys)")


def plot_scaling(P, wl, entries, dump, notes):
    name = f"5-scaling-{wl}"
    by_label = {}
    for e in entries:
        if e.ok and num(e.r.get("iops")):
            by_label.setdefault(e.label, []).append(e)
    lines = []
    for label, es in by_label.items():
        key = scaling_key(es)
        if key is None:
            continue
        # One line per setting other than the one on the x axis (O_DIRECT, ...):
        # a line through both would join results that are not a series.
        others = varying(es, skip=(key,))
        runs = {}
        for e in es:
            runs.setdefault(e.tag(others), []).append(e)
        for tag, run in runs.items():
            pts = sorted(((e.param(key), e) for e in run if num(e.param(key))), key=lambda t: t[0])
            if len({p for p, _ in pts}) < 2:
                continue
            lines.append((f"{label} {tag}" if tag else label, key, pts, run[0].spec))
    if not lines:
        notes.append(f"{name}: skipped, no backend has results at several depths or connection counts")
        return
    # The null backend's line, like its bar, squashes the others (floor_apart).
    kept, floor = floor_apart(P, [pts[0][1] for _, _, pts, _ in lines])
    floor = [e for line in lines if line[2][0][1] in floor for _, e in line[2]]
    lines = [line for line in lines if line[2][0][1] in kept]
    fig, (a1, a2) = P.plt.subplots(1, 2, figsize=(12, 4.8))
    series = []
    keys = {k for _, k, _, _ in lines}
    xlab = "connections" if keys == {"conns"} else ("queue depth" if keys == {"depth"} else "depth or connections")
    styles = P.styles([(spec, label) for label, _, _, spec in lines])
    for (label, key, pts, _), (c, ls, mk) in zip(lines, styles):
        xs = [p for p, _ in pts]
        iops = [e.r["iops"] for _, e in pts]
        p99 = [(e.r.get("latency_ns") or {}).get("p99") for _, e in pts]
        a1.plot(xs, iops, marker=mk, ls=ls, label=label, color=c)
        a2.plot(xs, [v / 1000.0 if num(v) else float("nan") for v in p99], marker=mk, ls=ls,
                label=label, color=c)
        series.append({"label": label, "key": key, "x": xs, "iops": iops, "p99_ns": p99})
    ticks = sorted({x for s in series for x in s["x"]})
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_locator(P.plt.NullLocator())
        ax.set_xlabel(xlab + " (log2 scale)")
        ax.grid(True, alpha=0.3)
    unit = "requests/s" if wl in ("echo", "serve") else "IOPS"
    P.log_axis(a1.yaxis, fmt_rate)
    a1.set_ylabel(f"throughput ({unit}, log scale)")
    a1.set_title(f"{wl}: throughput against {xlab}")
    P.log_axis(a2.yaxis, fmt_plain)
    a2.set_ylabel("p99 latency (µs, log scale)")
    a2.set_title(f"{wl}: p99 against {xlab}")
    outside_legend(a2, len(lines))
    dump[name] = {"series": series, "floor": [{"label": e.name, "y": e.r["iops"]} for e in floor]}
    drawn = [e for _, _, pts, _ in lines for _, e in pts]
    alone = sum(len(es) for es in by_label.values()) - len(drawn) - len(floor)
    P.save(fig, name, describe(drawn, skip=("depth", "conns")) +
           (f"; {alone} results without a second {xlab} of the same settings left out" if alone else "") +
           ("\n" + floor_note(floor, unit) if floor else ""))


def plot_timeline(P, wl, entries, dump, notes):
    name = f"6-timeline-{wl}"
    have = [e for e in entries if e.ok and isinstance(e.r.get("trace"), dict)
            and e.r["trace"].get("ops")]
    if not have:
        notes.append(f"{name}: skipped, no result has a trace (run with --trace N)")
        return
    import numpy as np
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.path import Path
    from matplotlib.ticker import MaxNLocator
    lanes = [timeline_lanes(e.r["trace"]["ops"], by_job=bool(e.r.get("thread_per_op")))
             for e in have]
    heights = [max(b[2] for b in bars) + 1 for bars in lanes]
    caption = describe(entries) + \
        "; one bar per traced op, each in the lowest lane free when it was submitted" + \
        " (a lane per thread for thread-per-op backends); its colour is that op's own" + \
        " (completed inside the submit call or later), the title's model the run's verdict" + \
        " (model.measured)"
    spans = [max(max(b[1] for b in bars) - min(b[0] for b in bars), 1) / 1000.0 for bars in lanes]
    # One time scale for every panel when the spans are comparable (the
    # difference is then the picture: 1 s of waits in line against 50 ms of
    # overlapped ones); a scale per panel when one would shrink the others
    # to a sliver.
    shared = max(spans) <= SHARED_TIME_RATIO * min(spans)
    caption += ("; one time scale for every panel" if shared else
                "; each panel has its own time scale")
    # Laid out by hand, in inches: tight_layout over a score of panels costs
    # more than drawing them, and every panel has the same furniture.
    width, left, right = 10.0, 0.75, 0.25
    header, title_h, ticks_h, xlabel_h = 0.75, 0.32, 0.28, 0.3
    plot_h = [min(max(h * 0.09, 0.6), 2.4) for h in heights]
    cap_h = P.caption_height(caption, width)
    total = header + sum(title_h + p + ticks_h for p in plot_h) + xlabel_h + cap_h
    fig = P.plt.figure(figsize=(width, total))
    axes, top = [], total - header
    for p in plot_h:
        top -= title_h + p
        axes.append(fig.add_axes((left / width, top / total, (width - left - right) / width, p / total)))
        top -= ticks_h
    series = []
    for ax, e, bars, h, own in zip(axes, have, lanes, heights, spans):
        span = max(spans) if shared else own
        t0 = min(b[0] for b in bars)
        # One compound path per colour and panel: an artist per lane or per op
        # costs far more to build and to write (SVG) than the rectangles.
        for inline, colour in ((True, INLINE_COLOUR), (False, REAPED_COLOUR)):
            rects = [((b[0] - t0) / 1000.0, (b[1] - t0) / 1000.0, b[2]) for b in bars if b[3] == inline]
            if not rects:
                continue
            polys = np.array([((x0, y - 0.4), (x0, y + 0.4), (x1, y + 0.4), (x1, y - 0.4))
                              for x0, x1, y in rects], dtype=float)
            # add_artist, not add_patch: the limits are set below, and add_patch
            # would walk every vertex to update them.
            ax.add_artist(PathPatch(Path.make_compound_path_from_polys(polys), facecolor=colour,
                                    edgecolor=colour, linewidth=0.6))
        ax.set_xlim(0 - span * 0.02, span * 1.02)
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
        ax.set_ylim(-0.5, h - 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6, min_n_ticks=1))
        ax.invert_yaxis()
        per_job = bool(e.r.get("thread_per_op"))
        ax.set_ylabel("job" if per_job else "lane", fontsize=8)
        measured = timeline_measured(e.r)
        lanes_are = f"{h} thread{'s' if h > 1 else ''}, a lane each" if per_job else f"up to {h} in flight"
        ax.set_title(f"{e.name}: {len(bars)} ops, {lanes_are}; measured model: {measured}",
                     fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="x", alpha=0.3)
        ax.set_axisbelow(True)
        series.append({"label": e.name, "bars": len(bars), "lanes": h, "measured": measured,
                       "x": [[b[0], b[1]] for b in bars], "y": [b[2] for b in bars]})
    axes[-1].set_xlabel("time since the first traced submission (µs)")
    fig.suptitle(f"{wl}: traced operations, submission to completion", fontsize=11,
                 y=1 - 0.12 / total, va="top")
    fig.legend(handles=[Patch(color=INLINE_COLOUR, label="completed inside the submit call"),
                        Patch(color=REAPED_COLOUR, label="completed later (reaped)")],
               fontsize=8, loc="upper center", ncol=2, frameon=False,
               bbox_to_anchor=(0.5, 1 - 0.38 / total))
    dump[name] = {"series": series, "shared_time": shared}
    P.save(fig, name, caption, tight=False)


def timeline_measured(r):
    """The result's measured model, for a timeline panel's title: the
    verdict next to the colours of its ops."""
    m = r.get("model") if isinstance(r.get("model"), dict) else {}
    return m.get("measured") or "not measured"


def clusters(points, near):
    """Indices of points grouped so that each is within near (both axes) of
    another in its group: the points one label has to name together."""
    groups = []
    for i, (x, y) in enumerate(points):
        hit = [g for g in groups if any(abs(x - points[j][0]) <= near and abs(y - points[j][1]) <= near
                                        for j in g)]
        merged = [i] + [j for g in hit for j in g]
        groups = [g for g in groups if g not in hit] + [sorted(merged)]
    return sorted(groups, key=lambda g: g[0])


def place_labels(ax, renderer, anchors, makers, obstacles):
    """Put a label near each anchor (x, y in data units) where it overlaps no
    other label, point or fixed text and stays inside the axes: the nearest
    free place wins, else the least covered one. makers[i](xybox, align)
    returns label i as an AnnotationBbox at that offset (points) and box
    alignment. The labels with most rows go first."""
    frame = ax.get_window_extent(renderer)
    taken = list(obstacles)
    cx, cy = ax.transAxes.transform((0.5, 0.5))
    for i in sorted(range(len(anchors)), key=lambda i: -makers[i].rows):
        px, py = ax.transData.transform(anchors[i])
        # Towards the middle of the map first: the points sit on its edges.
        dirs = sorted(((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy),
                      key=lambda d: -((cx - px) * d[0] + (cy - py) * d[1]) / math.hypot(*d))
        best = None
        for dist in (14, 24, 36, 52, 72, 96, 124, 156):
            for dx, dy in dirs:
                n = math.hypot(dx, dy)
                box = ax.add_artist(makers[i]((dx * dist / n, dy * dist / n), ((1 - dx) / 2, (1 - dy) / 2)))
                box.update_positions(renderer)
                # The box alone: the whole artist's extent spans the leader line too.
                bb = box.offsetbox.get_window_extent(renderer).padded(5)
                outside = max(0, frame.x0 - bb.x0) + max(0, bb.x1 - frame.x1) + \
                    max(0, frame.y0 - bb.y0) + max(0, bb.y1 - frame.y1)
                cover = sum(max(0, min(bb.x1, t.x1) - max(bb.x0, t.x0)) *
                            max(0, min(bb.y1, t.y1) - max(bb.y0, t.y0)) for t in taken)
                # A leader line through another label reads as pointing at it.
                bx, by = (bb.x0 + bb.x1) / 2, (bb.y0 + bb.y1) / 2
                crossed = sum(any(t.contains(px + (bx - px) * k / 16, py + (by - py) * k / 16)
                                  for k in range(2, 15)) for t in taken[len(obstacles):])
                cost = outside * 1e4 + cover + crossed * 400
                if best is None or cost < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (cost, box, bb)
                else:
                    box.remove()
                if cost == 0:
                    break
            if best[0] == 0:
                break
        taken.append(best[2])


def label_maker(rows, xy):
    """A function (xybox, align) -> AnnotationBbox pointing at xy and listing
    rows (colour, marker, text), each behind its point's marker."""
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnnotationBbox, DrawingArea, HPacker, TextArea, VPacker

    def make(xybox, align):
        lines = []
        for colour, marker, text in rows:
            mark = DrawingArea(8, 8, 0, 0)
            mark.add_artist(Line2D([4], [4], ls="none", marker=marker, ms=6, color=colour,
                                   mec="black", mew=0.5))
            lines.append(HPacker(children=[mark, TextArea(text, textprops=dict(fontsize=7))],
                                 pad=0, sep=3, align="center"))
        return AnnotationBbox(VPacker(children=lines, pad=0, sep=1, align="left"), xy,
                              xybox=xybox, boxcoords="offset points", box_alignment=align,
                              frameon=True, pad=0.25, zorder=6,
                              bboxprops=dict(boxstyle="round,pad=0.25", fc="white", ec="0.6", lw=0.6,
                                             alpha=0.9),
                              arrowprops=dict(arrowstyle="-", color="0.35", lw=0.7, shrinkA=0,
                                              shrinkB=5))
    make.rows = len(rows)
    return make


def stretched(some):
    """(forward, inverse) of an axis linear on [0, some] and again on
    [some, 1], [0, some] taking STRETCH of its length: a threshold of a few
    hundredths stays visible next to shares of 1, and the bend is at the
    threshold itself, where the region edge is drawn."""
    import numpy as np
    k = STRETCH
    if not 0 < some < 1:
        return (lambda v: np.asarray(v, dtype=float)), (lambda u: np.asarray(u, dtype=float))

    def forward(v):
        v = np.asarray(v, dtype=float)
        return np.where(v < some, v * (k / some), k + (v - some) * ((1 - k) / (1 - some)))

    def inverse(u):
        u = np.asarray(u, dtype=float)
        return np.where(u < k, u * (some / k), some + (u - k) * ((1 - some) / (1 - k)))
    return forward, inverse


def map_panel(ax, title, xlabel, ylabel, limits, edges, texts):
    """One panel of the model map: its regions (x0, x1, y0, y1, colour)
    filled, the region edges (x0, x1, y0, y1) drawn, a name written at the
    middle of each region ((x, y, text)). Returns the name texts."""
    from matplotlib.patches import Rectangle
    (lo, hi) = limits
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    for x0, x1, y0, y1, colour in edges["fill"]:
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=colour, edgecolor="none",
                               alpha=0.10, zorder=0))
    for x0, x1, y0, y1 in edges["lines"]:
        ax.plot([x0, x1], [y0, y1], color="0.3", lw=1.1, zorder=1)
    names = [ax.text(x, y, text, ha="center", va="center", fontsize=11, color="0.55", zorder=1,
                     linespacing=1.1) for x, y, text in texts]
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    return names


def plot_map(P, wl, entries, dump, notes):
    """The classifier's two axes, each as a panel of the coordinates that
    decide it, with the region edges at its thresholds: a point's region is
    its verdict by the same rules (regions())."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    from matplotlib.transforms import Bbox
    name = f"7-model-map-{wl}"
    pts, absent = [], {}
    for e in entries:
        pt, why = map_point(e.r)
        if pt is None:
            absent[e.name] = why
        else:
            pts.append((e, pt))
    if not pts:
        notes.append(f"{name}: skipped, no result has measured model coordinates")
        return
    th = pts[0][1]["thresholds"]
    majority, some = th["majority"], th["some"]
    cap = describe(entries) + "\n" + MAP_CAPTION.format(**th)
    other = sorted({(p["thresholds"]["majority"], p["thresholds"]["some"]) for _, p in pts}
                   - {(majority, some)})
    if other:
        cap += ("\nthe results carry other thresholds too (" +
                ", ".join(f"majority {a:g}, some {b:g}" for a, b in other) +
                "): the edges are those of the first; each point's regions in --dump use its own")
    if absent:
        cap += "\nleft off: " + ", ".join(f"{n} ({w})" for n, w in absent.items())

    # Laid out in inches: two square panels, the legend under them, the caption.
    side, left, gap, right = 5.2, 0.75, 1.2, 0.3
    header, title_h, below = 0.6, 0.3, 0.75
    width = left + side + gap + side + right
    legend_h = 0.3 + (len(pts) + 1) // 2 * 0.17
    cap_h = P.caption_height(cap, width)
    total = header + title_h + side + below + legend_h + cap_h
    fig = P.plt.figure(figsize=(width, total))
    bottom = (cap_h + legend_h + below) / total
    ax_who = fig.add_axes((left / width, bottom, side / width, side / total))
    ax_wait = fig.add_axes(((left + side + gap) / width, bottom, side / width, side / total))

    # Left: x = async_share, y = offload_share, the majority threshold on both.
    lo, hi = -0.04, 1.04
    names = map_panel(
        ax_who, "who moved the data",
        "async_share: ops the submitting thread did not complete\nin a call of its own",
        "offload_share: I/O done by other threads (null = 0)", (lo, hi),
        {"fill": [(lo, majority, lo, hi, "tab:blue"), (majority, hi, lo, majority, "tab:green"),
                  (majority, hi, majority, hi, "tab:orange")],
         "lines": [(majority, majority, lo, hi), (majority, hi, majority, majority)]},
        [((lo + majority) / 2, (lo + hi) / 2, "sync:\nthe submitting\nthread's own call"),
         ((majority + hi) / 2, (lo + majority) / 2, "async:\nkernel"),
         ((majority + hi) / 2, (majority + hi) / 2, "async:\nthreads")])
    ticks = sorted({0, 0.25, 0.5, 0.75, 1, majority})
    for axis in (ax_who.xaxis, ax_who.yaxis):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FuncFormatter(lambda v, pos: f"{v:g}"))

    # Right: x = nonblock_share, y = blocked_share, the 'some' threshold on
    # both, on axes stretched below it.
    fwd, inv = stretched(some)
    for axis in ("x", "y"):
        getattr(ax_wait, f"set_{axis}scale")("function", functions=(fwd, inv))
    slo, shi = float(inv(-0.04)), float(inv(1.04))
    names_wait = map_panel(
        ax_wait, "where the submitting thread waited",
        f"nonblock_share: waits in readiness or completion calls, or data calls\n"
        f"made so they cannot sleep, per op (axis stretched below {some:g})",
        f"blocked_share: sleeps inside data or submit calls, per op\n"
        f"(axis stretched below {some:g})",
        (slo, shi),
        {"fill": [(slo, shi, some, shi, "tab:red"), (some, shi, slo, some, "tab:cyan"),
                  (slo, some, slo, some, "tab:gray")],
         "lines": [(slo, shi, some, some), (some, some, slo, some)]},
        [(float(inv(0.5)), float(inv((STRETCH + 1.04) / 2)), "blocking"),
         (float(inv((STRETCH + 1.04) / 2)), float(inv((STRETCH - 0.04) / 2)), "non-blocking"),
         (float(inv((STRETCH - 0.04) / 2)), float(inv((STRETCH - 0.04) / 2)), "no wait\nneeded")])
    fine = [round(some * i / 5, 12) for i in range(6)] if 0 < some < 1 else []
    ticks = sorted(set(fine + [v for v in (0.25, 0.5, 0.75, 1) if v >= 2 * some or not fine]))
    for axis in (ax_wait.xaxis, ax_wait.yaxis):
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(lambda v, pos: f"{v:g}"))

    # The points, the same marker and colour in both panels. Points at one
    # place nest: each a size smaller than the ones under it, so none hides
    # another.
    styles = P.styles([(e.spec, e.name) for e, _ in pts])
    renderer = fig.canvas.get_renderer()
    for ax, xk, yk, fixed in ((ax_who, "async_share", "offload_share", names),
                              (ax_wait, "nonblock_share", "blocked_share", names_wait)):
        at = [ax.transData.transform((pt[xk], pt[yk])) for _, pt in pts]
        drawn = []
        for (e, pt), (c, _, mk), (px, py) in zip(pts, styles, at):
            under = sum(abs(px - x) < 5 and abs(py - y) < 5 for x, y in drawn)
            drawn.append((px, py))
            ax.plot([pt[xk]], [pt[yk]], ls="none", marker=mk, ms=max(11 - 2.5 * under, 3.5),
                    color=c, mec="black", mew=0.6, zorder=3 + under)
        # A label per group of points close enough to collide, naming each
        # with its marker.
        near = 0.04 * ax.get_window_extent(renderer).width
        anchors, makers = [], []
        for g in clusters([tuple(p) for p in at], near):
            gx = sum(at[i][0] for i in g) / len(g)
            gy = sum(at[i][1] for i in g) / len(g)
            anchor = tuple(ax.transData.inverted().transform((gx, gy)))
            anchors.append(anchor)
            makers.append(label_maker([(styles[i][0], styles[i][2], pts[i][0].name) for i in g],
                                      anchor))
        obstacles = [Bbox.from_extents(x - 7, y - 7, x + 7, y + 7) for x, y in at] + \
            [t.get_window_extent(renderer).padded(2) for t in fixed]
        place_labels(ax, renderer, anchors, makers, obstacles)

    handles = []
    for (e, pt), (c, _, mk) in zip(pts, styles):
        handles.append(Line2D([], [], ls="none", marker=mk, ms=7, color=c, mec="black", mew=0.6,
                              label=map_legend(e.name, pt)))
    fig.legend(handles=handles, fontsize=7, loc="upper left", ncol=2, frameon=False,
               bbox_to_anchor=(left / width, (cap_h + legend_h) / total),
               title="measured model (model.measured), and the declared one where they differ",
               title_fontsize=7, alignment="left")
    fig.suptitle(f"{wl}: the measured model, at the classifier's own coordinates and thresholds",
                 fontsize=11, y=1 - 0.15 / total, va="top")
    series = []
    for e, pt in pts:
        series.append({"label": e.name, "legend": map_legend(e.name, pt),
                       **{k: pt[k] for k in ("async_share", "offload_share", "nonblock_share",
                                             "blocked_share", "model_who", "model_wait",
                                             "measured", "declared", "region_who", "region_wait",
                                             "thresholds")}})
    dump[name] = {"series": series, "absent": absent, "thresholds": th}
    P.save(fig, name, cap, tight=False)


def map_legend(name, pt):
    """A point's legend entry: its name and measured model, and the declared
    one when the two differ."""
    text = f"{name}: {pt['measured']}"
    if pt.get("mismatch") and pt.get("declared"):
        text += f"; declared {pt['declared']}"
    return text


def skip(P, name, why):
    P.said.append(f"{PROG}: {name}: skipped, {why}")


PLOTS = (plot_throughput, plot_latency, plot_syscalls, plot_cpu, plot_scaling, plot_timeline,
         plot_map)
JOBS = None  # (Plotter, [(workload, entries, plot function)]) for the worker processes


def run_job(i):
    """Draw plot i of JOBS; return what it adds to the dump, the notes, the
    messages and the files written."""
    P, jobs = JOBS
    wl, entries, fn = jobs[i]
    P.files = {e.file_index for e in entries}
    P.said, start, dump, notes = [], len(P.written), {}, []
    fn(P, wl, entries, dump, notes)
    return i, (dump, notes, P.said, P.written[start:])


def job_cost(job):
    """A rough guess of a plot's drawing time, to hand out the longest first."""
    _, entries, fn = job
    if fn is plot_timeline:
        return sum(len((e.r.get("trace") or {}).get("ops") or []) for e in entries) / 50 + 3 * len(entries)
    return len(entries) * (2 if fn is plot_map else 1)


def run_all(P, jobs):
    """Every plot, in worker processes (one per CPU) when there are several
    CPUs: the plots share nothing, and drawing is all CPU. The results come
    back in plot order, so the output is the same as drawn one by one."""
    global JOBS
    JOBS = (P, jobs)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    workers = min(cpus, len(jobs))
    order = sorted(range(len(jobs)), key=lambda i: -job_cost(jobs[i]))
    done = None
    if workers > 1:
        import multiprocessing
        try:
            # Workers take SIGTERM the default way (Pool.terminate sends
            # it): a Python handler would only run between bytecodes, and a
            # worker blocked in the pool's locks would never die.
            pool = multiprocessing.get_context("fork").Pool(
                workers, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL))
        except (OSError, ValueError):  # no fork or no semaphores here: draw them in turn
            pool = None
        if pool is not None:
            with pool:
                done = dict(pool.imap_unordered(run_job, order, chunksize=1))
    if done is None:
        done = dict(run_job(i) for i in order)
    return [done[i] for i in range(len(jobs))]


def main(argv):
    a = parse_args(argv)
    docs = [(p, load(p)) for p in a.files]
    out = a.out if a.out is not None else (os.path.dirname(os.path.abspath(a.files[0])))
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        fail(2, f"--out {out}: {e.strerror}")
    try:
        P = Plotter(out, docs, a.with_null)
    except ImportError as e:
        fail(1, f"matplotlib is needed (apt-get install python3-matplotlib): {e}")
    by_wl = group(docs, len(docs) > 1)
    jobs = [(wl, entries, fn) for wl, entries in by_wl.items() for fn in PLOTS]
    dump, notes, written = {}, [], []
    try:
        drawn = run_all(P, jobs)
    finally:
        # Stopped (SIGTERM): a worker ended mid-plot may have left its temporary.
        for name in os.listdir(out):
            if name.startswith(".") and name.endswith(".part"):
                os.unlink(os.path.join(out, name))
    for d, n, said, files in drawn:
        dump.update(d)
        notes += n
        written += files
        for line in said:
            print(line, file=sys.stderr)
    for n in notes:
        print(f"{PROG}: {n}", file=sys.stderr)
    if not by_wl:
        print(f"{PROG}: no results to plot", file=sys.stderr)
    if a.dump:
        json.dump({"plots": dump, "files": written, "skipped": notes}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    # SIGTERM (iolens stopping the plots) unwinds like an exception, so the
    # temporaries go (run_all gives its pool workers the default action).
    signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(128 + signo))
    sys.exit(main(sys.argv[1:]))
