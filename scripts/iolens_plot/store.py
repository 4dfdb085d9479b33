"""Two runs of the results database side by side (plot.py --db PATH --runs A,B).

A and B are each a run id or a label; a label stands for every run that
carries it (a bench run's cells and repeats), and each bar is then the
median over them with the smallest and largest as whiskers, as is a run's
own --repeat. Results are matched across A and B by their pair hash, the
parameters every tool shares plus the backend, so a fio import and an
iolens run of the same workload land on the same bars.

Reading (compare_runs) takes the standard library's sqlite3 only, on the
file opened read-only; drawing (plot_runs) imports matplotlib.
"""
import os
import re
import sqlite3
import statistics
import urllib.parse

from .data import fail
from .plotter import colours, fmt_ns, fmt_rate, fmt_small

# (column, panel title, y label, bar label format)
METRICS = (("iops", "throughput", "operations/s", fmt_rate),
           ("p99_ns", "p99 latency", "p99 (µs)", lambda v: fmt_ns(v / 1000.0)),
           ("syscalls_per_op", "syscalls per operation", "syscalls/op", fmt_small))
# The workload settings that may tell two bars of one backend apart.
SETTINGS = (("name", ""), ("rwmix", "rwmix="), ("bs", "bs="), ("size", "size="),
            ("direct", "O_DIRECT"), ("depth", "d="), ("jobs", "j="), ("conns", "c="),
            ("msg", "msg="), ("transport", ""), ("rate", "rate="))


def db_path(given):
    """--db, else $IOLENS_DB, else where iolens records by default."""
    if given:
        return given
    if os.environ.get("IOLENS_DB"):
        return os.environ["IOLENS_DB"]
    data = os.environ.get("XDG_DATA_HOME", "")
    if not data.startswith("/"):
        data = os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "iolens", "results.db")


def connect(path):
    if not os.path.isfile(path):
        fail(1, f"{path}: no such results database")
    try:
        con = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        con.execute("SELECT id, label FROM runs LIMIT 1").fetchall()
    except sqlite3.Error as e:
        fail(1, f"{path}: not an iolens results database ({e})")
    return con


def side(con, path, token):
    """The runs token names: [id] for a run id, every run with that label for a label."""
    if token.isdigit():
        rows = con.execute("SELECT id FROM runs WHERE id = ?", (int(token),)).fetchall()
    else:
        rows = con.execute("SELECT id FROM runs WHERE label = ? ORDER BY id", (token,)).fetchall()
    if not rows:
        fail(2, f"--runs: no run {'id' if token.isdigit() else 'labelled'} {token!r} in {path}")
    ids = [r["id"] for r in rows]
    marks = ",".join("?" * len(ids))
    meta = con.execute(
        f"SELECT DISTINCT run.label, run.tool, h.hostname, h.kernel, h.cpu_model, h.cores"
        f" FROM runs AS run LEFT JOIN hosts AS h ON h.id = run.host_id WHERE run.id IN ({marks})"
        f" ORDER BY run.id", ids).fetchall()
    results = con.execute(
        f"SELECT pair_hash, backend, variant, params, iops, p99_ns, syscalls_per_op FROM results"
        f" WHERE run_id IN ({marks}) AND status = 'ok' ORDER BY run_id, idx", ids).fetchall()
    return {"name": token, "runs": ids,
            "labels": sorted({m["label"] for m in meta if m["label"]}),
            "tools": sorted({m["tool"] for m in meta}),
            "hosts": [dict(m) for m in meta], "results": results}


def spread(values):
    """median, min, max and count of the values that are numbers; None when there are none."""
    vs = [v for v in values if v is not None]
    if not vs:
        return None
    return {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "n": len(vs)}


def fmt_bytes(v):
    """4096 -> '4k', 8388608 -> '8m': sizes as iolens run takes them."""
    for shift, suf in ((30, "g"), (20, "m"), (10, "k")):
        if isinstance(v, int) and v and v % (1 << shift) == 0:
            return f"{v >> shift}{suf}"
    return str(v)


def bar_names(params, specs):
    """Each pair's name: its backend spec, then the settings that differ among the pairs."""
    keys = [k for k, _ in SETTINGS
            if len({repr(p.get(k)) for p in params.values()}) > 1]
    names = {}
    for pair, p in params.items():
        bits = [specs[pair]]
        for k, word in SETTINGS:
            v = p.get(k)
            if k not in keys or v is None or v is False:
                continue
            bits.append(word if v is True else
                        f"{word}{fmt_bytes(v) if k in ('bs', 'size', 'msg') else v}")
        names[pair] = " ".join(bits)
    return names


