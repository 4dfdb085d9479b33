"""End-to-end test of scripts/plot.py on real runs.

Usage: test_plot.py PATH-TO-IOLENS PATH-TO-PLOT.PY. Exits 77 (skipped) when
matplotlib is missing.
"""
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

IOLENS = PLOT = None
PNG_SIG = b"\x89PNG\r\n\x1a\n"
MAP_COORDS = ("async_share", "nonblock_share", "blocked_share")


def percentile(buckets, p, lo, hi):
    """Rank ceil(p/100 * n), midpoint of its bucket, clamped to min and max."""
    n = sum(c for _, _, c in buckets)
    if p <= 0:
        return lo
    rank = max(1, math.ceil(round(p / 100 * n, 9)))
    seen = 0
    for a, b, c in buckets:
        seen += c
        if seen >= rank:
            return min(max(a + (b - a) // 2, lo), hi)
    return hi


class PlotTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="iolens-plot-")
        env = dict(os.environ, TMPDIR=cls.dir)
        runs = {
            "disk": ["--backend", "all", "--size", "16m", "--depth", "4", "--ops", "5000",
                     "--trace", "100"],
            "echo": ["--workload", "echo", "--backend", "all", "--conns", "4", "--ops", "2000",
                     "--trace", "100"],
            "d1": ["--backend", "blocking,io_uring", "--size", "16m", "--depth", "1",
                   "--ops", "5000"],
            "d8": ["--backend", "blocking,io_uring", "--size", "16m", "--depth", "8",
                   "--ops", "5000"],
        }
        cls.json = {}
        for name, args in runs.items():
            path = os.path.join(cls.dir, name + ".json")
            p = subprocess.run([IOLENS, "run", *args, "--json", path], env=env,
                               capture_output=True, text=True, timeout=240)
            if p.returncode != 0:
                raise RuntimeError(f"iolens run {args} failed: {p.stderr}")
            with open(path) as f:
                cls.json[name] = json.load(f)
            cls.json[name + "_path"] = path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def plot(self, *args, out=None):
        out = out or tempfile.mkdtemp(dir=self.dir)
        p = subprocess.run([sys.executable, PLOT, "--out", out, *args], capture_output=True,
                           text=True, timeout=240)
        return p, out

    def dump(self, *names):
        p, out = self.plot("--dump", *[self.json[n + "_path"] for n in names])
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout), out, p.stderr

    def check_files(self, out, stems):
        for stem in stems:
            with open(os.path.join(out, stem + ".png"), "rb") as f:
                self.assertEqual(f.read(8), PNG_SIG, stem)
            root = ET.parse(os.path.join(out, stem + ".svg")).getroot()
            self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg", stem)

    def ok_results(self, doc):
        return [r for r in doc["results"] if r["status"] == "ok"]

    def test_single_files(self):
        for run, wl in (("disk", "randread"), ("echo", "echo")):
            with self.subTest(run=run):
                d, out, err = self.dump(run)
                doc = self.json[run]
                plots = d["plots"]
                stems = [f"{i}-{k}-{wl}" for i, k in ((1, "throughput"), (2, "latency"),
                                                      (3, "syscalls"), (4, "cpu-ctxsw"),
                                                      (6, "timeline"), (7, "model-map"))]
                self.check_files(out, stems)
                self.assertFalse(os.path.exists(os.path.join(out, f"5-scaling-{wl}.png")))
                self.assertIn(f"5-scaling-{wl}: skipped", err)
                ok = {r["backend"]: r for r in self.ok_results(doc)}
                # 1: the bars are the IOPS, the null backend's (the floor) apart
                tp = plots[f"1-throughput-{wl}"]
                got = {s["label"]: s["y"] for s in tp["series"]}
                self.assertEqual(got, {b: r["iops"] for b, r in ok.items() if b != "null"})
                self.assertEqual(tp["floor"], [{"label": "null", "y": ok["null"]["iops"]}])
                # 2: the curves are the histogram's percentiles, and agree with iolens's own
                for s in plots[f"2-latency-{wl}"]["series"]:
                    r = ok[s["label"]]
                    lat, b = r["latency_ns"], r["histogram"]["buckets"]
                    want = [percentile(b, p, lat["min"], lat["max"]) for p in s["x"]]
                    self.assertEqual(s["y"], want, s["label"])
                    for p, key in ((50, "p50"), (99, "p99"), (99.99, "p99_99")):
                        self.assertEqual(percentile(b, p, lat["min"], lat["max"]), lat[key])
                    self.assertAlmostEqual(s["x"][-1], 99.99)
                # 3: each stack sums to syscalls.per_op
                sc = plots[f"3-syscalls-{wl}"]
                for s in sc["series"]:
                    want = ok[s["label"]]["syscalls"]["per_op"]
                    self.assertAlmostEqual(sum(s["stack"].values()), want,
                                           delta=max(1e-9, want * 1e-4), msg=s["label"])
                counted = {b for b, r in ok.items() if r["syscalls"]["why"] is None}
                self.assertEqual({s["label"] for s in sc["series"]}, counted)
                self.assertEqual(set(sc["absent"]), set(ok) - counted)
                # 4: switches and CPU per op
                for s in plots[f"4-cpu-ctxsw-{wl}"]["vcsw_per_op"]:
                    r = ok[s["label"]]
                    self.assertAlmostEqual(s["y"], r["ctx_switches"]["voluntary"] / r["ops"])
                for s in plots[f"4-cpu-ctxsw-{wl}"]["cpu_per_op_ns"]:
                    self.assertEqual(s["y"], ok[s["label"]]["cpu"]["per_op_ns"])
                # 6: a bar per traced op
                tl = {s["label"]: s for s in plots[f"6-timeline-{wl}"]["series"]}
                self.assertEqual(set(tl), {b for b, r in ok.items() if r["trace"]})
                spans = []
                for b, s in tl.items():
                    self.assertEqual(s["bars"], len(ok[b]["trace"]["ops"]))
                    self.assertEqual(s["measured"], ok[b]["model"]["measured"])
                    self.assertEqual(len(s["x"]), s["bars"])
                    spans.append(max(max(x[1] for x in s["x"]) - min(x[0] for x in s["x"]), 1))
                # one time scale when the spans are within 50x of each other
                self.assertEqual(plots[f"6-timeline-{wl}"]["shared_time"],
                                 max(spans) <= 50 * min(spans))
                # 7: the classifier's coordinates and verdicts, every measured
                # result on the map (test_model_map checks the regions)
                mp = plots[f"7-model-map-{wl}"]
                for s in mp["series"]:
                    m = ok[s["label"]]["model"]
                    for k in MAP_COORDS:
                        self.assertEqual(s[k], m[k], k)
                    self.assertEqual(s["offload_share"], m["offload_share"] or 0)
                    self.assertEqual((s["region_who"], s["region_wait"]), (m["who"], m["wait"]))
                    self.assertEqual(s["measured"], m["measured"])
                    self.assertTrue(s["legend"].startswith(f"{s['label']}: {m['measured']}"))
                self.assertEqual({s["label"] for s in mp["series"]} | set(mp["absent"]),
                                 {r["backend"] for r in doc["results"]})
                self.assertEqual(mp["absent"]["null"], "no I/O")

    def test_matrix(self):
        d, out, err = self.dump("d1", "d8")
        self.check_files(out, ["5-scaling-randread"])
        series = {s["label"]: s for s in d["plots"]["5-scaling-randread"]["series"]}
        self.assertEqual(len(series), 2)
        for s in series.values():
            self.assertEqual(s["x"], [1, 8])
            self.assertEqual(s["key"], "depth")
            want = [next(r for r in self.json[run]["results"] if r["backend"] in s["label"])
                    for run in ("d1", "d8")]
            self.assertEqual(s["iops"], [r["iops"] for r in want])
            self.assertEqual(s["p99_ns"], [r["latency_ns"]["p99"] for r in want])
        # both files from one host: labels carry host/kernel, the throughput bars say the depth
        labels = [s["label"] for s in d["plots"]["1-throughput-randread"]["series"]]
        self.assertTrue(all(" @ " in x and (x.endswith("d=1") or x.endswith("d=8"))
                            for x in labels), labels)
        self.assertIn("6-timeline-randread: skipped", err)

    def test_settings_apart(self):
        # One backend at two settings other than depth (here O_DIRECT, made up
        # from the disk run with other syscall figures): distinct names, and
        # each bar and stack drawn from its own result.
        doc = json.loads(json.dumps(self.json["disk"]))
        twins = json.loads(json.dumps(self.ok_results(doc)))
        for r in twins:
            r["workload"]["direct"] = True
            r["workload"]["cache"] = "direct"
            r["iops"] /= 2
            sy = r["syscalls"]
            if sy["why"] is None:
                sy["by_name"] = {k: 2 * v for k, v in sy["by_name"].items()}
                sy["per_op"] *= 2
        doc["results"] += twins
        path = os.path.join(self.dir, "twins.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        p, out = self.plot("--dump", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        plots = json.loads(p.stdout)["plots"]
        want = {b: r for b, r in ((r["backend"], r) for r in self.ok_results(self.json["disk"]))}
        want.update({b + " O_DIRECT": r for b, r in ((r["backend"], r) for r in twins)})
        got = {s["label"]: s["y"] for s in plots["1-throughput-randread"]["series"]}
        self.assertEqual(got, {b: r["iops"] for b, r in want.items() if not b.startswith("null")})
        for s in plots["3-syscalls-randread"]["series"]:
            per_op = want[s["label"]]["syscalls"]["per_op"]
            self.assertAlmostEqual(sum(s["stack"].values()), per_op,
                                   delta=max(1e-9, per_op * 1e-4), msg=s["label"])
        self.assertIn("5-scaling-randread: skipped", p.stderr)

    def test_fleet(self):
        # An iolens-mpi document (made up from the disk run): its results are
        # drawn as the fleet's merged figures, and one that lost a rank is refused.
        doc = json.loads(json.dumps(self.json["disk"]))
        fleet = []
        for r in doc["results"]:
            m = {"ops": 2 * (r["ops"] or 0), "iops": 2 * (r["iops"] or 0) + 1,
                 "latency_ns": r["latency_ns"], "histogram": r["histogram"],
                 "cpu_per_op_ns": None, "syscalls_per_op": None, "vcsw": None, "ivcsw": None,
                 "model": None}
            fleet.append({"backend": r["backend"], "variant": r["variant"], "ranks": [],
                          "merged": m})
        doc["fleet"] = {"ranks": 2, "role": "ranks", "results": fleet}
        path = os.path.join(self.dir, "fleet.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        p, out = self.plot("--dump", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        plots = json.loads(p.stdout)["plots"]
        got = {s["label"]: s["y"] for s in plots["1-throughput-randread"]["series"]}
        want = {f["backend"]: f["merged"]["iops"] for f, r in zip(fleet, doc["results"])
                if r["status"] == "ok" and not r["backend"].startswith("null")}
        self.assertEqual(got, want)
        doc["fleet"] = {"ranks": 2, "error": "a rank was lost"}
        with open(path, "w") as f:
            json.dump(doc, f)
        p, out = self.plot("--dump", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("the fleet has no merged results (a rank was lost)", p.stderr)

    def test_null_floor(self):
        # The null backend's rate (no I/O: the harness's floor) would squash
        # every other bar and line: left out and given in the caption, drawn
        # with --with-null. The disk run again at depth 8 (made up, twice
        # the rate) gives every backend a scaling line.
        doc = json.loads(json.dumps(self.json["disk"]))
        deeper = json.loads(json.dumps(self.ok_results(doc)))
        for r in deeper:
            r["workload"]["depth"] = 8
            r["iops"] *= 2
        doc["results"] += deeper
        path = os.path.join(self.dir, "floor.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        null = [r["iops"] for r in self.ok_results(doc) if r["backend"] == "null"]
        self.assertEqual(len(null), 2)
        for args, drawn in (((), False), (("--with-null",), True)):
            with self.subTest(args=args):
                p, out = self.plot("--dump", *args, path)
                self.assertEqual(p.returncode, 0, p.stderr)
                plots = json.loads(p.stdout)["plots"]
                tp, sc = plots["1-throughput-randread"], plots["5-scaling-randread"]
                bars = {s["label"]: s["y"] for s in tp["series"]}
                lines = {s["label"]: s["iops"] for s in sc["series"]}
                with open(os.path.join(out, "1-throughput-randread.svg")) as f:
                    svg = f.read()
                if drawn:
                    self.assertEqual([bars["null d=4"], bars["null d=8"]], null)
                    self.assertEqual(lines["null"], null)
                    self.assertEqual((tp["floor"], sc["floor"]), ([], []))
                    self.assertNotIn("the harness floor", svg)
                else:
                    self.assertFalse([k for k in list(bars) + list(lines) if k.startswith("null")])
                    self.assertEqual([x["y"] for x in tp["floor"]], null)
                    self.assertEqual([x["y"] for x in sc["floor"]], null)
                    self.assertIn("null (the harness floor): ", svg)
                # every other backend is drawn either way
                self.assertEqual(len([k for k in bars if not k.startswith("null")]),
                                 2 * (len(self.ok_results(self.json["disk"])) - 1))

    def test_one_cpu(self):
        # Drawn in worker processes or in turn, the output is the same.
        outs = []
        for cpus in (None, {min(os.sched_getaffinity(0))}):
            out = tempfile.mkdtemp(dir=self.dir)
            p = subprocess.run(
                [sys.executable, PLOT, "--out", out, "--dump", self.json["disk_path"],
                 self.json["echo_path"]], capture_output=True, text=True, timeout=240,
                preexec_fn=(lambda c=cpus: os.sched_setaffinity(0, c)) if cpus else None)
            self.assertEqual(p.returncode, 0, p.stderr)
            d = json.loads(p.stdout)
            d["files"] = [os.path.relpath(f, out) for f in d["files"]]
            outs.append((d, p.stderr))
        self.assertEqual(outs[0], outs[1])

    def test_stored_runs(self):
        """--db --runs: two stored runs, or labels, side by side, medians over a label's runs."""
        db = os.path.join(self.dir, "store", "results.db")
        for label in ("one", "two", "two"):
            p = subprocess.run([IOLENS, "run", "--backend", "null,blocking", "--workload",
                                "randread", "--size", "1m", "--time", "50ms", "--db", db,
                                "--label", label], env=dict(os.environ, TMPDIR=self.dir),
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = con.execute("SELECT run_id, backend, iops, p99_ns, syscalls_per_op FROM results"
                           " WHERE status = 'ok'").fetchall()
        con.close()
        metrics = ("iops", "p99_ns", "syscalls_per_op")
        for runs, ids in (("one,two", ([1], [2, 3])), ("1,3", ([1], [3]))):
            with self.subTest(runs=runs):
                p, out = self.plot("--dump", "--db", db, "--runs", runs)
                self.assertEqual(p.returncode, 0, p.stderr)
                d = json.loads(p.stdout)
                stem = "runs-" + runs.replace(",", "-vs-")
                self.check_files(out, [stem])
                got = d["plots"][stem]
                self.assertEqual(got["bars"], ["null", "blocking"])
                for side, want_ids in zip(got["sides"], ids):
                    self.assertEqual(side["runs"], want_ids)
                    for i, backend in enumerate(got["bars"]):
                        mine = [r for r in rows if r[0] in want_ids and r[1] == backend]
                        for k, m in enumerate(metrics):
                            vals = [r[2 + k] for r in mine if r[2 + k] is not None]
                            if not vals:
                                self.assertIsNone(side[m][i], (m, backend))
                                continue
                            self.assertEqual(side[m][i], {"median": statistics.median(vals),
                                                          "min": min(vals), "max": max(vals),
                                                          "n": len(vals)}, (m, backend))
        for args, code in ((["--db", db, "--runs", "1,nope"], 2), (["--db", db, "--runs", "1"], 2),
                           (["--db", db, "--runs", "1,2", self.json["disk_path"]], 2),
                           (["--db", db], 2),
                           (["--db", os.path.join(self.dir, "none.db"), "--runs", "1,2"], 1)):
            with self.subTest(args=args):
                p = subprocess.run([sys.executable, PLOT, *args], capture_output=True, text=True,
                                   timeout=60)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertEqual(p.stdout, "")

    def test_errors(self):
        cases = [([], 2), (["--bogus", self.json["disk_path"]], 2),
                 (["--out"], 2), ([os.path.join(self.dir, "missing.json")], 1)]
        bad = os.path.join(self.dir, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        notours = os.path.join(self.dir, "other.json")
        with open(notours, "w") as f:
            f.write("[1, 2]")
        cases += [([bad], 1), ([notours], 1)]
        for args, code in cases:
            with self.subTest(args=args):
                p = subprocess.run([sys.executable, PLOT, *args], capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
                self.assertEqual(p.stdout, "")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_plot.py PATH-TO-IOLENS PATH-TO-PLOT.PY")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("skipped: python3-matplotlib is not installed")
        sys.exit(77)
    PLOT = os.path.abspath(sys.argv.pop(2))
    IOLENS = os.path.abspath(sys.argv.pop(1))
    # Never the user's results database: ctest names one, by hand a temporary one.
    store = tempfile.TemporaryDirectory(prefix="iolens-store-")
    os.environ.setdefault("IOLENS_DB", os.path.join(store.name, "results.db"))
    unittest.main(verbosity=2)
