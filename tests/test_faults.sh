#!/bin/bash
# Faults end cleanly: a peer stopped (SIGSTOP) or killed (SIGKILL) mid-run,
# a job process of blocking:procs killed mid-window,
# SIGINT at seeded random points, a full disk, a low RLIMIT_NOFILE, unix
# socket paths that are not iolens's, a long TMPDIR. Each run must end
# within its bound with valid JSON, the documented exit status (1 a backend
# failed, 130 interrupted, 2 refused), and nothing left behind.
#
# Usage: test_faults.sh PATH-TO-IOLENS [SEED]. Standard library Python only
# (Debian's /usr/bin/python3). Under a sanitizer build (detected from
# ASAN_OPTIONS, or IOLENS_FAULTS_QUICK=1) the peer faults run for a few
# backends only: they are the slow part, and the plain build runs them all.
exec /usr/bin/python3 - "$@" <<'PY'
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

IOLENS = os.path.abspath(sys.argv[1])
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 16
QUICK = bool(os.environ.get("ASAN_OPTIONS")) or os.environ.get("IOLENS_FAULTS_QUICK") == "1"
WINDOW = 0.6
# The library's bounds: 5 s drain, 0.5 s for what a shutdown completes,
# 3 s for the peer process to answer; a few seconds of margin on top.
BOUND = WINDOW + 5 + 0.5 + 3 + 4
failures = []


def fail(what):
    failures.append(what)
    print("FAIL: " + what, flush=True)


def note(what):
    print(what, flush=True)


