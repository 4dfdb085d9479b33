"""The model map of scripts/plot.py against the classifier that wrote the results.

Usage: test_model_map.py PATH-TO-IOLENS PATH-TO-PLOT.PY. Exits 77 (skipped)
when matplotlib is missing.

A point's place on the map and its label must agree: the regions the map
draws are the classifier's rules on the classifier's coordinates, so the
region every point falls in is the verdict (model.who, model.wait) iolens
wrote for it. Checked on one real 'iolens compare --quick' and on hand-made
results with points just on each side of every threshold.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

IOLENS = PLOT = None
MAJORITY, SOME = 0.5, 0.05  # the defaults of results that carry no thresholds
EPS = 1e-6
COORDS = ("async_share", "nonblock_share", "blocked_share")
LABELS = {("submitter", "blocking"): "sync blocking",
          ("submitter", "non-blocking"): "sync non-blocking (readiness)",
          ("submitter", "no wait needed"): "sync, no wait needed",
          ("kernel", "blocking"): "async (kernel completion)",
          ("kernel", "non-blocking"): "async (kernel completion)",
          ("kernel", "no wait needed"): "async (kernel completion)",
          ("threads", "blocking"): "async (emulated with threads)",
          ("threads", "non-blocking"): "async (emulated with threads)",
          ("threads", "no wait needed"): "async (emulated with threads)"}


def load_plot():
    spec = importlib.util.spec_from_file_location("plot", PLOT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_plot(out, *args):
    p = subprocess.run([sys.executable, PLOT, "--out", out, "--dump", *args],
                       capture_output=True, text=True, timeout=240)
    if p.returncode != 0:
        raise AssertionError(f"plot.py failed ({p.returncode}): {p.stderr}")
    return json.loads(p.stdout)


def legend_measured(legend, label, declared):
    """The measured model a legend entry names: it reads 'LABEL: MEASURED',
    then '; declared DECLARED' when the two differ."""
    prefix = label + ": "
    if not legend.startswith(prefix):
        raise AssertionError(f"legend {legend!r} does not start with {prefix!r}")
    rest = legend[len(prefix):]
    tail = f"; declared {declared}"
    return rest[:-len(tail)] if declared and rest.endswith(tail) else rest


def mapped(r):
    """Whether a result belongs on the map: ok, with I/O and the coordinates."""
    m = r.get("model") or {}
    return r["status"] == "ok" and m.get("measured") not in (None, "no I/O") \
        and all(isinstance(m.get(k), (int, float)) for k in COORDS)


class RegionsTest(unittest.TestCase):
    """regions() on its own, then hand-made results through plot.py --dump."""

    # (async, offload, nonblock, blocked) -> (who, wait) at the default thresholds.
    CASES = [
        ((MAJORITY - EPS, 0, 0, 0), ("submitter", "no wait needed")),
        ((MAJORITY, 0, 0, 0), ("kernel", "no wait needed")),
        ((MAJORITY + EPS, 0, 0, 0), ("kernel", "no wait needed")),
        ((1, MAJORITY - EPS, 0, 0), ("kernel", "no wait needed")),
        ((1, MAJORITY, 0, 0), ("threads", "no wait needed")),
        ((MAJORITY + EPS, MAJORITY + EPS, 0, 0), ("threads", "no wait needed")),
        ((1, None, 0, 0), ("kernel", "no wait needed")),          # null offload counts as 0
        ((MAJORITY - EPS, None, 0, 0), ("submitter", "no wait needed")),
        ((MAJORITY - EPS, 1, 0, 0), ("submitter", "no wait needed")),  # async decides first
        ((0, 0, 0, SOME - EPS), ("submitter", "no wait needed")),
        ((0, 0, 0, SOME), ("submitter", "blocking")),
        ((0, 0, 0, SOME + EPS), ("submitter", "blocking")),
        ((0, 0, 1, SOME), ("submitter", "blocking")),               # blocked decides first
        ((0, 0, SOME - EPS, SOME - EPS), ("submitter", "no wait needed")),
        ((0, 0, SOME, SOME - EPS), ("submitter", "non-blocking")),
        ((0, 0, SOME + EPS, 0), ("submitter", "non-blocking")),
        ((1, 0, SOME + EPS, SOME - EPS), ("kernel", "non-blocking")),
        ((1, 1, SOME - EPS, SOME + EPS), ("threads", "blocking")),
    ]

    @classmethod
    def setUpClass(cls):
        cls.plot = load_plot()
        cls.dir = tempfile.mkdtemp(prefix="iolens-model-map-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @staticmethod
    def point(a, o, n, b):
        return {"async_share": a, "offload_share": o, "nonblock_share": n, "blocked_share": b}

    def test_each_side_of_every_threshold(self):
        th = {"majority": MAJORITY, "some": SOME}
        for coords, want in self.CASES:
            with self.subTest(coords=coords):
                self.assertEqual(self.plot.regions(self.point(*coords), th), want)

    def test_other_thresholds(self):
        th = {"majority": 0.7, "some": 0.2}
        for coords, want in [((0.7 - EPS, 0, 0, 0), ("submitter", "no wait needed")),
                             ((0.7, 0.6, 0, 0), ("kernel", "no wait needed")),
                             ((0.8, 0.7, 0, 0), ("threads", "no wait needed")),
                             ((0, 0, 0.1, 0.2 - EPS), ("submitter", "no wait needed")),
                             ((0, 0, 0.2, 0.1), ("submitter", "non-blocking")),
                             ((0, 0, 0, 0.2), ("submitter", "blocking"))]:
            with self.subTest(coords=coords):
                self.assertEqual(self.plot.regions(self.point(*coords), th), want)

    def result(self, name, coords, who_wait, thresholds="default", status="ok", measured=None):
        a, o, n, b = coords
        model = {"declared": "sync blocking", "async_share": a, "offload_share": o,
                 "nonblock_share": n, "blocked_share": b, "who": who_wait[0], "wait": who_wait[1],
                 "measured": measured or LABELS[who_wait], "why": "made by hand"}
        model["mismatch"] = model["measured"] != model["declared"]
        if thresholds == "default":
            model["thresholds"] = {"majority": MAJORITY, "some": SOME}
        elif thresholds is not None:
            model["thresholds"] = thresholds
        return {"backend": name, "variant": None, "status": status, "reason": None,
                "workload": {"name": "randread", "bs": 4096, "depth": 1, "jobs": 1},
                "iops": 1000.0, "ops": 1000, "model": model}

    def dump_of(self, results):
        path = os.path.join(self.dir, "hand.json")
        with open(path, "w") as f:
            json.dump({"schema": "iolens/1", "meta": {"hostname": "h", "kernel": "k"},
                       "results": results}, f)
        d = run_plot(tempfile.mkdtemp(dir=self.dir), path)
        return d["plots"]["7-model-map-randread"]

    def test_hand_made_results(self):
        results, want = [], {}
        for k, (coords, who_wait) in enumerate(self.CASES):
            name = f"p{k}"
            results.append(self.result(name, coords, who_wait))
            want[name] = who_wait
        # Thresholds of their own, none, or only one of the two.
        own = {"majority": 0.7, "some": 0.2}
        results.append(self.result("own", (0.6, 0, 0.1, 0.15), ("submitter", "no wait needed"), own))
        want["own"] = ("submitter", "no wait needed")
        results.append(self.result("none", (MAJORITY, 0, SOME, 0), ("kernel", "non-blocking"), None))
        want["none"] = ("kernel", "non-blocking")
        results.append(self.result("half", (0.6, 0, 0, SOME), ("submitter", "blocking"),
                                   {"majority": 0.7}))
        want["half"] = ("submitter", "blocking")
        # Left off, each with its reason.
        noio = self.result("null", (0, 0, 0, 0), ("", ""), measured="no I/O")
        noio["model"].update({k: None for k in ("who", "wait", *COORDS)})
        skipped = self.result("skipped", (0, 0, 0, 0), ("submitter", "blocking"), status="skipped")
        skipped["reason"] = "not here"
        old = self.result("old", (0, 0, 0, 0), ("submitter", "blocking"))
        for k in ("who", "wait", "async_share", "nonblock_share", "blocked_share", "thresholds"):
            del old["model"][k]
        unmeasured = self.result("unmeasured", (0, 0, 0, 0), ("submitter", "blocking"))
        unmeasured["model"].update({k: None for k in ("measured", "who", "wait", *COORDS)})
        results += [noio, skipped, old, unmeasured]

        mp = self.dump_of(results)
        got = {s["label"]: s for s in mp["series"]}
        self.assertEqual(set(got), set(want))
        for name, (who, wait) in want.items():
            with self.subTest(point=name):
                s = got[name]
                self.assertEqual((s["region_who"], s["region_wait"]), (who, wait))
                self.assertEqual((s["model_who"], s["model_wait"]), (who, wait))
                self.assertEqual(legend_measured(s["legend"], name, "sync blocking"), LABELS[(who, wait)])
        self.assertEqual(got["none"]["thresholds"], {"majority": MAJORITY, "some": SOME})
        self.assertEqual(got["half"]["thresholds"], {"majority": 0.7, "some": SOME})
        self.assertEqual(got["p6"]["offload_share"], 0)  # null drawn as 0
        self.assertEqual(mp["absent"], {"null": "no I/O", "skipped": "skipped: not here",
                                        "old": "no model coordinates",
                                        "unmeasured": "model not measured"})


class CompareTest(unittest.TestCase):
    """One real 'iolens compare --quick' (every cell on every available
    backend), then the map of its results."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="iolens-model-map-")
        # IOLENS_MAP_RESULTS=results.json of a full compare checks that run instead.
        cls.path = os.environ.get("IOLENS_MAP_RESULTS")
        if not cls.path:
            out = os.path.join(cls.dir, "cmp")
            p = subprocess.run([IOLENS, "compare", "--quick", "--out", out],
                               env=dict(os.environ, TMPDIR=cls.dir), capture_output=True,
                               text=True, timeout=240)
            if p.returncode != 0:
                raise RuntimeError(f"iolens compare --quick failed ({p.returncode}): {p.stderr}")
            cls.path = os.path.join(out, "results.json")
        with open(cls.path) as f:
            cls.doc = json.load(f)
        cls.dump = run_plot(os.path.join(cls.dir, "plots"), cls.path)
        # The names plot.py gives the results (backend and the settings that
        # tell them apart), to find each point's result.
        cls.named = {}
        for wl, entries in load_plot().group([(cls.path, cls.doc)], False).items():
            cls.named[wl] = {e.name: e.r for e in entries}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_points_are_the_verdicts(self):
        plots = self.dump["plots"]
        for wl, by_name in self.named.items():
            with self.subTest(workload=wl):
                self.assertIn(f"7-model-map-{wl}", plots)
                mp = plots[f"7-model-map-{wl}"]
                self.assertTrue(mp["series"], "no point on the map")
                for s in mp["series"]:
                    r = by_name[s["label"]]
                    m = r["model"]
                    with self.subTest(point=s["label"]):
                        self.assertEqual(s["region_who"], m["who"])
                        self.assertEqual(s["region_wait"], m["wait"])
                        self.assertEqual((s["model_who"], s["model_wait"]), (m["who"], m["wait"]))
                        self.assertEqual(s["measured"], m["measured"])
                        declared = m["declared"] if m["mismatch"] else None
                        self.assertEqual(legend_measured(s["legend"], s["label"], declared),
                                         m["measured"])
                        for k in COORDS:
                            self.assertEqual(s[k], m[k], k)
                        self.assertEqual(s["offload_share"], m["offload_share"] or 0)
                        self.assertEqual(s["thresholds"], m["thresholds"])

    def test_nothing_left_off_that_belongs(self):
        plots = self.dump["plots"]
        for wl, by_name in self.named.items():
            with self.subTest(workload=wl):
                mp = plots[f"7-model-map-{wl}"]
                drawn = {s["label"] for s in mp["series"]}
                self.assertEqual(drawn, {n for n, r in by_name.items() if mapped(r)})
                self.assertEqual(set(mp["absent"]), set(by_name) - drawn)
                for n in mp["absent"]:
                    self.assertNotIn(n, drawn)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: test_model_map.py PATH-TO-IOLENS PATH-TO-PLOT.PY")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("skipped: python3-matplotlib is not installed")
        sys.exit(77)
    PLOT = os.path.abspath(sys.argv.pop(2))
    IOLENS = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
