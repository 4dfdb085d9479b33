"""docs/json.md against the JSON that real runs write.

Usage: test_json_schema.py PATH-TO-IOLENS. Runs iolens on a few short
workloads that between them write every key (disk with a trace and every
stop condition, echo open loop, stream unchecked and uncounted, serve with a
skipped backend, a fio job file), flattens their documents as tests/json_keys.py does and
fails, naming each, on a key written that has no row in docs/json.md, a row
whose key no run wrote, and a type the row does not list. The CSV header is
held to the same rows, and the recorded compare --quick keys
(tests/schema/compare_quick.json) to the page as well.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import json_keys

IOLENS = None
HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "docs", "json.md")

# Between them these write every key; each also exercises types the others do not.
RUNS = {
    # file workload: reads, writes and fsyncs, a trace, --ops, a pinned job, io_uring's counters
    "disk": ["--workload", "randrw", "--backend", "null,blocking,io_uring", "--size", "4m",
             "--ops", "3k", "--fsync", "4", "--trace", "8", "--cpu", "0"],
    # open loop: rate, arrivals and the uncorrected latency; --cpus and the peer's CPU
    "echo": ["--workload", "echo", "--backend", "epoll", "--time", "50ms", "--rate", "2000",
             "--trace", "8", "--cpus", "0", "--peer-cpu", "0"],
    # no_check true, and syscalls not counted: syscalls.why is a string
    "stream": ["--workload", "stream", "--backend", "blocking", "--time", "50ms",
               "--no-check", "--count", "off"],
    # null cannot accept: a skipped result, its figures null
    "serve": ["--workload", "serve", "--backend", "null,epoll", "--conns", "4", "--time", "50ms"],
    # a fio job file: job_file and job_section are strings
    "fio": ["--fio-job", os.path.join(HERE, "fio", "phases.fio"), "--backend", "blocking",
            "--fio-scale", "0.1"],
}


def documented():
    """{key: set of types} from the tables of docs/json.md whose header is key | type | meaning."""
    keys, in_table = {}, False
    with open(DOC) as f:
        for n, line in enumerate(f, 1):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            if not line.startswith("|"):
                in_table = False
            elif cells == ["key", "type", "meaning"]:
                in_table = True
            elif in_table and not line.startswith("|---"):
                m = re.fullmatch(r"`([^`]+)`", cells[0])
                if not m or len(cells) < 3:
                    raise ValueError("json.md:%d: not a key row: %s" % (n, line.strip()))
                types = {t.strip() for t in cells[1].split(",")}
                if not types <= set(json_keys.TYPES) or m.group(1) in keys:
                    raise ValueError("json.md:%d: bad types or a second row for %s"
                                     % (n, m.group(1)))
                keys[m.group(1)] = types
    return keys


class JsonSchemaTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="iolens-schema-tmp-")
        cls.out = tempfile.mkdtemp(prefix="iolens-schema-out-")
        env = dict(os.environ, TMPDIR=cls.tmp)
        cls.written, cls.docs = {}, {}
        for name, args in RUNS.items():
            path = os.path.join(cls.out, name + ".json")
            p = subprocess.run([IOLENS, "run", *args, "--json", path,
                                "--csv", os.path.join(cls.out, name + ".csv")],
                               env=env, capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise AssertionError("%s: exit %d: %s" % (name, p.returncode, p.stderr))
            with open(path) as f:
                cls.docs[name] = json.load(f)
            json_keys.flatten(cls.docs[name], cls.written)
        cls.left = os.listdir(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_nothing_left_behind(self):
        self.assertEqual(self.left, [], "files left behind in TMPDIR")

    def test_runs_did_what_they_are_for(self):
        """A run that stopped doing its part would leave keys unchecked without saying so."""
        by = {name: doc["results"] for name, doc in self.docs.items()}
        self.assertEqual([r["status"] for r in by["serve"]], ["skipped", "ok"])
        self.assertTrue(by["disk"][1]["trace"]["ops"])
        self.assertIsNotNone(by["echo"][0]["net"]["latency_uncorrected_ns"]["p50"])
        self.assertIsNotNone(by["stream"][0]["syscalls"]["why"])
        self.assertIs(by["stream"][0]["workload"]["no_check"], True)
        self.assertEqual([r["workload"]["job_section"] for r in by["fio"]],
                         ["seq-read", "rand-read", "mixed"])

    def test_every_key_written_is_documented(self):
        doc = documented()
        missing = sorted(set(self.written) - set(doc))
        self.assertEqual(missing, [], "written, not in docs/json.md:\n  " + "\n  ".join(
            "%s (%s)" % (k, ", ".join(sorted(self.written[k]))) for k in missing))

    def test_every_documented_key_is_written(self):
        never = sorted(set(documented()) - set(self.written))
        self.assertEqual(never, [], "in docs/json.md, written by no run:\n  " + "\n  ".join(never))

    def test_types_as_documented(self):
        doc = documented()
        wrong = ["%s: written %s, documented %s" % (k, ", ".join(sorted(t)), ", ".join(sorted(doc[k])))
                 for k, t in sorted(self.written.items()) if k in doc and not t <= doc[k]]
        self.assertEqual(wrong, [], "\n  " + "\n  ".join(wrong))

    def test_csv_columns_are_the_documented_keys(self):
        """One column per documented leaf of a result, '.' as '_', in the page's order."""
        want = [k[len("results[]."):].replace(".", "_") for k, t in documented().items()
                if k.startswith("results[].") and not t & {"object", "array"}
                and not k.startswith(("results[].histogram", "results[].trace"))]
        headers = {}
        for name in RUNS:
            with open(os.path.join(self.out, name + ".csv"), newline="") as f:
                headers[name] = next(csv.reader(f))
        header = headers["disk"]
        for name, other in headers.items():
            self.assertEqual(other, header, "the %s run's CSV has other columns" % name)
        extra = [c for c in header if c not in want]
        missing = [c for c in want if c not in header]
        self.assertEqual((extra, missing), ([], []), "CSV columns not documented, documented "
                         "columns not in the CSV")
        self.assertEqual(header, want, "the CSV's columns in another order than the page's")

    def test_recorded_compare_keys_are_documented(self):
        """tests/schema/compare_quick.json speaks of the same keys and types as the page."""
        doc = documented()
        with open(json_keys.RECORDED) as f:
            recorded = json.load(f)["types"]
        wrong = ["%s: %s" % (k, ", ".join(t)) for k, t in sorted(recorded.items())
                 if k not in doc or not set(t) <= doc[k]]
        self.assertEqual(wrong, [], "recorded, not so in docs/json.md:\n  " + "\n  ".join(wrong))

    def test_compare_check_names_each_change(self):
        """The checker test_cli runs on compare --quick: what it flags, and what it lets pass."""
        recorded = {"backends": ["a", "b"], "types": {
            "results": ["array"], "results[]": ["object"], "results[].backend": ["string"],
            "results[].x": ["null", "number"], "results[].v": ["string"]},
            "may_vary": {"results[].v": {"allowed": ["null", "string"], "why": "test"}}}
        ok = {"results": [{"backend": "a", "x": 1, "v": None}, {"backend": "b", "x": None, "v": "1"}]}
        self.assertEqual(json_keys.compare_with_recorded(ok, recorded), [])
        changed = {"results": [{"backend": "a", "x": 1, "y": 2}, {"backend": "b", "x": 3}]}
        self.assertEqual(json_keys.compare_with_recorded(changed, recorded),
                         ["new key results[].y (number)", "key no longer written: results[].v",
                          "results[].x: types number, recorded null, number"])
        # Without backend b its nulls may go; a type never recorded may not come.
        fewer = {"results": [{"backend": "a", "x": 1, "v": "1"}]}
        self.assertEqual(json_keys.compare_with_recorded(fewer, recorded), [])
        fewer["results"][0]["x"] = "1"
        self.assertEqual(json_keys.compare_with_recorded(fewer, recorded),
                         ["results[].x: types string, recorded null, number"])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_json_schema.py PATH-TO-IOLENS")
    IOLENS = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
