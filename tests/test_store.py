"""The results database and the commands that read it, end to end.

Usage: test_store.py PATH-TO-IOLENS. Each test works in its own temporary
directory with its own database file (--db), never the user's.

What is asserted: a run is recorded with the figures, buckets and syscalls
its JSON has; export gives the JSON and CSV back byte for byte; show prints
the table run printed; two writers at once both land, and a writer waits for
a lock held elsewhere; a read-only or full filesystem costs a one-line
warning and nothing else; a corrupt, foreign or newer file is refused and
left as it was; a v1 file is migrated; history filters; diff's statistics,
verdicts, exit codes and formats on results whose figures are fixed here.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

IOLENS = None
HERE = os.path.dirname(os.path.abspath(__file__))
# A short disk run that needs nothing: the null backend, a fixed op count, no counting pass.
QUICK = ["--workload", "randread", "--size", "1m", "--ops", "2000", "--count", "off"]


def run(*args, check=None, env=None):
    p = subprocess.run([IOLENS, *args], capture_output=True, text=True, timeout=120, env=env)
    if check is not None and p.returncode != check:
        raise AssertionError(f"iolens {' '.join(args)}: exit {p.returncode}, wanted {check}\n"
                             f"stdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
    return p


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def query(db, sql, *params):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


class Store(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="iolens-store-")
        self.db = os.path.join(self.dir, "results.db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_run_recorded_as_its_json_says(self):
        j, c = self.path("r.json"), self.path("r.csv")
        p = run("run", "--backend", "null,blocking", *QUICK, "--repeat", "2", "--label", "first",
                "--json", j, "--csv", c, "--db", self.db, check=0)
        self.assertIn(f"recorded: run 1 in {self.db}", p.stdout)
        doc = json.loads(read(j))
        rows = query(self.db, "SELECT idx, spec, iops, p50_ns, p99_ns, cpu_per_op_ns, status, "
                     "model_measured, id FROM results ORDER BY idx")
        self.assertEqual(len(rows), 4)
        for (idx, spec, iops, p50, p99, cpu, status, model, rid), r in zip(rows, doc["results"]):
            self.assertEqual(spec, r["backend"])
            self.assertEqual(iops, r["iops"])
            self.assertEqual(p50, r["latency_ns"]["p50"])
            self.assertEqual(p99, r["latency_ns"]["p99"])
            self.assertEqual(cpu, r["cpu"]["per_op_ns"])
            self.assertEqual(status, r["status"])
            self.assertEqual(model, r["model"]["measured"])
            buckets = query(self.db, "SELECT lo_ns, hi_ns, count FROM hist_buckets "
                            "WHERE result_id = ? ORDER BY lo_ns", rid)
            self.assertEqual([list(b) for b in buckets], r["histogram"]["buckets"])
        # The repeats of one spec share a comparison hash; the two specs do not.
        hashes = query(self.db, "SELECT spec, count(DISTINCT comparison_hash), count(*) "
                       "FROM results GROUP BY spec ORDER BY spec")
        self.assertEqual(hashes, [("blocking", 1, 2), ("null", 1, 2)])
        # export: the same bytes; show: the table run printed.
        self.assertEqual(run("export", "first", "--json", "--db", self.db, check=0).stdout,
                         read(j, "r"))
        self.assertEqual(run("export", "1", "--csv", "--db", self.db, check=0).stdout,
                         read(c, "r"))
        shown = run("show", "first", "--db", self.db, check=0).stdout
        table = p.stdout[:p.stdout.index("recorded:")]
        self.assertTrue(shown.endswith(table), shown)
        self.assertIn("label first", shown.splitlines()[0])

    def test_syscalls_by_name_recorded(self):
        j = self.path("s.json")
        run("run", "--backend", "blocking", "--workload", "randread", "--size", "1m", "--ops",
            "2000", "--json", j, "--db", self.db, check=0)
        by_name = json.loads(read(j))["results"][0]["syscalls"]["by_name"]
        if by_name.get("pread64") is None:
            self.skipTest("syscalls were not counted here (no tracefs)")
        stored = dict(query(self.db, "SELECT name, count FROM syscalls"))
        self.assertEqual(stored, {k: v for k, v in by_name.items() if v is not None})

    def test_no_db_and_bad_options_record_nothing(self):
        run("run", "--backend", "null", *QUICK, "--no-db", check=0,
            env=dict(os.environ, IOLENS_DB=self.db))
        self.assertFalse(os.path.exists(self.db))
        for bad, word in ((["--label", ""], "--label"), (["--label", "123"], "--label"),
                          (["--no-db", "--db", self.db], "--no-db"), (["--db", ""], "--db")):
            p = run("run", "--backend", "null", *QUICK, *bad, "--db", self.path("x.db"))
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            self.assertIn(word, p.stderr)
        self.assertEqual(sorted(os.listdir(self.dir)), [])

    def test_two_writers_at_once_both_land(self):
        procs = [subprocess.Popen([IOLENS, "run", "--backend", "null", *QUICK, "--label", f"w{i}",
                                   "--db", self.db], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for i in range(6)]
        for pr in procs:
            out, err = pr.communicate(timeout=120)
            self.assertEqual(pr.returncode, 0, err)
            self.assertIn("recorded: run", out, err)  # err: why a writer did not record
        self.assertEqual(query(self.db, "SELECT count(*) FROM runs")[0][0], 6)
        self.assertEqual(query(self.db, "SELECT count(DISTINCT id) FROM hosts")[0][0], 1)

    def test_writer_waits_for_a_held_lock(self):
        run("run", "--backend", "null", *QUICK, "--db", self.db, check=0)
        con = sqlite3.connect(self.db, isolation_level=None, check_same_thread=False)
        con.execute("BEGIN IMMEDIATE")
        released = []

        def release():
            time.sleep(1.0)
            released.append(time.monotonic())
            con.execute("COMMIT")

        t = threading.Thread(target=release)
        t.start()
        p = run("run", "--backend", "null", *QUICK, "--db", self.db)
        done = time.monotonic()
        t.join()
        con.close()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("recorded: run 2", p.stdout)
        self.assertGreaterEqual(done, released[0])  # it waited, it did not give up

    def test_corrupt_foreign_and_newer_files_refused_untouched(self):
        garbage = self.path("garbage.db")
        with open(garbage, "wb") as f:
            f.write(b"this is not a database\n" * 100)
        foreign = self.path("foreign.db")
        sqlite3.connect(foreign).executescript("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        newer = self.path("newer.db")
        sqlite3.connect(newer).executescript("PRAGMA application_id = 1768909934;"
                                             "PRAGMA user_version = 99; CREATE TABLE runs (id);")
        broken = self.path("broken.db")
        run("run", "--backend", "null", *QUICK, "--db", broken, check=0)
        sqlite3.connect(broken).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        data = bytearray(read(broken))
        data[100:4000] = b"\xa5" * 3900  # page 1 past the header: the schema's own b-tree
        with open(broken, "wb") as f:
            f.write(data)
        for db, says in ((garbage, "not a SQLite database"), (foreign, "not an iolens results database"),
                         (newer, "schema version 99 is newer"), (broken, "corrupt")):
            before = read(db)
            j = self.path("out.json")
            p = run("run", "--backend", "null", *QUICK, "--json", j, "--db", db)
            self.assertEqual(p.returncode, 0, p.stderr)  # the run is as it would have been
            self.assertTrue(os.path.exists(j))
            os.unlink(j)
            lines = p.stderr.splitlines()
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertIn(db, lines[0])
            self.assertIn(says, lines[0])
            self.assertIn("not recorded", lines[0])
            self.assertEqual(read(db), before, db)
            h = run("history", "--db", db)
            self.assertEqual(h.returncode, 1)
            self.assertIn(says, h.stderr)

    def test_v1_file_migrated(self):
        con = sqlite3.connect(self.db)
        con.executescript(read(os.path.join(HERE, "store", "v1.sql"), "r"))
        con.close()
        self.assertEqual(query(self.db, "PRAGMA user_version")[0][0], 1)
        run("run", "--backend", "null", *QUICK, "--db", self.db, check=0)
        self.assertEqual(query(self.db, "PRAGMA user_version")[0][0], 3)
        self.assertEqual(query(self.db, "SELECT count(*) FROM fleet_ranks"), [(0,)])  # v3's table
        self.assertEqual(query(self.db, "SELECT run_id, spec FROM results WHERE run_id = 1 "
                               "ORDER BY idx"), [(1, "null"), (1, "blocking")])
        h = run("history", "--label", "v1-run", "--db", self.db, check=0).stdout
        self.assertIn("v1-run", h)
        # The old run's null result pairs with the new one: same parameters, same backend.
        self.assertEqual(query(self.db, "SELECT count(DISTINCT pair_hash) FROM results "
                               "WHERE spec = 'null'")[0][0], 1)

    def mounted(self, opts):
        mnt = self.path("mnt")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", mnt],
                          capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here (needs root)")
        self.addCleanup(lambda: subprocess.run(["umount", "-l", mnt]))
        return mnt

    def test_read_only_filesystem_warns_and_runs(self):
        mnt = self.mounted("ro,size=1m")
        j = self.path("ro.json")
        p = run("run", "--backend", "null", *QUICK, "--json", j, "--db", os.path.join(mnt, "r.db"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn("not recorded", p.stderr)
        self.assertEqual(json.loads(read(j))["results"][0]["status"], "ok")

    def test_full_filesystem_warns_and_runs(self):
        mnt = self.mounted("size=256k")
        db = os.path.join(mnt, "r.db")
        run("run", "--backend", "null", *QUICK, "--db", db, check=0)  # the file exists
        before = query(db, "SELECT count(*) FROM runs")[0][0]
        try:
            with open(os.path.join(mnt, "filler"), "wb") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError:
            pass
        j = self.path("full.json")
        p = run("run", "--backend", "null,blocking", *QUICK, "--repeat", "3", "--json", j,
                "--db", db)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn("not recorded", p.stderr)
        self.assertTrue(os.path.exists(j))
        os.unlink(os.path.join(mnt, "filler"))
        self.assertEqual(query(db, "SELECT count(*) FROM runs")[0][0], before)

    def test_history_filters(self):
        run("run", "--backend", "null", *QUICK, "--label", 'a "q"\\', "--db", self.db, check=0)
        run("run", "--backend", "blocking", *QUICK, "--label", "b", "--db", self.db, check=0)
        listed = json.loads(run("history", "--json", "--db", self.db, check=0).stdout)
        self.assertEqual([(r["id"], r["label"], r["backends"]) for r in listed],
                         [(1, 'a "q"\\', "null"), (2, "b", "blocking")])
        only = json.loads(run("history", "--json", "--backend", "blocking", "--db", self.db,
                              check=0).stdout)
        self.assertEqual([r["id"] for r in only], [2])
        self.assertEqual(json.loads(run("history", "--json", "--since", "2999-01-01", "--db",
                                        self.db, check=0).stdout), [])
        self.assertEqual(len(json.loads(run("history", "--json", "--since", "1h", "--db",
                                            self.db, check=0).stdout)), 2)
        p = run("history", "--since", "yesterday", "--db", self.db)
        self.assertEqual((p.returncode, len(p.stderr.splitlines())), (2, 1))
        self.assertIn("--since", p.stderr)
        p = run("show", "nosuchlabel", "--db", self.db)
        self.assertEqual(p.returncode, 2)
        self.assertIn("nosuchlabel", p.stderr)


class Diff(unittest.TestCase):
    """diff on JSON files whose IOPS and latencies are set here: the verdicts are known."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="iolens-diff-")
        cls.template = os.path.join(cls.dir, "t.json")
        run("run", "--backend", "null,blocking", *QUICK, "--repeat", "5", "--json", cls.template,
            "--no-db", check=0)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def doc(self, name, iops, spec_variant=None, blocking_iops=None, keep=None):
        """A copy of the template with null's IOPS set to iops[i] for repeat i (p50 = 1e9/iops)."""
        doc = json.loads(read(self.template))
        nulls = [r for r in doc["results"] if r["backend"] == "null"]
        blocks = [r for r in doc["results"] if r["backend"] == "blocking"]
        for r, v in zip(nulls, iops):
            r["iops"] = v
            r["latency_ns"]["p50"] = round(1e9 / v)
        for r, v in zip(blocks, blocking_iops or [1000] * 5):
            r["iops"] = v
        if spec_variant:
            for r in nulls:
                r["variant"] = spec_variant
        if keep is not None:
            doc["results"] = nulls[:keep] + blocks[:keep]
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def diff(self, *args):
        return run("diff", *args, "--db", os.path.join(self.dir, "none.db"))

    def rows(self, p):
        self.assertEqual(p.returncode in (0, 1), True, p.stderr)
        return {r["base_spec"]: r for r in json.loads(p.stdout)["rows"]}

    def test_slower_is_found_with_its_exact_p_value(self):
        base = self.doc("b.json", [100, 101, 102, 103, 104])
        new = self.doc("n.json", [80, 81, 82, 83, 84])
        rows = self.rows(self.diff(base, new, "--json"))
        null = rows["null"]
        self.assertEqual(null["verdict"], "slower")
        # 5 against 5, fully separated: p = 2 / C(10, 5) = 2/252.
        self.assertAlmostEqual(null["figures"]["iops"]["p"], 2 / 252, places=6)
        self.assertAlmostEqual(null["figures"]["iops"]["change"], 82 / 102 - 1, places=5)
        self.assertEqual(null["figures"]["iops"]["base"], 102)
        self.assertEqual(rows["blocking"]["verdict"], "no significant change")
        self.assertTrue(null["same_comparison"])

    def test_faster_and_unchanged(self):
        base = self.doc("b2.json", [100, 102, 104, 106, 108])
        rows = self.rows(self.diff(base, self.doc("f.json", [120, 121, 122, 123, 124]), "--json"))
        self.assertEqual(rows["null"]["verdict"], "faster")
        rows = self.rows(self.diff(base, self.doc("s.json", [101, 103, 105, 107, 109]), "--json"))
        self.assertEqual(rows["null"]["verdict"], "no significant change")
        self.assertGreater(rows["null"]["figures"]["iops"]["p"], 0.05)

    def test_fail_if_slower_exit_codes(self):
        base = self.doc("b3.json", [100, 101, 102, 103, 104])
        new = self.doc("n3.json", [80, 81, 82, 83, 84])  # about 20% slower, significant
        self.assertEqual(self.diff(base, new, "--fail-if-slower", "10").returncode, 1)
        self.assertEqual(self.diff(base, new, "--fail-if-slower", "30").returncode, 0)
        self.assertEqual(self.diff(base, new).returncode, 0)
        # Not significant at a stricter alpha: no regression whatever the size.
        self.assertEqual(self.diff(base, new, "--alpha", "0.001", "--fail-if-slower", "10")
                         .returncode, 0)

    def test_options_differ_pairs_and_says_so_strict_unpairs(self):
        base = self.doc("b4.json", [100] * 5)
        new = self.doc("o.json", [100] * 5, spec_variant="imaginary")
        p = self.diff(base, new)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("backend null -> null:imaginary", p.stdout)
        pre = p.stdout.index("parameter differences:")
        self.assertLess(pre, p.stdout.index("verdict"))
        rows = json.loads(self.diff(base, new, "--json", "--strict").stdout)["rows"]
        self.assertIn("only in base", [r["verdict"] for r in rows])
        self.assertIn("only in new", [r["verdict"] for r in rows])

    def test_variants_are_never_pooled(self):
        """Two variants on both sides: two rows, each its own repeats, never one of five."""
        docs = []
        for name in ("v1.json", "v2.json"):
            doc = json.loads(read(self.doc(name, [100] * 5)))
            for r in [r for r in doc["results"] if r["backend"] == "null"][3:]:
                r["variant"] = "other"
            with open(os.path.join(self.dir, name), "w") as f:
                json.dump(doc, f)
            docs.append(os.path.join(self.dir, name))
        rows = json.loads(self.diff(*docs, "--json").stdout)["rows"]
        self.assertEqual(sorted((r["base_spec"], r["n_base"], r["n_new"]) for r in rows),
                         [("blocking", 5, 5), ("null", 3, 3), ("null:other", 2, 2)])

    def test_interrupted_runs_left_out(self):
        base = self.doc("b8.json", [100] * 5)
        doc = json.loads(read(self.doc("i8.json", [50] * 5)))
        doc["meta"]["interrupted"] = True
        stopped = os.path.join(self.dir, "i8.json")
        with open(stopped, "w") as f:
            json.dump(doc, f)
        p = self.diff(base, stopped)
        self.assertEqual(p.returncode, 2, p.stdout)
        self.assertIn("pairs with", p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1)

    def test_few_repeats_warn(self):
        base = self.doc("b5.json", [100, 101, 102], keep=3)
        new = self.doc("n5.json", [80, 81, 82], keep=3)
        p = self.diff(base, new)
        self.assertIn("only 3 and 3 repeats: the smallest p-value they can give is 0.100", p.stdout)
        one = self.doc("n6.json", [80], keep=1)
        rows = self.rows(self.diff(base, one, "--json"))
        self.assertTrue(rows["null"]["verdict"].startswith("not tested"))
        self.assertIsNone(rows["null"]["figures"]["iops"]["p"])

    def test_markdown_and_bad_input(self):
        base = self.doc("b7.json", [100] * 5)
        md = self.diff(base, base, "--markdown").stdout
        self.assertIn("| workload | backend |", md)
        self.assertIn("|---|", md)
        for args, word in (([base], "needs BASE and NEW"), ([base, "nolabel"], "nolabel"),
                           ([base, base, "--alpha", "2"], "--alpha"),
                           ([base, base, "--fail-if-slower", "x"], "--fail-if-slower"),
                           ([base, base, "--json", "--markdown"], "--markdown")):
            p = self.diff(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            self.assertIn(word, p.stderr)
        notjson = os.path.join(self.dir, "not.json")
        with open(notjson, "w") as f:
            f.write("{\"fio version\": \"fio-3.33\", \"jobs\": []}")
        p = self.diff(base, notjson)
        self.assertEqual(p.returncode, 2)
        self.assertIn("iolens import", p.stderr)

    def test_store_labels_as_sides(self):
        db = os.path.join(self.dir, "labels.db")
        for label in ("A", "B"):
            run("run", "--backend", "null", *QUICK, "--repeat", "2", "--label", label, "--db", db,
                check=0)
        p = run("diff", "A", "B", "--json", "--db", db, check=0)
        out = json.loads(p.stdout)
        self.assertEqual((out["base"]["results"], out["new"]["results"]), (2, 2))
        self.assertEqual(out["rows"][0]["n_base"], 2)


if __name__ == "__main__":
    IOLENS = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
