#!/usr/bin/python3
"""Plots of iolens results files (schema iolens/1).

Usage: plot.py [--out DIR] [--dump] [--with-null] FILE.json [FILE.json ...]
       plot.py [--out DIR] [--dump] [--db PATH] --runs A,B

This file is the command: its options, its exit codes and the order of the
work. The plots themselves are in the package beside it, iolens_plot/ (one
module per plot family, the results-file side apart and free of matplotlib);
the CLI and the benchmark scripts run this file with Debian's python3 and
nothing installed, and it finds the package next to itself.

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

With --runs A,B the input is the results database instead (--db PATH, else
$IOLENS_DB, else iolens's default), read-only: A and B are run ids or labels
(a label is every run carrying it: the bars are medians over them, with
min-max whiskers), and one figure runs-A-vs-B draws throughput, p99 and
syscalls per op of each backend (and workload, where they differ), one
colour per side, labelled with the runs, their label and host/kernel.
Results pair across the sides by their pair hash, as iolens diff pairs
them (a fio import pairs with an iolens run of the same workload). The
output directory defaults to the current one. An unknown run or label is
exit 2; a missing or foreign database exit 1.

With several files each series is labelled "backend[:variant] @ host/kernel";
results of one backend within a workload are told apart by the settings
that differ among them ("d=32", "c=64", "O_DIRECT", ...). Each backend keeps
one colour in every plot. The plots are drawn in one worker process per CPU.
--dump prints, as JSON on stdout, what each plot drew. Exit 2 on bad
arguments, 1 on an unreadable or invalid results file.
"""
import argparse
import json
import os
import signal
import sys

# The package beside this file, wherever it is run from or loaded as.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from iolens_plot.data import (MAJORITY, MAP_AXES, PROG, SOME, Entry, fail,  # noqa: E402
                              group, hist_percentile, load, map_point, model_thresholds, num,
                              regions, scaling_key, syscall_stack, varying)
from iolens_plot.jobs import PLOTS, run_all  # noqa: E402
from iolens_plot.plotter import Plotter  # noqa: E402
from iolens_plot.store import compare_runs, db_path, plot_runs  # noqa: E402

# The results-file side stays reachable through this file: the tests load it
# as a module and call regions(), group() and the rest on it.
__all__ = ["MAJORITY", "MAP_AXES", "SOME", "Entry", "group", "hist_percentile", "load",
           "main", "map_point", "model_thresholds", "num", "regions", "scaling_key",
           "syscall_stack", "varying"]


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def parse_args(argv):
    p = Parser(prog=PROG, description="Plot iolens results files.")
    p.add_argument("--out", metavar="DIR", help="output directory (default: that of the first file)")
    p.add_argument("--dump", action="store_true", help="print the plotted series as JSON")
    p.add_argument("--with-null", action="store_true",
                   help="draw the null backend in the throughput and scaling plots too")
    p.add_argument("--db", metavar="PATH", help="the results database --runs reads")
    p.add_argument("--runs", metavar="A,B", help="two stored runs (ids or labels) side by side")
    p.add_argument("files", nargs="*", metavar="FILE.json")
    try:
        a = p.parse_args(argv)
    except UsageError as e:
        fail(2, str(e))
    if a.runs is not None:
        a.tokens = a.runs.split(",")
        if len(a.tokens) != 2 or not all(a.tokens):
            fail(2, f"--runs {a.runs!r}: accepts two run ids or labels, A,B")
        if a.files:
            fail(2, f"--runs: not with results files ({a.files[0]})")
        if a.db == "":
            fail(2, "--db: empty (accepts a file path)")
    elif a.db is not None:
        fail(2, "--db: needs --runs A,B (the two stored runs to draw)")
    elif not a.files:
        fail(2, "no results file given (usage: plot.py [--out DIR] [--dump] [--with-null] FILE.json ..."
                " or --runs A,B)")
    if a.out is not None and (a.out == "" or (os.path.exists(a.out) and not os.path.isdir(a.out))):
        fail(2, f"--out {a.out!r}: not a directory")
    return a


def make_out(out):
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        fail(2, f"--out {out}: {e.strerror}")


def plotter(out, docs, with_null=False):
    try:
        return Plotter(out, docs, with_null)
    except ImportError as e:
        fail(1, f"matplotlib is needed (apt-get install python3-matplotlib): {e}")


def main_runs(a):
    """--runs A,B: two stored runs side by side, from the results database."""
    data = compare_runs(db_path(a.db), a.tokens)
    out = a.out if a.out is not None else "."
    make_out(out)
    hosts = [(None, {"meta": h, "results": []}) for s in data["sides"] for h in s["hosts"]]
    P = plotter(out, hosts)
    name = plot_runs(P, data)
    if a.dump:
        json.dump({"plots": {name: data}, "files": P.written, "skipped": []}, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


def main(argv):
    a = parse_args(argv)
    if a.runs is not None:
        return main_runs(a)
    docs = [(p, load(p)) for p in a.files]
    out = a.out if a.out is not None else (os.path.dirname(os.path.abspath(a.files[0])))
    make_out(out)
    P = plotter(out, docs, a.with_null)
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