def compare_runs(path, tokens):
    """Everything the figure draws, as --dump prints it."""
    import json
    con = connect(path)
    try:
        sides = [side(con, path, t) for t in tokens]
    finally:
        con.close()
    order, params, specs = [], {}, {}
    for s in sides:
        for r in s["results"]:
            if r["pair_hash"] not in params:
                order.append(r["pair_hash"])
                params[r["pair_hash"]] = json.loads(r["params"])
                specs[r["pair_hash"]] = r["backend"] + (":" + r["variant"] if r["variant"] else "")
    names = bar_names(params, specs)
    out = {"db": path, "bars": [names[p] for p in order], "sides": []}
    for s in sides:
        got = {m: {p: [] for p in order} for m, *_ in METRICS}
        for r in s["results"]:
            for m, *_ in METRICS:
                got[m][r["pair_hash"]].append(r[m])
        entry = {k: s[k] for k in ("name", "runs", "labels", "tools", "hosts")}
        for m, *_ in METRICS:
            entry[m] = [spread(got[m][p]) for p in order]
        out["sides"].append(entry)
    return out


def legend_text(s):
    runs = s["runs"]
    text = f"run {runs[0]}" if len(runs) == 1 else f"{len(runs)} runs ({runs[0]}–{runs[-1]})"
    if s["labels"]:
        text += " '" + "', '".join(s["labels"]) + "'"
    if s["tools"] != ["iolens"]:
        text += " [" + ", ".join(s["tools"]) + "]"
    hosts = []
    for h in s["hosts"]:
        one = f"{h['hostname'] or '?'}/{h['kernel'] or '?'}"
        if one not in hosts:
            hosts.append(one)
    return text + " @ " + ", ".join(hosts)


def stem(tokens):
    return "runs-" + "-vs-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", t) for t in tokens)


def plot_runs(P, data):
    """One figure, a panel per metric: bars grouped by backend (and workload
    where they differ), one colour per side, whiskers from min to max where a
    side has several values."""
    bars, sides = data["bars"], data["sides"]
    name = stem([s["name"] for s in sides])
    n = len(bars)
    width = 0.8 / len(sides)
    size = (max(7.0, 0.9 * n + 3.5), 3.2 * len(METRICS))
    fig, axes = P.plt.subplots(len(METRICS), 1, figsize=size, squeeze=False)
    cols = colours(len(sides))
    for ax, (m, title, ylab, fmt) in zip(axes[:, 0], METRICS):
        for k, (s, c) in enumerate(zip(sides, cols)):
            xs = [i + (k - (len(sides) - 1) / 2) * width for i in range(n) if s[m][i]]
            vals = [v for v in s[m] if v]
            if not vals:
                continue
            ys = [v["median"] for v in vals]
            err = [[y - v["min"] for y, v in zip(ys, vals)],
                   [v["max"] - y for y, v in zip(ys, vals)]]
            many = any(v["n"] > 1 for v in vals)
            rects = ax.bar(xs, ys, width, color=c, label=f"{s['name']}: {legend_text(s)}",
                           yerr=err if many else None, capsize=3 if many else 0,
                           error_kw={"elinewidth": 1})
            ax.bar_label(rects, labels=[fmt(y) for y in ys], fontsize=7)
        missing = [bars[i] for i in range(n) if not any(s[m][i] for s in sides)]
        ax.set_title(title + (f" (none for {', '.join(missing)})" if missing else ""), fontsize=10)
        ax.set_ylabel(ylab)
        from matplotlib.ticker import FuncFormatter
        pos = [v["median"] for s in sides for v in s[m] if v and v["median"] > 0]
        if m == "iops" and pos and max(pos) > 10 * min(pos):
            # The null backend's rate (the harness floor) would squash the rest.
            P.log_axis(ax.yaxis, fmt_rate)
            ax.set_ylabel(ylab + ", log scale")
        elif m == "iops":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, pos: fmt_rate(v) if v else "0"))
        elif m == "p99_ns":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, pos: f"{v / 1000.0:g}"))
        ax.set_xticks(range(n), bars, rotation=20, ha="right", fontsize=8)
        ax.margins(y=0.12)
    axes[0, 0].legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.12), borderaxespad=0)
    many = any(v and v["n"] > 1 for s in sides for m, *_ in METRICS for v in s[m])
    cap = (f"{data['db']}: bars are medians, whiskers min to max over a label's runs and repeats"
           if many else f"{data['db']}")
    P.save(fig, name, cap)
    return name
