"""iolens import: fio's JSON output recorded in the results database.

Usage: test_store_import.py PATH-TO-IOLENS. Real fio runs (json and json+,
a second or less each, on a small file in a temporary directory) imported
into a database of the test's own: the stored figures are fio's exactly,
the bins are the job's operations, an iolens run of the same workload pairs
with the fio row, and bad files record nothing. The fio tests skip where
fio is not installed.
"""
import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

IOLENS = None
FIO = shutil.which("fio")
P = {"p50": "50.000000", "p90": "90.000000", "p99": "99.000000", "p99_9": "99.900000"}


def fio_percentile(bins, p):
    """fio's rule: the first bin whose running count reaches p% of all."""
    total, running = sum(bins.values()), 0
    for value in sorted(bins):
        running += bins[value]
        if running >= p / 100.0 * total:
            return value
    return None


class Import(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="iolens-import-")
        self.db = os.path.join(self.tmp, "results.db")
        self.data = os.path.join(self.tmp, "data")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def iolens(self, *args):
        env = dict(os.environ, IOLENS_DB=os.path.join(self.tmp, "not-this.db"))
        return subprocess.run([IOLENS, *args], capture_output=True, text=True, env=env,
                              timeout=60)

    def fio(self, name, *opts, fmt="json+"):
        """Run fio on the data file; its output's path and parsed JSON."""
        out = os.path.join(self.tmp, name + ".json")
        p = subprocess.run([FIO, "--name=" + name, "--filename=" + self.data, "--size=8m",
                            "--bs=4k", "--output-format=" + fmt, "--output=" + out, *opts],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            return out, json.load(f)

    def import_file(self, path, *opts):
        p = self.iolens("import", path, "--db", self.db, *opts)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^recorded: run \d+ in .*results\.db \(\d+ jobs? from .*\)\n$")
        return int(p.stdout.split()[2])

    def query(self, sql, *args):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        con.row_factory = sqlite3.Row
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def runs(self):
        if not os.path.exists(self.db):
            return 0
        return self.query("SELECT count(*) AS n FROM runs")[0]["n"]

    @unittest.skipUnless(FIO, "fio is not installed")
    def test_json_plus_figures_are_fios(self):
        path, doc = self.fio("j", "--rw=randread", "--iodepth=4", "--ioengine=psync")
        job = doc["jobs"][0]
        rd = job["read"]
        run_id = self.import_file(path, "--label", "fio-psync")

        run = self.query("SELECT * FROM runs WHERE id = ?", run_id)[0]
        with open(path) as f:
            self.assertEqual(run["document"], f.read())
        self.assertEqual((run["tool"], run["kind"], run["label"], run["version"], run["csv"]),
                         ("fio", "import", "fio-psync", doc["fio version"], None))
        when = datetime.datetime.fromtimestamp(doc["timestamp"], datetime.timezone.utc)
        self.assertEqual(run["time"], when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertIn("randread", run["table_text"])

        r = self.query("SELECT * FROM results WHERE run_id = ?", run_id)
        self.assertEqual(len(r), 1)
        r = r[0]
        self.assertEqual((r["workload"], r["backend"], r["variant"], r["status"]),
                         ("randread", "blocking", "", "ok"))
        self.assertEqual(r["iops"], rd["iops"])
        self.assertEqual(r["ops"], rd["total_ios"])
        self.assertEqual(r["seconds"], rd["runtime"] / 1000.0)
        self.assertEqual(r["mib_s"], rd["bw_bytes"] / 1048576.0)
        for col, key in P.items():
            self.assertEqual(r[col + "_ns"], rd["clat_ns"]["percentile"][key], col)
        self.assertEqual((r["max_ns"], r["mean_ns"]), (rd["clat_ns"]["max"], rd["clat_ns"]["mean"]))
        self.assertIsNone(r["syscalls_per_op"])
        self.assertAlmostEqual(r["cpu_per_op_ns"], (job["usr_cpu"] + job["sys_cpu"])
                               * job["job_runtime"] * 1e4 / rd["total_ios"])
        params = json.loads(r["params"])
        self.assertEqual(list(params)[:11], ["name", "rwmix", "bs", "size", "direct", "depth",
                                             "jobs", "conns", "msg", "transport", "rate"])
        # psync runs one I/O at a time whatever iodepth says, and the row says so.
        self.assertEqual((params["bs"], params["size"], params["depth"], params["direct"]),
                         (4096, 8 << 20, 1, False))
        self.assertEqual((params["ioengine"], params["latency"]), ("psync", "clat"))
        self.assertEqual(params["cache"], "cold")  # fio's invalidate, on by default

        # Each bin is a bucket with the bounds of fio's bucket it stands for.
        bins = {int(k): v for k, v in rd["clat_ns"]["bins"].items()}
        buckets = self.query("SELECT lo_ns, hi_ns, count FROM hist_buckets WHERE result_id = ?"
                             " ORDER BY lo_ns", r["id"])
        self.assertEqual(sum(b["count"] for b in buckets), rd["total_ios"])
        self.assertEqual(len(buckets), len(bins))
        for b, (value, count) in zip(buckets, sorted(bins.items())):
            width = b["hi_ns"] - b["lo_ns"] + 1
            self.assertTrue(b["lo_ns"] <= value <= b["hi_ns"] and count == b["count"], value)
            self.assertEqual(width & (width - 1), 0, value)
            self.assertTrue(value < 128 or width == 1 << (value.bit_length() - 7), value)
        self.assertTrue(buckets[0]["lo_ns"] <= rd["clat_ns"]["min"])
        self.assertTrue(buckets[-1]["hi_ns"] >= rd["clat_ns"]["max"])

        # The rule the mixed jobs use gives fio's own percentiles here.
        for key in rd["clat_ns"]["percentile"]:
            self.assertEqual(fio_percentile(bins, float(key)), rd["clat_ns"]["percentile"][key])

        p = self.iolens("export", str(run_id), "--json", "--db", self.db)
        if "unknown command" not in p.stderr:
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(path) as f:
                self.assertEqual(p.stdout, f.read())

        # The same workload from iolens pairs with fio's row: psync is blocking.
        p = self.iolens("run", "--backend", "blocking", "--workload", "randread", "--size", "8m",
                        "--bs", "4k", "--depth", "1", "--time", "50ms", "--count", "off",
                        "--file", self.data, "--db", self.db)
        self.assertEqual(p.returncode, 0, p.stderr)
        both = self.query("SELECT r.pair_hash, r.comparison_hash, run.tool FROM results AS r"
                          " JOIN runs AS run ON run.id = r.run_id ORDER BY r.id")
        self.assertEqual([b["tool"] for b in both], ["fio", "iolens"])
        self.assertEqual(both[0]["pair_hash"], both[1]["pair_hash"])
        self.assertNotEqual(both[0]["comparison_hash"], both[1]["comparison_hash"])

    @unittest.skipUnless(FIO, "fio is not installed")
    def test_mixed_job_is_one_result(self):
        path, doc = self.fio("m", "--rw=randrw", "--rwmixread=70", "--ioengine=libaio",
                             "--iodepth=4")
        job = doc["jobs"][0]
        rd, wr = job["read"], job["write"]
        r = self.query("SELECT * FROM results WHERE run_id = ?", self.import_file(path))
        self.assertEqual(len(r), 1)
        r = r[0]
        params = json.loads(r["params"])
        self.assertEqual((r["workload"], r["backend"], params["rwmix"], params["depth"]),
                         ("randrw", "libaio", 70, 4))
        self.assertEqual(r["iops"], rd["iops"] + wr["iops"])
        self.assertEqual(r["ops"], rd["total_ios"] + wr["total_ios"])
        bins = {}
        for d in (rd, wr):
            for k, v in d["clat_ns"]["bins"].items():
                bins[int(k)] = bins.get(int(k), 0) + v
        for col, key in P.items():
            self.assertEqual(r[col + "_ns"], fio_percentile(bins, float(key)), col)
        n = rd["clat_ns"]["N"] + wr["clat_ns"]["N"]
        self.assertAlmostEqual(r["mean_ns"], (rd["clat_ns"]["mean"] * rd["clat_ns"]["N"]
                                              + wr["clat_ns"]["mean"] * wr["clat_ns"]["N"]) / n)
        self.assertEqual(r["max_ns"], max(rd["clat_ns"]["max"], wr["clat_ns"]["max"]))
        total = self.query("SELECT sum(count) AS n FROM hist_buckets WHERE result_id = ?", r["id"])
        self.assertEqual(total[0]["n"], rd["total_ios"] + wr["total_ios"])

        # Without bins (plain json) a mixed job's percentiles are not known: null, not a guess.
        path, doc = self.fio("m", "--rw=randrw", "--ioengine=psync", fmt="json")
        r = self.query("SELECT * FROM results WHERE run_id = ?", self.import_file(path))[0]
        self.assertEqual([r[c + "_ns"] for c in P], [None] * 4)
        self.assertIsNotNone(r["mean_ns"])
        self.assertEqual(self.query("SELECT count(*) AS n FROM hist_buckets WHERE result_id = ?",
                                    r["id"])[0]["n"], 0)

    @unittest.skipUnless(FIO, "fio is not installed")
    def test_total_latency_when_fio_has_it(self):
        path, doc = self.fio("l", "--rw=randwrite", "--ioengine=io_uring", "--iodepth=4",
                             "--lat_percentiles=1")
        wr = doc["jobs"][0]["write"]
        r = self.query("SELECT * FROM results WHERE run_id = ?", self.import_file(path))[0]
        self.assertEqual(json.loads(r["params"])["latency"], "lat")
        self.assertEqual(r["p99_ns"], wr["lat_ns"]["percentile"]["99.000000"])
        self.assertEqual(r["backend"], "io_uring")

    @unittest.skipUnless(FIO, "fio is not installed")
    def test_notes_before_the_json_and_error_jobs(self):
        path, doc = self.fio("e", "--rw=read", "--ioengine=sync", fmt="json")
        with open(path) as f:
            text = f.read()
        doc["jobs"][0]["error"] = 5
        noted = os.path.join(self.tmp, "noted.json")
        with open(noted, "w") as f:
            f.write("note: a line fio printed first\n" + json.dumps(doc))
        run_id = self.import_file(noted)
        self.assertEqual(self.query("SELECT document FROM runs WHERE id = ?", run_id)[0][0],
                         json.dumps(doc))
        r = self.query("SELECT status, reason FROM results WHERE run_id = ?", run_id)[0]
        self.assertEqual((r["status"], r["reason"]), ("error", "fio reported error 5"))
        self.assertTrue(text.startswith("{"))

    def test_bad_files_record_nothing(self):
        def write(name, text):
            path = os.path.join(self.tmp, name)
            with open(path, "w") as f:
                f.write(text)
            return path

        trim = {"fio version": "fio-3.33", "jobs": [
            {"jobname": "ok", "job options": {"rw": "randread"}},
            {"jobname": "t1", "job options": {"rw": "randtrim"}}]}
        cases = [
            ([os.path.join(self.tmp, "missing.json")], "No such file"),
            ([self.tmp], "is a directory"),
            ([write("text.json", "hello\n")], "not JSON"),
            ([write("cut.json", '{"jobs": [')], "not JSON"),
            ([write("other.json", '{"schema": "iolens/1"}')], "no 'jobs' array"),
            ([write("empty.json", '{"jobs": []}')], "empty"),
            ([write("trim.json", json.dumps(trim))], "job 't1' has rw=randtrim"),
            ([write("g.json", json.dumps({"global options": {"rw": "trimwrite"},
                                          "jobs": [{"jobname": "g"}]}))], "rw=trimwrite"),
            ([], "no FILE"),
            (["a.json", "b.json"], "unexpected argument"),
            (["x.json", "--no-db"], "--no-db"),
            (["x.json", "--label", "123"], "--label"),
            (["x.json", "--bogus"], "unknown option"),
        ]
        for args, what in cases:
            p = self.iolens("import", *args, "--db", self.db)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertEqual(p.stdout, "", args)
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            self.assertIn(what, p.stderr)
            self.assertFalse(os.path.exists(self.db), args)
        if FIO:
            path, _ = self.fio("ok", "--rw=read", "--ioengine=psync", fmt="json")
            self.import_file(path)
            p = self.iolens("import", cases[6][0][0], "--db", self.db)
            self.assertEqual(p.returncode, 2)
            self.assertEqual(self.runs(), 1)


if __name__ == "__main__":
    IOLENS = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
