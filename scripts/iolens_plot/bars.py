"""The bar and line plots of one workload: 1-throughput, 2-latency,
3-syscalls, 4-cpu-ctxsw and 5-scaling.

Each plot_* function takes (Plotter, workload, entries, dump, notes), draws
its figure from the entries' results, records in dump what it drew (what
--dump prints) and says in notes, or through skip(), why it drew nothing.
matplotlib is imported inside the functions, as in the Plotter.
"""
from .data import PERCENTILES, hist_percentile, nines, num, scaling_key, syscall_stack, varying
from .plotter import (bar_width, colours, describe, floor_apart, floor_note, fmt_ns, fmt_plain,
                      fmt_rate, fmt_small, outside_legend, skip)


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
