"""The 7-model-map plot: the measured model at the classifier's own
coordinates and thresholds, one panel per axis (who moved the data, where
the submitting thread waited), and the placing of its point labels.

Where a point falls is decided in data.py (map_point, regions); this module
draws the regions, the points and their labels: clusters() groups the
points one label names, place_labels() puts each label where it covers
nothing else, stretched() is the right panel's axis scale.
"""
import math

from .data import map_point
from .plotter import describe

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