def run(args, env=None, timeout=BOUND, during=None, preexec=None):
    """Start iolens, call during(proc) if given, wait with a timeout. (rc, seconds, stderr)."""
    t0 = time.monotonic()
    p = subprocess.Popen([IOLENS] + args, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, preexec_fn=preexec)
    try:
        if during:
            during(p)
        _, err = p.communicate(timeout=max(0.1, timeout - (time.monotonic() - t0)))
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, time.monotonic() - t0, err
    return p.returncode, time.monotonic() - t0, err


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_for(cond, limit=5.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    return None


def leftovers(*dirs, keep=()):
    out = []
    for d in dirs:
        for name in os.listdir(d):
            if name not in keep:
                out.append(os.path.join(d, name))
    return out


def check_json(path, what):
    """The results, or None (and a failure) when the file is missing or not JSON."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: no valid JSON: %s" % (what, e))
        return None
    res = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(res, list):
        fail("%s: JSON has no results list" % what)
        return None
    return res


class Case:
    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="iolens-faults-")
        self.tmp = os.path.join(self.dir, "tmp")
        self.out = os.path.join(self.dir, "out")
        os.mkdir(self.tmp)
        os.mkdir(self.out)
        self.env = dict(os.environ, TMPDIR=self.tmp)
        self.json = os.path.join(self.out, "out.json")

    def done(self, keep=("out.json",)):
        left = leftovers(self.out, keep=keep) + leftovers(self.tmp)
        if left:
            fail("%s: left behind: %s" % (self.name, ", ".join(left)))
        shutil.rmtree(self.dir, ignore_errors=True)


def responder(case):
    """An external responder on a loopback port of its own: (process, port)."""
    p = subprocess.Popen([IOLENS, "responder", "--listen", "127.0.0.1:0"], env=case.env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = p.stdout.readline()
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
    if not m:
        p.kill()
        p.wait()
        raise RuntimeError("responder did not start: " + line)
    return p, int(m.group(1))


def peer_fault(backend, workload, sig):
    """One backend, one workload, its peer stopped or killed mid-window."""
    case = Case("%s %s SIG%s" % (backend, workload, sig))
    args = ["run", "--backend", backend, "--workload", workload, "--time", "%gs" % WINDOW,
            "--json", case.json]
    resp = None
    if workload != "serve":
        resp, port = responder(case)
        args += ["--connect", "127.0.0.1:%d" % port]
    signo = signal.SIGSTOP if sig == "STOP" else signal.SIGKILL
    faulted = []

    def during(p):
        if resp:
            target = resp.pid
        else:
            # serve: the load generator is the child process iolens forks when the target opens.
            target = wait_for(lambda: (children(p.pid) or [None])[0], 2)
        # Mid-window: after the child answered its start (a slow sanitizer build takes longer).
        time.sleep(WINDOW / 2 + (0.3 if QUICK else 0))
        if target:
            os.kill(target, signo)
            faulted.append(target)

    rc, secs, err = run(args, env=case.env, during=during)
    if resp:
        resp.send_signal(signal.SIGCONT)
        resp.kill()
        resp.wait()
    for pid in faulted:
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass
    if rc is None:
        fail("%s: still running after %.0f s" % (case.name, BOUND))
    elif rc not in (0, 1):
        fail("%s: exit %s: %s" % (case.name, rc, err.strip()[-300:]))
    else:
        res = check_json(case.json, case.name)
        if res is not None:
            bad = [r.get("status") for r in res if r.get("status") not in ("ok", "skipped")]
            if (rc == 1) != bool(bad):
                fail("%s: exit %d but statuses %s" % (case.name, rc, [r.get("status") for r in res]))
    if not faulted and workload == "serve":
        fail("%s: no load generator process found to fault" % case.name)
    case.done()
    return "%s: exit %s in %.1f s" % (case.name, rc, secs)


def backends():
    out = subprocess.run([IOLENS, "list"], capture_output=True, text=True, timeout=30).stdout
    return [line.split()[0] for line in out.splitlines()[1:] if line.split()[1:2] == ["yes"]]


def peer_faults():
    names = backends()
    if QUICK:
        names = [b for b in names if b in ("blocking", "epoll", "io_uring")]
    jobs = [(b, w, s) for b in names for w in ("echo", "serve", "stream") for s in ("STOP", "KILL")
            if not (b == "null" and w == "serve")]  # null cannot accept: serve is skipped
    with ThreadPoolExecutor(max_workers=8) as ex:
        for line in ex.map(lambda j: peer_fault(*j), jobs):
            note(line)


def sigint_random(rng):
    """SIGINT at a seeded random point of a disk run and of a socket run."""
    for kind, extra in (("disk", ["--workload", "randread", "--size", "8m",
                                  "--backend", "epoll,io_uring,blocking"]),
                        ("socket", ["--workload", "echo", "--backend", "poll,epoll,io_uring"])):
        for _ in range(2):
            at = rng.uniform(0.05, 2.5)
            case = Case("SIGINT at %.2f s of a %s run" % (at, kind))
            csv_path = os.path.join(case.out, "out.csv")
            args = ["run", "--time", "1s", "--json", case.json, "--csv", csv_path] + extra

            def during(p, at=at):
                time.sleep(at)
                p.send_signal(signal.SIGINT)

            rc, secs, err = run(args, env=case.env, during=during, timeout=5 + 1 + 4)
            if rc != 130:
                fail("%s: exit %s, not 130: %s" % (case.name, rc, err.strip()[-300:]))
            res = check_json(case.json, case.name)
            if res is not None and not any(r.get("interrupted") or r.get("status") in
                                           ("interrupted", "not run") for r in res):
                fail("%s: no result marked interrupted" % case.name)
            case.done(keep=("out.json", "out.csv"))
            note("%s: exit %s in %.1f s" % (case.name, rc, secs))


def full_disk():
    case = Case("full disk")
    mnt = os.path.join(case.dir, "full")
    os.mkdir(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode:
        note("SKIP full disk: cannot mount a tmpfs here (%s)" % (r.stderr.strip() or "not root"))
        case.done(keep=())
        return
    try:
        # The data file does not fit: the run fails cleanly and removes what it made.
        env = dict(case.env, TMPDIR=mnt)
        rc, secs, err = run(["run", "--backend", "epoll", "--workload", "randwrite",
                             "--size", "8m", "--time", "300ms", "--json", case.json],
                            env=env, timeout=30)
        if rc not in (1, 2):
            fail("full disk (data file): exit %s: %s" % (rc, err.strip()[-300:]))
        if leftovers(mnt):
            fail("full disk (data file): left behind: %s" % leftovers(mnt))
        if os.path.exists(case.json):
            check_json(case.json, "full disk (data file)")
        # The results file does not fit: no half-written file, not even a temporary one.
        with open(os.path.join(mnt, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        out = os.path.join(mnt, "out.json")
        rc, secs, err = run(["run", "--backend", "epoll", "--workload", "randread",
                             "--size", "1m", "--time", "200ms", "--json", out,
                             "--csv", os.path.join(mnt, "out.csv")], env=case.env, timeout=30)
        if rc is None or rc < 0 or rc == 0:
            fail("full disk (results): exit %s, want a failure: %s" % (rc, err.strip()[-300:]))
        for name in leftovers(mnt, keep=("filler",)):
            try:
                with open(name) as f:
                    json.load(f) if name.endswith(".json") else None
            except ValueError:
                pass
            fail("full disk (results): left behind: %s" % name)
        note("full disk: exit %s" % rc)
    finally:
        subprocess.run(["umount", "-l", mnt])
    case.done(keep=("out.json",))


def low_nofile():
    case = Case("RLIMIT_NOFILE 64")

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    rc, secs, err = run(["run", "--backend", "poll,epoll", "--workload", "echo", "--conns", "500",
                         "--time", "300ms", "--json", case.json], env=case.env, preexec=limit,
                        timeout=60)
    if rc not in (0, 1):
        fail("%s: exit %s: %s" % (case.name, rc, err.strip()[-300:]))
    res = check_json(case.json, case.name)
    if res is not None and len(res) != 2:
        fail("%s: %d results, want one per backend" % (case.name, len(res)))
    case.done()
    note("%s: exit %s in %.1f s" % (case.name, rc, secs))


def unix_paths():
    case = Case("unix paths")
    precious = os.path.join(case.out, "precious.txt")
    with open(precious, "w") as f:
        f.write("precious\n")
    fifo = os.path.join(case.out, "fifo")
    os.mkfifo(fifo)
    for path in (precious, fifo):
        rc, _, err = run(["run", "--backend", "epoll", "--workload", "serve", "--transport", "unix",
                          "--listen", path, "--time", "10ms"], env=case.env, timeout=20)
        if rc in (0, None) or "--listen" not in err:
            fail("unix paths: --listen %s: exit %s: %s" % (path, rc, err.strip()))
    if not os.path.exists(precious):
        fail("unix paths: precious.txt was removed")
        with open(precious, "w") as f:
            f.write("precious\n")
    with open(precious) as f:
        if f.read() != "precious\n":
            fail("unix paths: precious.txt changed")
    if not os.path.exists(fifo):
        fail("unix paths: the FIFO was removed")
    # A listening socket is refused and left alone.
    live = os.path.join(case.out, "live.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(live)
    s.listen(1)
    rc, _, err = run(["run", "--backend", "epoll", "--workload", "serve", "--transport", "unix",
                      "--listen", live, "--time", "10ms"], env=case.env, timeout=20)
    if rc in (0, None) or not os.path.exists(live):
        fail("unix paths: a listening socket: exit %s, still there: %s" % (rc, os.path.exists(live)))
    s.close()
    if os.path.exists(live):
        os.unlink(live)
    # A stale socket is replaced, and the socket iolens bound is removed after.
    stale = os.path.join(case.out, "stale.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(stale)
    s.close()
    rc, _, err = run(["run", "--backend", "epoll", "--workload", "serve", "--transport", "unix",
                      "--listen", stale, "--time", "100ms", "--count", "off"], env=case.env,
                     timeout=20)
    if rc != 0 or os.path.exists(stale):
        fail("unix paths: a stale socket: exit %s, left: %s: %s" % (rc, os.path.exists(stale),
                                                                 err.strip()[-300:]))
    # The responder follows the same rule.
    rc, _, err = run(["responder", "--transport", "unix", "--listen", precious], env=case.env,
                     timeout=10)
    if rc in (0, None) or not os.path.exists(precious):
        fail("unix paths: responder --listen on a file: exit %s" % rc)
    case.done(keep=("precious.txt", "fifo"))
    note("unix paths: checked")


def long_tmpdir():
    case = Case("long TMPDIR")
    deep = os.path.join(case.tmp, "d" * (100 - len(case.tmp)))
    os.mkdir(deep)
    env = dict(case.env, TMPDIR=deep)
    for workload in ("serve", "echo"):
        rc, _, err = run(["run", "--backend", "epoll", "--workload", workload, "--transport", "unix",
                          "--time", "100ms", "--count", "off"], env=env, timeout=30)
        if rc != 0:
            fail("TMPDIR of %d characters, %s over unix: exit %s: %s" % (len(deep), workload, rc,
                                                                        err.strip()[-300:]))
    if os.listdir(deep):
        fail("long TMPDIR: left behind: %s" % os.listdir(deep))
    os.rmdir(deep)
    case.done()
    note("long TMPDIR: checked")


def job_process_lost():
    """blocking:procs with one job process killed mid-window: an error naming it, no hang."""
    case = Case("job process killed")
    killed = []

    def kill_one(p):
        # The job processes are iolens's children on a disk workload (no peer process).
        kids = wait_for(lambda: len(children(p.pid)) == 4 and children(p.pid))
        if not kids:
            fail("job process killed: iolens did not fork its 4 job processes")
            return
        time.sleep(0.3)
        os.kill(kids[1], signal.SIGKILL)
        killed.append(kids[1])

    rc, secs, err = run(["run", "--backend", "blocking:procs", "--workload", "randread", "--size", "8m",
                         "--depth", "4", "--time", "2s", "--count", "off", "--json", case.json],
                        env=case.env, during=kill_one)
    res = check_json(case.json, "job process killed")
    if rc != 1:
        fail("job process killed: exit %s, expected 1: %s" % (rc, err.strip()[-300:]))
    elif res is not None and killed:
        r = res[0]
        want = "(pid %d) was killed by signal 9" % killed[0]
        if r["status"] != "error" or want not in (r["reason"] or ""):
            fail("job process killed: status %s, reason %r; expected an error with %r" %
                 (r["status"], r["reason"], want))
        elif r["ops"] is not None:
            fail("job process killed: an error result has ops %r" % r["ops"])
    case.done()
    note("job process killed: checked (%.1f s)" % secs)


def main():
    rng = random.Random(SEED)
    t0 = time.monotonic()
    note("seed %d%s" % (SEED, ", quick (sanitizer build)" if QUICK else ""))
    unix_paths()
    long_tmpdir()
    job_process_lost()
    low_nofile()
    full_disk()
    sigint_random(rng)
    peer_faults()
    note("%.0f s in all" % (time.monotonic() - t0))
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)


main()
PY
