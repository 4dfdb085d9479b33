#!/usr/bin/python3
"""A bounded random campaign of iolens command lines.

Usage: test_campaign.py PATH-TO-IOLENS [ON|OFF] [--seed N] [--seconds S]
                        [--case N] [--verbose]

ON says the binary was built with ASan+UBSan (the default budget is longer
there). Each case is drawn from a grammar of iolens's commands and options:
valid lines, boundary values, and lines with one or two things wrong (bad
values, unknown options, missing values, options the workload cannot use,
bad backend specs, outputs that must not be written). Every case runs in a
fresh directory (its cwd and TMPDIR) that also holds sentinels: a file that
must not change (precious.txt), a directory, a FIFO, device nodes where
mknod is allowed, symbolic links and Unix sockets. Some cases are sent
SIGINT at a random moment.

A case fails on: a crash (a signal the campaign did not send), an exit
status outside 0, 1, 2, 130, a sanitizer report, a hang (20 s), a usage
error (exit 2) that is not one "iolens: " line or that left anything behind,
any file left behind that the command line did not name as an output, a
sentinel changed against the rules, and output that does not say what the
exit status says (exit 130 without JSON marked interrupted).

Each case draws from its own generator seeded with (seed, case number), so
--seed S --case N replays one case exactly (but for the SIGINT moment).
Standard library only.

One piece, ~1,100 lines, because the grammar that draws the command lines
and the oracle that judges each one must be read together.
"""
import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")
EXITS = {0, 1, 2, 130}
HANG_S = 20.0

DISK = ["read", "write", "randread", "randwrite", "randrw"]
NET = ["echo", "serve", "stream"]
WRITES = {"write", "randwrite", "randrw"}
RANDOM_KINDS = {"randread", "randwrite", "randrw"}
ALL_KINDS = set(DISK) | set(NET)

# Backend options: (name, takes, workloads it changes). takes: None, "n" or "cpu".
SPEC_OPTIONS = {
    "io_uring": [("sqpoll", None, ALL_KINDS), ("sqpoll-idle", "n", ALL_KINDS),
                 ("sqpoll-cpu", "cpu", ALL_KINDS), ("cq-spin", None, ALL_KINDS),
                 ("fixed-files", None, ALL_KINDS), ("fixed-bufs", None, set(DISK)),
                 ("ms-accept", None, {"serve"}), ("ms-recv", None, {"echo", "serve"})],
    "select": [("nowait", None, set(DISK))],
    "poll": [("nowait", None, set(DISK))],
    "epoll": [("et", None, set(NET)), ("oneshot", None, set(NET))],
    "posix-aio": [("threads", "n", ALL_KINDS)],
    "threadpool": [("threads", "n", ALL_KINDS)],
    "nowait": [("threads", "n", ALL_KINDS)],
}

# Each `iolens run` option and the workloads that accept it.
RUN_OPTIONS = {
    "backend": ALL_KINDS, "workload": ALL_KINDS, "rwmix": {"randrw"}, "bs": set(DISK),
    "size": set(DISK), "file": set(DISK), "overwrite": WRITES, "allow-device": set(DISK),
    "direct": set(DISK), "depth": ALL_KINDS, "jobs": ALL_KINDS, "batch": set(DISK),
    "submit-batch": set(DISK), "time": ALL_KINDS, "ops": ALL_KINDS, "warmup": ALL_KINDS,
    "cache": set(DISK), "fsync": WRITES, "verify": set(DISK), "no-check": {"stream"},
    "seed": RANDOM_KINDS, "count": ALL_KINDS, "json": ALL_KINDS, "csv": ALL_KINDS,
    "conns": set(NET), "msg": set(NET), "transport": set(NET),
    "connect": {"echo", "stream"}, "listen": {"serve"}, "rate": {"echo"},
    "think": {"echo", "serve"}, "delay": {"echo"}, "cpu": ALL_KINDS, "cpus": ALL_KINDS,
    "peer-cpu": set(NET), "trace": ALL_KINDS, "help": ALL_KINDS,
}
FLAGS = {"overwrite", "allow-device", "direct", "verify", "no-check", "help"}

# Values that are out of range or malformed, by the kind of value an option takes.
CONTROL = ["", " ", "\n", "4\n", "\t1", "1\x01", "\x7f", "\x1b[31m", "\udcff", "é"]
BAD = {
    "size": ["0", "-1", "0x10", "4q", "1e3", " 4k", "4k ", "4kk", "1.5k", "k", "4tbb",
             "18446744073709551616", "16777216t", "4 k", "+4k"],
    "bs": ["0", "1", "511", "513", "67108865", "65m", "1t", "4k5", "-4k"],
    "count": ["0", "-1", "1.5", "1kk", "1t", "0x10", "1e3", "18446744073709551616", "+1"],
    "duration": ["0", "0ms", "-5ms", "5 ms", "1e-3", "0x10", "5msx", "inf", "nan", ".",
                 "5..0ms", "1s1", "ms", "0.0001", "604801", "99999999999999999999999h",
                 "1d", "5MS", "10 "],
    "warmup": ["3601", "2h", "-1s", "1e1", "inf", "61m"],
    "cpus": ["2-1", "0-", "-1", "0,,1", ",0", "0,", "0-99999", "a", "0;1", "4096",
             "0-1-2", "1,0x1"],
    "rate": ["0", "0.5", "1e3", "poisson:", "poisson:0", "poisson:-1", "-5", "1000000001",
             "poisson:x", "inf", "nan", "Poisson:10", "poisson:poisson:5", "10/s"],
    # out of range for --think and --delay alike: a valid long delay would be a long run
    "usec": ["-1", "1e3", "10xs", "2m", "60000001", "61s", "1.5.5ms", "+5"],
    "workload": ["randomread", "READ", "echo ", "rand-read", "stre", "disk"],
    "transport": ["udp", "TCP", "tcp4", "unix:", "sctp"],
    "cache": ["hot", "WARM", "cold ", "none"],
    "count_mode": ["on", "Separate", "1", "both"],
    # each refused before any name lookup (a DNS query could be slow where CI runs)
    "addr": ["127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1", ":80", "127.0.0.1:8x",
             "[::1]", "[::1]80", "127.0.0.1:", "127.0.0.1:99999999999999999999"],
}
UNKNOWN = ["--bogus", "-x", "--", "-", "--json-out", "--verbose", "---time", "--Time",
           "--time5ms", "-t", "--t", "--s", "--c", "--no", "--help=1"]


