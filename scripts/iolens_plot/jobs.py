"""Every plot of a run drawn in worker processes, one per CPU.

run_all() hands out (workload, entries, plot function) jobs longest first to
a pool of forked workers and gives back what each drew in plot order, so the
output is that of drawing them one by one. The workers find the jobs in
JOBS, set before the fork; what goes through the pool is the job's index
and run_job, pickled by its name in this module.
"""
import os
import signal

from .bars import plot_cpu, plot_latency, plot_scaling, plot_syscalls, plot_throughput
from .modelmap import plot_map
from .timeline import plot_timeline


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
