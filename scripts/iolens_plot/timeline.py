"""The 6-timeline plot: the traced operations of each result, one bar per
op from submission to completion, and the lanes they are laid out in.

timeline_lanes() is the layout alone (no matplotlib): each op in the
lowest lane free when it was submitted, or a lane per job for backends
that run a thread per op.
"""
from .plotter import describe

INLINE_COLOUR, REAPED_COLOUR = "tab:orange", "tab:blue"
SHARED_TIME_RATIO = 50  # timeline panels share one time axis when their spans are within this


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
