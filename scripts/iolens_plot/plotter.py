"""What every plot draws with: the Plotter and the pieces the plots share.

The Plotter holds matplotlib (imported when one is made, not before), the
output directory, one colour per backend across every plot, the caption of
hosts under each figure, and writes each figure as PNG and SVG. Beside it:
colours for stacked layers, figure widths for bar charts, number formats for
ticks and bar labels, the caption line of what was run (describe), the
legend right of the axes, the null backend kept apart (floor_apart,
floor_note) and the message of a plot skipped.
"""
import os
import textwrap

from .data import PROG, num

DPI = 110
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
MARKERS = ("o", "s", "^", "D", "v", "P")
CAPTION_PT = 7


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
    """A legend right of ax, out of the data's way; none when nothing has a label
    (a run without counted syscalls has no layers to name)."""
    if not ax.get_legend_handles_labels()[0]:
        return None
    return ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0,
                     ncol=1 + n // 32, **kw)


def fmt_small(v):
    """A per-op count as a bar label: the digits of 1e-05 only crowd the bars
    next to it, and the bar is flat anyway."""
    return f"{v:.3g}" if v == 0 or v >= 0.001 else "<0.001"


def fmt_ns(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def skip(P, name, why):
    P.said.append(f"{PROG}: {name}: skipped, {why}")