class Case:
    """One command line and what the campaign expects of it."""

    def __init__(self, argv, kind):
        self.argv = argv          # after the program name
        self.kind = kind          # run, compare, demo, responder, pair, other
        self.outputs = set()      # relative paths it named as output files
        self.out_dirs = set()     # relative directories it named with --out
        self.json = None          # the --json in effect (last given), if any
        self.csv = None
        self.replaceable = set()  # sentinels named as --json/--csv: may be replaced
        self.written = set()      # sentinels named as --file with --overwrite
        self.sentinels = set()    # sentinels named in any role
        self.sigint = None        # seconds after start, or None
        self.stdin_closed = False
        self.long_tmpdir = False
        self.responder_argv = None  # pair: the responder to start first
        self.dead_peer = False    # it connects to live.sock, which never answers

    def command(self, prog):
        return " ".join(shlex.quote(a) for a in [prog] + self.argv)


class Grammar:
    def __init__(self, rng, backends, ncpu, sentinels):
        self.r = rng
        self.backends = backends
        self.ncpu = ncpu
        self.sentinels = sentinels  # which special files this host lets us make

    def pick(self, seq):
        return self.r.choice(list(seq))

    def chance(self, p):
        return self.r.random() < p

    # ---- values ----
    def control(self):
        return self.pick(CONTROL)

    def spec(self, kind):
        name = self.pick(self.backends)
        opts = [o for o in SPEC_OPTIONS.get(name, []) if kind in o[2]]
        if not opts or self.chance(0.4):
            return name
        chosen, words = self.r.sample(opts, self.r.randint(1, min(3, len(opts)))), []
        for opt, takes, _ in chosen:
            if opt == "cq-spin" and not any(o[0].startswith("sqpoll") for o in chosen):
                words.append("sqpoll")
            if opt == "oneshot" and "et" in words:
                continue  # two ways to register a socket: one of them
            if takes == "n":
                words.append("%s=%d" % (opt, self.pick([1, 2, 4, 10, 50])))
            elif takes == "cpu":
                words.append("%s=%d" % (opt, self.r.randrange(self.ncpu)))
            else:
                words.append(opt)
        return name + ":" + "+".join(words)

    def bad_spec(self, kind):
        misfit = [("%s:%s" % (b, o), k) for b, os_ in SPEC_OPTIONS.items()
                  for o, t, k in os_ if t is None and kind not in k and b in self.backends]
        choices = ["", ",", "null,", ",null", "null,,poll", "nope", "NULL", "io_uring:bogus",
                   "io_uring:sqpoll-idle=0", "io_uring:sqpoll-idle=100001",
                   "io_uring:sqpoll-cpu=%d" % self.ncpu, "io_uring:sqpoll-idle",
                   "io_uring:cq-spin", "io_uring:sqpoll=1", "posix-aio:threads=",
                   "posix-aio:threads=0", "posix-aio:threads=-1", "blocking:sqpoll",
                   "epoll:nowait", "x" * 70, "null:" + "x" * 200, ",".join(["all"] * 10),
                   "null:" + self.control(), self.control() + "null", "poll:nowait+nowait+bogus",
                   "io_uring:sqpoll+cq-spin=1", "all:sqpoll", "epoll:et+oneshot"]
        if misfit:
            choices += [m[0] for m in misfit] * 3
        return self.pick(choices)

    def time_or_ops(self):
        if self.chance(0.6):
            return ["time", self.pick(["1ms", "5ms", "10ms", "20ms", "50ms", "0.01", "0.005s",
                                       "15ms", "2000us"])]
        return ["ops", self.pick(["1", "2", "10", "100", "500", "1k", "2000"])]

    def out_path(self, ext):
        """A --json/--csv value and what it is."""
        sent = self.sentinels
        choices = [("out." + ext, "new"), ("sub/res." + ext, "new"), ("-", "stdout")]
        choices += [("precious.txt", "precious"), ("link-to-precious", "precious"),
                    ("dangling", "bad"), ("sub", "bad"), ("sub/", "bad"),
                    ("missing/out." + ext, "bad"), ("precious.txt/x", "bad"),
                    ("y" * 300 + "." + ext, "bad"), ("", "bad"), ("/dev/full", "dev"),
                    ("/dev/null", "dev"), ("fifo", "fifo")]
        if "nulldev" in sent:
            choices.append(("nulldev", "dev"))
        if "blockdev" in sent:
            choices.append(("blockdev", "bad"))
        weights = [6, 2, 3] + [1] * (len(choices) - 3)
        return self.r.choices(choices, weights)[0]

    # ---- iolens run ----
    def run_case(self):
        r = self.r
        kind = self.pick(DISK * 2 + NET)
        c = Case(None, "run")
        opts = []  # [name, value or None]
        if kind != "randread" or self.chance(0.7):
            opts.append(["workload", kind])
        if self.chance(0.8):
            n = r.choice([1, 1, 1, 2, 3])
            opts.append(["backend", ",".join(self.spec(kind) for _ in range(n))])
        if self.chance(0.05):
            opts.append(["backend", "all"])
        timed = self.time_or_ops()
        if kind == "serve":  # its operations are the load generator's: --time only
            timed = ["time", self.pick(["5ms", "20ms", "50ms"])]
        depth = 1
        if kind in DISK:
            size = self.pick([64 << 10, 256 << 10, 1 << 20, 2 << 20, 4 << 20])
            opts.append(["size", self.pick([str(size), "%dk" % (size >> 10), "%dKiB" % (size >> 10)])])
            if self.chance(0.6):
                bs = self.pick([b for b in (512, 4096, 8192, 16384, 65536) if b <= size])
                opts.append(["bs", self.pick([str(bs), "%dk" % (bs // 1024) if bs >= 1024 else "512"])])
            if self.chance(0.4):
                depth = self.pick([1, 2, 4, 8, 32, 64])
                opts.append(["depth", str(depth)])
            if self.chance(0.2):
                opts.append(["batch", str(r.randint(1, depth))])
            if self.chance(0.2):
                opts.append(["submit-batch", str(r.randint(0, depth))])
            if kind == "randrw" and self.chance(0.6):
                opts.append(["rwmix", self.pick(["0", "1", "50", "99", "100"])])
            if kind in RANDOM_KINDS and self.chance(0.3):
                opts.append(["seed", self.pick(["0", "1", "42", "18446744073709551615"])])
            if self.chance(0.2):
                opts.append(["cache", self.pick(["warm", "cold", "half"])])
            if kind in WRITES and self.chance(0.3):
                opts.append(["fsync", self.pick(["0", "1", "4", "16"])])
                if timed[0] == "ops":
                    timed = ["ops", self.pick(["1", "10", "100"])]
            if self.chance(0.2):
                opts.append(["verify", None])
            if self.chance(0.07):
                opts.append(["direct", None])
            if self.chance(0.12):
                self.file_option(c, opts, kind)
        else:
            if self.chance(0.4):
                opts.append(["conns", self.pick(["1", "2", "4", "16", "32"])])
            if kind != "stream" and self.chance(0.3):
                opts.append(["depth", self.pick(["1", "2", "8"])])
            if self.chance(0.4):
                opts.append(["msg", self.pick(["1", "64", "1k", "4k", "64k"] +
                                              (["128k", "1m"] if kind == "stream" else []))])
            transport = None
            if self.chance(0.4):
                transport = self.pick(["tcp", "tcp6", "unix"])
                opts.append(["transport", transport])
            if kind == "echo":
                if self.chance(0.2):
                    opts.append(["rate", self.pick(["1", "1000", "5000", "poisson:2000",
                                                    "100000"])])
                    timed = ["time", self.pick(["5ms", "20ms", "50ms"])]
                if self.chance(0.2):
                    opts.append(["delay", self.pick(["0", "100", "2000", "1ms", "5ms"])])
                    timed = ["time", self.pick(["5ms", "20ms", "50ms"])]
            if kind in ("echo", "serve") and self.chance(0.15):
                opts.append(["think", self.pick(["0", "10", "200", "100us"])])
            if kind == "stream" and self.chance(0.3):
                opts.append(["no-check", None])
            if self.chance(0.15):
                opts.append(["peer-cpu", str(r.randrange(self.ncpu))])
            if kind == "serve" and self.chance(0.25):
                self.listen_option(c, opts, transport)
            if kind in ("echo", "stream") and self.chance(0.08):
                # nothing listens at any of these: refused, exit 1 (2 for a bad address)
                if transport == "unix":
                    where = self.pick(["precious.txt", "stale.sock", "nosuch.sock", "fifo"])
                    if where != "nosuch.sock":
                        c.sentinels.add(where)
                else:
                    where = "[::1]:1" if transport == "tcp6" else "127.0.0.1:1"
                opts.append(["connect", where])
        if self.chance(0.2):
            opts.append(["jobs", self.pick(["1", "2", "4"])])
        if self.chance(0.15):
            opts.append(["warmup", self.pick(["0", "1ms", "10ms"])])
        if self.chance(0.15):
            opts.append(["count", self.pick(["separate", "inline", "off"])])
        if self.chance(0.1):
            opts.append(["cpu", str(r.randrange(self.ncpu))])
        elif self.chance(0.1):  # one or the other
            opts.append(["cpus", self.pick(["0", "0-%d" % (self.ncpu - 1), "%d,0" % (self.ncpu - 1)])])
        if self.chance(0.1):
            opts.append(["trace", self.pick(["0", "10", "1000"])])
        for name in ("json", "csv"):
            if self.chance(0.35):
                path, _ = self.out_path(name)
                opts.append([name, path])
        opts.append(timed)
        r.shuffle(opts)
        if self.chance(0.55):
            self.mutate(opts, kind)
        c.argv = ["run"] + self.render(opts)
        self.note_outputs(c, opts)
        return c

    def file_option(self, c, opts, kind):
        sent = self.sentinels
        path = self.pick(["precious.txt", "precious.txt", "fifo", "sub", "nosuch", ""] +
                         [s for s in ("nulldev", "blockdev") if s in sent])
        opts.append(["file", path])
        if path in ("precious.txt", "fifo", "nulldev", "blockdev"):
            c.sentinels.add(path)
        if kind in WRITES and self.chance(0.3):
            opts.append(["overwrite", None])
            if path == "precious.txt":
                c.written.add(path)
        if path == "blockdev" and self.chance(0.5):
            opts.append(["allow-device", None])
        # precious.txt holds 8 KiB
        for o in opts:
            if o[0] == "bs" and path == "precious.txt" and self.chance(0.7):
                o[1] = "4k"

    def listen_option(self, c, opts, transport):
        if transport == "unix":
            path = self.pick(["new.sock", "stale.sock", "live.sock", "precious.txt", "sub",
                              "nosuchdir/x.sock", "z" * 120 + ".sock", "fifo"])
            if path in ("stale.sock", "live.sock", "precious.txt", "fifo"):
                c.sentinels.add(path)
        elif transport == "tcp6":
            path = self.pick(["[::1]:0", "[::1]:%d" % self.r.randint(20000, 60000)])
        else:
            path = self.pick(["127.0.0.1:0", "localhost:0",
                              "127.0.0.1:%d" % self.r.randint(20000, 60000)])
        opts.append(["listen", path])

    def mutate(self, opts, kind):
        """One or two things wrong with a valid line."""
        for _ in range(self.r.choice([1, 1, 1, 2])):
            m = self.r.randrange(12)
            if m == 0:  # a bad value for an option it has, or adds
                name = self.pick(["size", "bs", "depth", "jobs", "time", "ops", "warmup", "cpus",
                                  "rate", "think", "delay", "workload", "transport", "cache",
                                  "count", "conns", "msg", "trace", "seed", "fsync", "rwmix",
                                  "batch", "submit-batch", "cpu", "peer-cpu", "listen",
                                  "connect"])
                opts.append([name, self.bad_value(name)])
            elif m == 1:
                opts.insert(self.r.randrange(len(opts) + 1), [self.pick(UNKNOWN), None])
            elif m == 2:  # a value missing at the end
                name = self.pick([n for n in RUN_OPTIONS if n not in FLAGS])
                opts.append([name, MISSING])
            elif m == 3:  # an option this workload cannot use
                misfit = [n for n, k in RUN_OPTIONS.items() if kind not in k and n != "help"]
                name = self.pick(misfit)
                opts.append([name, None if name in FLAGS else self.valid_value(name)])
            elif m == 4:
                opts.append(["backend", self.bad_spec(kind)])
            elif m == 5:  # both --time and --ops, or neither
                if any(o[0] in ("time", "ops") for o in opts) and self.chance(0.5):
                    opts[:] = [o for o in opts if o[0] not in ("time", "ops")]
                else:
                    opts.append(["ops", "10"] if self.chance(0.5) else ["time", "5ms"])
            elif m == 6:
                opts.append([ARG, self.pick(["extra", "run", "5ms", "-", self.control()])])
            elif m == 7:  # a flag given a value
                opts.append([self.pick(["verify=1", "direct=yes", "overwrite=", "no-check=0",
                                        "help=x"]), None])
            elif m == 8:  # control characters in a value
                name = self.pick(["size", "time", "backend", "workload", "json", "file", "cpus",
                                  "rate"])
                opts.append([name, self.control() + self.valid_value(name) + self.control()])
            elif m == 9:  # two outputs that collide, or a bad place
                ext = self.pick(["json", "csv"])
                bad = self.pick(["sub", "sub/", "dangling", "missing/x", "precious.txt/x", "",
                                 "fifo/x"] + (["blockdev"] if "blockdev" in self.sentinels else []))
                if self.chance(0.5):
                    opts += [["json", "same.out"], ["csv", self.pick(["same.out", "./same.out"])]]
                elif self.chance(0.3):
                    opts += [["json", "-"], ["csv", "-"]]
                else:
                    opts.append([ext, bad])
            elif m == 10:  # another workload of the same family (a disk one would
                # default to a 1 GiB file)
                opts.append(["workload", self.pick(DISK if kind in DISK else NET)])
            else:  # an abbreviation, unique or not
                opts.append(list(self.pick([("work", "read"), ("tim", "5ms"), ("op", "10"),
                                            ("back", "null"), ("si", "64k"), ("tr", "unix"),
                                            ("co", "off"), ("d", "1"), ("j", "1")])))

    def valid_value(self, name):
        table = {"size": "64k", "bs": "4k", "time": "5ms", "ops": "10", "depth": "2",
                 "jobs": "1", "warmup": "0", "cpus": "0", "rate": "1000", "think": "10",
                 "delay": "100", "workload": "read", "transport": "unix", "cache": "warm",
                 "count": "off", "conns": "2", "msg": "64", "trace": "5", "seed": "3",
                 "fsync": "2", "rwmix": "30", "batch": "1", "submit-batch": "1", "cpu": "0",
                 "peer-cpu": "0", "listen": "127.0.0.1:0", "connect": "127.0.0.1:1",
                 "backend": "null", "json": "v.json", "csv": "v.csv", "file": "precious.txt"}
        return table.get(name, "1")

    def bad_value(self, name):
        kind = {"size": "size", "msg": "size", "bs": "bs", "time": "duration",
                "warmup": "warmup", "cpus": "cpus", "rate": "rate", "think": "usec",
                "delay": "usec", "workload": "workload", "transport": "transport",
                "cache": "cache", "count": "count_mode", "listen": "addr", "connect": "addr"}
        values = BAD.get(kind.get(name, "count"), BAD["count"])
        extra = {"depth": ["4097"], "jobs": ["257"], "conns": ["100001"], "trace": ["100001"],
                 "rwmix": ["101"], "fsync": ["1073741825"], "batch": ["4097", "64"],
                 "submit-batch": ["4097", "64"], "cpu": [str(self.ncpu), "4096"],
                 "peer-cpu": [str(self.ncpu), "4096"], "msg": ["4194305", "5m", "0"]}
        return self.pick(values + extra.get(name, []) + [self.control()])

    def render(self, opts):
        argv, missing = [], None
        for name, value in opts:
            if value is MISSING:
                missing = name  # only the last word can lack its value
            elif name == ARG:
                argv.append(value)
            elif name.startswith("-"):
                argv.append(name)
            elif value is None:
                argv.append("--" + name)
            elif self.chance(0.25) and value:
                argv.append("--%s=%s" % (name, value))
            else:
                argv += ["--" + name, value]
        if missing:
            argv.append("--" + missing)
        return argv

    def note_outputs(self, c, opts):
        for name, value in opts:
            if not isinstance(value, str):
                continue
            if name in ("json", "csv"):
                if name == "json":
                    c.json = value
                else:
                    c.csv = value
                if value not in ("", "-") and not value.startswith("/dev/"):
                    c.outputs.add(value)
                if value in ("precious.txt", "link-to-precious"):
                    c.replaceable.add("precious.txt")
                    c.sentinels.add("precious.txt")
                if value in ("fifo", "nulldev", "blockdev", "dangling"):
                    c.sentinels.add(value)
            elif name in ("file", "listen", "connect") and value in (
                    "precious.txt", "fifo", "nulldev", "blockdev", "stale.sock", "live.sock",
                    "link-to-precious", "dangling"):
                c.sentinels.add(value.replace("link-to-precious", "precious.txt"))

    # ---- other commands ----
    def results_case(self, cmd):
        c = Case(None, cmd)
        argv = [cmd]
        out = self.pick(["newdir", "sub", "sub/deeper/x", None, "precious.txt", "fifo", "",
                         "precious.txt/x", "dangling", "link-to-precious"] +
                        [s for s in ("nulldev", "blockdev") if s in self.sentinels])
        bad = self.chance(0.6)
        if cmd == "demo":
            lesson = self.pick(["3", "3", "1", "0", "4", "1x", "", "3 ", "33"])
            argv += ["--lesson", lesson]
            bad = bad or lesson != "3" and lesson != "1"
        argv.append("--quick")
        if out is not None:
            argv += ["--out", out]
            c.out_dirs.add(out)
            if out in ("precious.txt", "fifo", "nulldev", "blockdev", "link-to-precious",
                       "dangling"):
                c.sentinels.add(out.replace("link-to-precious", "precious.txt"))
        if bad:
            argv.insert(self.r.randrange(1, len(argv) + 1),
                        self.pick(["--bogus", "--out", "extra", "--quick=1", "-q", "--lesson"]))
        elif cmd == "compare" or self.chance(0.5):
            c.sigint = self.r.uniform(0.05, 2.0)  # a whole compare takes half a minute
        c.argv = argv
        return c

    def responder_case(self):
        c = Case(None, "responder")
        argv = ["responder"]
        transport = self.pick(["tcp", "tcp6", "unix", None])
        if transport:
            argv += ["--transport", transport]
        if self.chance(0.7):
            if transport == "unix":
                where = self.pick(["r.sock", "stale.sock", "live.sock", "precious.txt", "sub",
                                   "fifo", "nosuchdir/r.sock", "q" * 120])
                if where in ("stale.sock", "live.sock", "precious.txt", "fifo"):
                    c.sentinels.add(where)
            elif transport == "tcp6":
                where = self.pick(["[::1]:0", "::1:0", "[::1]:65536"])
            else:
                where = self.pick(["127.0.0.1:0", "localhost:0", "127.0.0.1:99999", "127.0.0.1"])
            argv += ["--listen", where]
        if self.chance(0.3):
            argv += ["--delay", self.pick(["0", "100", "60000000", "60000001", "-1", "1ms"])]
        if self.chance(0.3):
            argv += ["--threads", self.pick(["1", "2", "4", "0", "257"])]
        if self.chance(0.2):
            argv += ["--cpu", self.pick(["0", str(self.ncpu - 1), str(self.ncpu), "x"])]
        if self.chance(0.15):
            argv.insert(self.r.randrange(1, len(argv) + 1),
                        self.pick(["--bogus", "extra", "--listen", "--delay"]))
        c.argv = argv
        c.sigint = self.r.uniform(0.1, 0.6)
        return c

    def pair_case(self):
        """A responder in its own process and a run that connects to it."""
        c = Case(None, "pair")
        transport = self.pick(["tcp", "unix"])
        c.responder_argv = ["responder", "--transport", transport, "--listen",
                            "127.0.0.1:0" if transport == "tcp" else "peer.sock"]
        kind = self.pick(["echo", "stream"])
        c.argv = ["run", "--workload", kind, "--transport", transport, "--connect", ADDR,
                  "--backend", ",".join(self.spec(kind) for _ in range(self.r.choice([1, 2]))),
                  "--conns", self.pick(["1", "2", "8"])]
        name, value = self.time_or_ops()
        c.argv += ["--" + name, value]
        if kind == "echo" and self.chance(0.3):
            c.argv += ["--delay", "200"]
        if self.chance(0.3):
            c.argv += ["--json", "pair.json"]
            c.outputs.add("pair.json")
            c.json = "pair.json"
        return c

    def hazard_case(self):
        """A run aimed at a sentinel: the places iolens must not write over."""
        places = ["precious.txt", "link-to-precious", "fifo", "sub", "dangling", "live.sock",
                  "stale.sock"] + sorted(self.sentinels)
        where = self.pick(places)
        h = self.r.randrange(4)
        spec = "null"
        if h == 0:
            kind = self.pick(WRITES)
            opts = [["workload", kind], ["file", where], ["size", "8k"], ["bs", "4k"],
                    ["backend", self.spec(kind)], self.time_or_ops()]
            if self.chance(0.3):
                opts.append(["overwrite", None])
            if self.chance(0.3):
                opts.append(["allow-device", None])
        elif h == 1:
            opts = [["workload", "serve"], ["transport", "unix"], ["listen", where],
                    ["time", "5ms"], ["backend", self.spec("serve")]]
        elif h == 2:
            # live.sock's listener never answers: the run must still end, and not as a
            # success (but on null, which does no I/O)
            kind = self.pick(["echo", "stream"])
            spec = self.spec(kind)
            opts = [["workload", kind], ["transport", "unix"], ["connect", where],
                    ["time", "5ms"], ["backend", spec]]
        else:
            kind = self.pick(DISK)
            opts = [["workload", kind], ["size", "64k"], ["backend", self.spec(kind)],
                    self.time_or_ops(), [self.pick(["json", "csv"]), where]]
            if self.chance(0.3):
                opts.append([self.pick(["json", "csv"]), self.pick(["/dev/full", "/dev/null"])])
        self.r.shuffle(opts)
        c = Case(None, "run")
        c.argv = ["run"] + self.render(opts)
        self.note_outputs(c, opts)
        if "overwrite" in [o[0] for o in opts] and where in ("precious.txt", "link-to-precious"):
            c.written.add("precious.txt")
        c.sentinels.add(where.replace("link-to-precious", "precious.txt"))
        c.dead_peer = h == 2 and where == "live.sock" and not spec.startswith("null")
        return c

    def other_case(self):
        c = Case(None, "other")
        c.argv = self.pick([["list"], ["doctor"], ["--version"], ["-V"], ["--help"], ["-h"],
                            ["list", "extra"], ["doctor", "-v"], ["--version", "x"],
                            ["bogus"], ["RUN"], [""], ["run"], ["run", "--help"],
                            ["compare", "--help"], ["demo", "--help"], ["responder", "--help"],
                            ["run", "-h", "--bogus"], [self.control()], ["run", "--"],
                            ["run", "--time"], ["list", "--json", "x.json"]])
        return c

    def case(self):
        c = self.r.choices([self.run_case, self.hazard_case, self.responder_case,
                            self.pair_case, lambda: self.results_case("compare"),
                            lambda: self.results_case("demo"), self.other_case],
                           [66, 14, 5, 4, 2, 3, 6])[0]()
        if c.kind == "run" and c.sigint is None and self.chance(0.12):
            c.sigint = self.r.uniform(0.0, 0.8)
        c.stdin_closed = self.chance(0.5)
        c.long_tmpdir = self.chance(0.05)
        return c


MISSING = object()  # an option given last, without its value
ARG = "<arg>"       # a stray positional argument
ADDR = "<addr>"     # the responder's address, known once it listens


# ---------------------------------------------------------------- the sandbox

def make_sandbox(root):
    """The case directory's sentinels; returns which special ones exist."""
    made = set()
    with open(os.path.join(root, "precious.txt"), "wb") as f:
        f.write(b"precious: iolens must not touch this\n" * 221 + b"x" * 15)  # 8192 bytes
    os.chmod(os.path.join(root, "precious.txt"), 0o640)
    os.mkdir(os.path.join(root, "sub"))
    os.mkfifo(os.path.join(root, "fifo"))
    os.symlink("precious.txt", os.path.join(root, "link-to-precious"))
    os.symlink("nowhere", os.path.join(root, "dangling"))
    for name, mode, dev in (("nulldev", stat.S_IFCHR, os.makedev(1, 3)),
                            # block major 240 is for local use: no driver, open fails
                            ("blockdev", stat.S_IFBLK, os.makedev(240, 0))):
        try:
            os.mknod(os.path.join(root, name), mode | 0o600, dev)
            made.add(name)
        except OSError:
            pass
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.path.join(root, "stale.sock"))
    stale.close()
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(os.path.join(root, "live.sock"))
    live.listen(16)
    return made, live


def snapshot(root):
    """Every entry under root (links not followed): what it is, by relative path."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            what = (stat.S_IFMT(st.st_mode), st.st_ino, stat.S_IMODE(st.st_mode), st.st_rdev)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    what += (st.st_size, hashlib.sha1(f.read(1 << 20)).hexdigest())
            elif stat.S_ISLNK(st.st_mode):
                what += (os.readlink(path),)
            entries[rel] = what
    return entries


class FifoDrain:
    """Reads whatever is written into the FIFO, so a writer never blocks."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.stop = threading.Event()
        self.data = b""
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    self.data += os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    pass

    def close(self):
        self.stop.set()
        self.thread.join()
        while True:  # what is still in the pipe
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.data += chunk
        os.close(self.fd)


# ---------------------------------------------------------------- running

class Result:
    def __init__(self):
        self.rc = None
        self.signalled = None  # the signal the campaign sent, if any
        self.hung = False
        self.stdout = b""
        self.stderr = b""
        self.orphans = False  # a process it started outlived it
        self.fifo = b""       # what was written into the FIFO sentinel


def living_in_group(pgid):
    """Processes of the group that are not zombies (a sanitizer's exit-time helper,
    orphaned by a SIGINT, can stay a zombie for a while; it is no longer running)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry))
    return pids


def run_process(prog, argv, cwd, env, sigint_after, stdin_closed):
    res = Result()

    def preexec():
        if stdin_closed:
            os.close(0)

    # Its own process group, so children that outlive it can be seen (and ended).
    p = subprocess.Popen([prog] + argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec,
                         process_group=0)
    deadline = time.monotonic() + HANG_S
    sigint_at = time.monotonic() + sigint_after if sigint_after is not None else None
    out, err = [], []
    streams = {p.stdout.fileno(): out, p.stderr.fileno(): err}
    open_fds = set(streams)
    while open_fds:
        now = time.monotonic()
        if sigint_at is not None and now >= sigint_at and p.poll() is None:
            p.send_signal(signal.SIGINT)
            res.signalled = signal.SIGINT
            sigint_at = None
        if p.poll() is not None and deadline > now + 1:
            deadline = now + 1  # it exited: a child may hold the pipes; read what is there
        if now >= deadline:
            res.hung = p.poll() is None
            break
        wait = deadline - now if sigint_at is None else min(deadline, sigint_at) - now
        ready, _, _ = select.select(list(open_fds), [], [], max(0.0, min(wait, 0.5)))
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                streams[fd].append(chunk)
            else:
                open_fds.discard(fd)
    if res.hung:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
        p.wait()
    res.rc = p.wait()
    left = living_in_group(p.pid)
    if left:
        res.orphans = True
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    p.stdout.close()
    p.stderr.close()
    res.stdout, res.stderr = b"".join(out), b"".join(err)
    return res


def start_responder(prog, argv, cwd, env):
    """Start an iolens responder and wait for its 'listening on ADDR' line."""
    p = subprocess.Popen([prog] + argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    line = b""
    deadline = time.monotonic() + 10
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([p.stdout], [], [], 0.2)
        if ready:
            b = os.read(p.stdout.fileno(), 1)
            if not b:
                break
            line += b
    m = re.search(rb"listening on (\S+) \(", line)
    return p, (m.group(1).decode() if m else None), line


# ---------------------------------------------------------------- judging

class Campaign:
    def __init__(self, prog, sanitized, seed, verbose):
        self.prog = os.path.abspath(prog)
        self.sanitized = sanitized
        self.seed = seed
        self.verbose = verbose
        self.counts = dict(runs=0, crashes=0, hangs=0, leftovers=0, changed=0, sanitizer=0,
                           exits=0, usage=0, outputs=0, orphans=0)
        self.failed_cases = 0
        self.seen = set()
        self.root = tempfile.mkdtemp(prefix="iolens-campaign-")
        self.home = os.path.join(self.root, "home")
        os.mkdir(self.home)
        self.backends = self.list_backends()
        self.ncpu = os.cpu_count() or 1
        self.check_grammar()

    def list_backends(self):
        out = subprocess.run([self.prog, "list"], capture_output=True, text=True, timeout=60)
        names = [line.split()[0] for line in out.stdout.splitlines()[1:] if line.strip()]
        return names or ["null"]

    def check_grammar(self):
        """Say so when `iolens run --help` documents an option the grammar lacks."""
        out = subprocess.run([self.prog, "run", "--help"], capture_output=True, text=True,
                             timeout=60).stdout
        documented = set(re.findall(r"^\s+--([a-z][a-z-]*)", out, re.M))
        missing = documented - set(RUN_OPTIONS)
        if missing:
            print("note: the grammar lacks run options %s" % ", ".join(sorted(missing)))

    def env(self, tmpdir):
        # HOME apart from the case: matplotlib (the plots) keeps its cache there
        env = dict(os.environ, TMPDIR=tmpdir, HOME=self.home, LC_ALL="C")
        if self.sanitized:
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
            env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        return env

    def run_case(self, index):
        rng = random.Random("%d:%d" % (self.seed, index))
        cwd = os.path.join(self.root, "case-%d" % index)
        os.mkdir(cwd)
        made, live = make_sandbox(cwd)
        case = Grammar(rng, self.backends, self.ncpu, made).case()
        tmpdir = cwd
        if case.long_tmpdir:
            tmpdir = os.path.join(cwd, "t" * 70)
            os.mkdir(tmpdir)
        env = self.env(tmpdir)
        before = snapshot(cwd)
        drain = FifoDrain(os.path.join(cwd, "fifo")) if "fifo" in case.sentinels else None
        responder = None
        problems = []
        try:
            if case.kind == "pair":
                responder, addr, line = start_responder(self.prog, case.responder_argv, cwd, env)
                if not addr:
                    problems.append(("exits", "the responder did not say where it listens: %r" % line))
                    addr = "127.0.0.1:1"
                case.argv = [addr if a == ADDR else a for a in case.argv]
            res = run_process(self.prog, case.argv, cwd, env, case.sigint, case.stdin_closed)
        finally:
            if responder:
                responder.send_signal(signal.SIGINT)
                try:
                    r_out, r_err = responder.communicate(timeout=HANG_S)
                except subprocess.TimeoutExpired:
                    responder.kill()
                    r_out, r_err = responder.communicate()
                    problems.append(("hangs", "the responder did not stop on SIGINT"))
                if responder.returncode != 0:
                    problems.append(("exits", "the responder exited %d" % responder.returncode))
                problems += self.sanitizer_problems(r_err, "responder")
            if drain:
                drain.close()
                res.fifo = drain.data
        after = snapshot(cwd)
        problems += self.judge(case, res, cwd, before, after)
        if "live.sock" in case.sentinels:
            problems += self.check_live(cwd)
        live.close()
        self.counts["runs"] += 1
        self.report(index, case, res, tmpdir, problems)
        shutil.rmtree(cwd, ignore_errors=True)
        return not problems

    def check_live(self, cwd):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(os.path.join(cwd, "live.sock"))
            return []
        except OSError as e:
            return [("changed", "live.sock no longer reaches its listener (%s)" % e)]
        finally:
            s.close()

    def sanitizer_problems(self, stderr, who="iolens"):
        text = stderr.decode(errors="replace")
        for mark in SANITIZER_MARKS:
            if mark in text:
                return [("sanitizer", "%s: %s report" % (who, mark))]
        return []

    def judge(self, case, res, cwd, before, after):
        p = []
        rc = res.rc
        err = res.stderr.decode(errors="replace")
        if res.hung:
            p.append(("hangs", "no exit within %.0f s" % HANG_S))
        p += self.sanitizer_problems(res.stderr)
        if res.orphans:
            p.append(("orphans", "a process it started was still running after it exited"))
        died = -rc if rc < 0 else None
        if died is not None and not res.hung and died != res.signalled:
            p.append(("crashes", "killed by %s" % signal.Signals(died).name))
        elif died is None and rc not in EXITS:
            p.append(("exits", "exit status %d" % rc))
        if case.kind == "responder" and rc == 130:
            p.append(("exits", "the responder exits 0 when stopped, not 130"))
        if case.kind == "responder" and rc == 0 and res.signalled is None:
            p.append(("exits", "the responder stopped without a signal"))
        ok_exit = rc in (0, 1, 130) or (died is not None and died == res.signalled)
        if rc == 2:
            lines = err.split("\n")
            if len(lines) != 2 or lines[1] != "" or not lines[0].startswith("iolens: "):
                p.append(("usage", "exit 2 but stderr is not one 'iolens: ' line: %r" % err[:400]))
        p += self.judge_files(case, rc, ok_exit, before, after)
        if not res.hung and died is None:
            p += self.judge_outputs(case, res, cwd, before, after)
        return p

    def allowed_new(self, case, rel, rc):
        if rc not in (0, 1, 130):
            return False
        for out in case.outputs:
            if os.path.normpath(out) == rel:
                return True
        dirs = set(case.out_dirs)
        if case.kind in ("compare", "demo") and not dirs:
            dirs.add("results")
        for d in dirs:
            d = os.path.normpath(d) if d else d
            # the directory, what is in it, and the parents made for it (mkdir -p)
            if d and (rel == d or rel.startswith(d + "/") or d.startswith(rel + "/")):
                return True
        return False

    def judge_files(self, case, rc, ok_exit, before, after):
        p = []
        left = sorted(rel for rel in after if rel not in before
                      and not self.allowed_new(case, rel, rc))
        if left:
            p.append(("leftovers", "left behind: %s" % ", ".join(left[:8])))
        for rel, was in sorted(before.items()):
            now = after.get(rel)
            if now == was:
                continue
            if rel == "precious.txt" and now is not None and ok_exit:
                if rel in case.replaceable and stat.S_ISREG(now[0]) and now[2] == was[2]:
                    continue  # a regular output the user named: replaced, mode kept
                if rel in case.written and now[:4] == was[:4]:
                    continue  # --file with --overwrite: written in place
            if rel == "stale.sock" and (now is None or stat.S_ISSOCK(now[0])):
                continue  # nobody listened there: it may be reused (and removed after)
            if rel == "sub" and now is not None and now[:3] == was[:3]:
                continue
            p.append(("changed", "%s: %s" % (rel, describe_change(was, now))))
        return p

    def judge_outputs(self, case, res, cwd, before, after):
        """What the exit status says matches what was written."""
        p = []
        rc = res.rc
        if case.dead_peer and rc == 0:
            p.append(("outputs", "exit 0, yet its peer (live.sock) accepted and never answered"))
        if rc not in (0, 1, 130) or case.kind != "run":
            if case.kind in ("compare", "demo") and rc in (0, 130):
                p += self.judge_results_dir(case, cwd, rc)
            return p
        if case.json == "-" and (rc != 1 or res.stdout):
            p += self.check_json(res.stdout, rc, "--json - (stdout)")
        elif case.json == "fifo" and (rc != 1 or res.fifo):
            p += self.check_json(res.fifo, rc, "--json fifo (read from the FIFO)")
        elif case.json and case.json not in ("",) and not case.json.startswith("/dev/"):
            rel = os.path.normpath(case.json)
            target = "precious.txt" if rel == "link-to-precious" else rel
            if target in after and after[target] != before.get(target):
                with open(os.path.join(cwd, target), "rb") as f:
                    p += self.check_json(f.read(), rc, "--json %s" % case.json)
            elif rc != 1 and case.json != "fifo" and "nulldev" != case.json:
                p.append(("outputs", "exit %d but --json %s was not written" % (rc, case.json)))
        if case.csv == "-" and rc != 1:
            p += self.check_csv(res.stdout, "--csv - (stdout)")
        return p

    def judge_results_dir(self, case, cwd, rc):
        dirs = [d for d in case.out_dirs] or ["results"]
        d = os.path.join(cwd, dirs[0])
        found = []
        for dirpath, _, files in os.walk(d):
            if "results.json" in files:
                found.append(os.path.join(dirpath, "results.json"))
        if not found:
            return [("outputs", "exit %d but no results.json under %s" % (rc, dirs[0]))]
        with open(found[0], "rb") as f:
            return self.check_json(f.read(), rc, found[0][len(cwd) + 1:])

    def check_json(self, data, rc, what):
        try:
            doc = json.loads(data)
        except ValueError as e:
            return [("outputs", "%s is not valid JSON (%s): %r" % (what, e, data[:200]))]
        meta = doc.get("meta") if isinstance(doc, dict) else None
        if not isinstance(meta, dict):
            return [("outputs", "%s has no meta object" % what)]
        if rc == 130 and meta.get("interrupted") is not True:
            return [("outputs", "exit 130 but %s has meta.interrupted %r" %
                     (what, meta.get("interrupted")))]
        if rc == 0 and meta.get("interrupted") is not False:
            return [("outputs", "exit 0 but %s has meta.interrupted %r" %
                     (what, meta.get("interrupted")))]
        return []

    def check_csv(self, data, what):
        try:
            rows = list(csv.reader(io.StringIO(data.decode())))
        except (ValueError, csv.Error) as e:
            return [("outputs", "%s is not CSV (%s)" % (what, e))]
        if not rows or any(len(r) != len(rows[0]) for r in rows):
            return [("outputs", "%s: rows of different widths or none: %r" % (what, data[:200]))]
        return []

    def report(self, index, case, res, tmpdir, problems):
        kinds = sorted(set(k for k, _ in problems))
        for k in kinds:
            self.counts[k] += 1
        status = "died by %s" % signal.Signals(-res.rc).name if res.rc < 0 else "exit %d" % res.rc
        sig = " (SIGINT sent at %.2fs)" % case.sigint if res.signalled else ""
        if self.verbose or problems:
            print("case %d: %s -> %s%s" % (index, case.command("iolens"), status, sig))
        if self.verbose and res.rc == 2:
            print("  | " + res.stderr.decode(errors="replace").split("\n")[0][:200])
        if not problems:
            return
        self.failed_cases += 1
        print("  FAILED: seed %d case %d (replay: --seed %d --case %d)" %
              (self.seed, index, self.seed, index))
        print("  run in a fresh directory with the sentinels as cwd, TMPDIR=%s%s%s" %
              ("<cwd>/" + "t" * 70 if case.long_tmpdir else "<cwd>",
               ", stdin closed" if case.stdin_closed else "",
               ", responder: " + " ".join(case.responder_argv) if case.responder_argv else ""))
        for k, why in problems:
            print("  %s: %s" % (k, why))
        tail = res.stderr.decode(errors="replace").strip().splitlines()[-12:]
        for line in tail:
            print("  | " + line)
        sys.stdout.flush()

    def summary(self):
        c = self.counts
        print("campaign seed %d: %d runs, %d crashes, %d hangs, %d leftovers, %d changed files, "
              "%d sanitizer reports, %d bad exits, %d bad usage errors, %d bad outputs, "
              "%d orphan processes; %d cases failed" %
              (self.seed, c["runs"], c["crashes"], c["hangs"], c["leftovers"], c["changed"],
               c["sanitizer"], c["exits"], c["usage"], c["outputs"], c["orphans"],
               self.failed_cases))

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def describe_change(was, now):
    if now is None:
        return "removed"
    names = {stat.S_IFREG: "file", stat.S_IFDIR: "directory", stat.S_IFIFO: "FIFO",
             stat.S_IFCHR: "char device", stat.S_IFBLK: "block device",
             stat.S_IFLNK: "symlink", stat.S_IFSOCK: "socket"}
    if now[0] != was[0]:
        return "was a %s, now a %s" % (names.get(was[0]), names.get(now[0]))
    if now[1] != was[1]:
        return "replaced (inode %d -> %d)" % (was[1], now[1])
    if now[2] != was[2]:
        return "mode %o -> %o" % (was[2], now[2])
    return "content changed"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("iolens")
    ap.add_argument("sanitized", nargs="?", default="OFF", help="ON when built with ASan+UBSan")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=None,
                    help="time budget (default 60 sanitized, 10 plain)")
    ap.add_argument("--case", type=int, default=None, help="run only this case of the seed")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    sanitized = args.sanitized.upper() in ("ON", "1", "TRUE", "YES")
    seconds = args.seconds if args.seconds is not None else (60.0 if sanitized else 10.0)
    camp = Campaign(args.iolens, sanitized, args.seed, args.verbose)
    try:
        if args.case is not None:
            camp.run_case(args.case)
        else:
            end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < end:
                camp.run_case(i)
                i += 1
    finally:
        camp.summary()
        camp.close()
    return 1 if camp.failed_cases else 0


if __name__ == "__main__":
    sys.exit(main())
