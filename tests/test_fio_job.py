"""iolens run --fio-job: fio job files as workloads.

Usage: test_fio_job.py PATH-TO-IOLENS. The job files in tests/fio/ are
written after fio's HOWTO examples (several sections, [global]
inheritance and a later [global], include, stonewall, numjobs, time_based,
bssplit, a Poisson rate, options iolens does not know); each run is a few
blocks or a tenth of a second. What is held: the workload each job ran
(the JSON's workload and result ops), the exact one-line refusals with
FILE:LINE and exit status 2, nothing created by a refused run, and, where
fio is installed, that fio itself accepts every file here.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

IOLENS = None
FIO = shutil.which("fio")
FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fio")


class FioJob(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="iolens-fio-")
        self.tmpdir = os.path.join(self.tmp, "tmpdir")
        os.mkdir(self.tmpdir)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def iolens(self, *args, cwd=FILES):
        """Run iolens in cwd (tests/fio: messages name the files as given) with a TMPDIR of our own."""
        env = dict(os.environ, TMPDIR=self.tmpdir, IOLENS_DB=os.path.join(self.tmp, "no.db"))
        return subprocess.run([IOLENS, *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120)

    def run_json(self, *args, cwd=FILES):
        """A run that must succeed: its JSON document and its stdout and stderr."""
        out = os.path.join(self.tmp, "out.json")
        p = self.iolens("run", *args, "--no-db", "--count", "off", "--json", out, cwd=cwd)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out) as f:
            return json.load(f), p

    def refused(self, args, message, cwd=FILES):
        """Exit 2, exactly one line on stderr, nothing on stdout, nothing left in TMPDIR."""
        p = self.iolens("run", *args, "--no-db", "--json", os.path.join(self.tmp, "x.json"),
                        cwd=cwd)
        self.assertEqual((p.returncode, p.stderr, p.stdout), (2, "iolens: " + message + "\n", ""))
        self.assertEqual(os.listdir(self.tmpdir), [])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.json")))

    def test_phases_inherit_globals_and_run_in_groups(self):
        doc, p = self.run_json("--fio-job", "phases.fio")
        res = doc["results"]
        got = [(r["workload"]["job_file"], r["workload"]["job_section"], r["backend"],
                r["workload"]["name"]) for r in res]
        self.assertEqual(got, [("phases.fio", "seq-read", "blocking", "read"),
                               ("phases.fio", "rand-read", "io_uring", "randread"),
                               ("phases.fio", "mixed", "libaio", "randrw")])
        w = [r["workload"] for r in res]
        # [global] (and the file it includes) under each job; the second [global] only for mixed.
        self.assertEqual([x["bs"] for x in w], [8192, 8192, 4096])
        self.assertEqual([x["size"] for x in w], [262144] * 3)
        self.assertEqual([x["seed"] for x in w], [7, 7, 7])
        self.assertEqual([x["depth"] for x in w], [1, 4, 2])
        self.assertEqual([x["jobs"] for x in w], [1, 1, 2])
        self.assertEqual(w[2]["rwmix"], 70)
        # Bounded by size: size / bs blocks for each of numjobs.
        self.assertEqual([x["ops"] for x in w], [32, 32, 128])
        for r in res:
            if r["status"] == "ok":
                self.assertEqual(r["ops"], r["workload"]["ops"], r["backend"])
        self.assertEqual(res[0]["status"], "ok", res[0]["reason"])
        # Three groups, one job each; the table says which job each block is.
        for i, name in enumerate(["seq-read", "rand-read", "mixed"]):
            self.assertIn("job phases.fio [%s] (group %d of 3)\n" % (name, i + 1), p.stdout)

    def test_backend_runs_every_job_on_each(self):
        doc, _ = self.run_json("--fio-job", "phases.fio", "--backend", "null,blocking")
        got = [(r["workload"]["job_section"], r["backend"], r["workload"]["depth"])
               for r in doc["results"]]
        self.assertEqual(got, [("seq-read", "null", 1), ("seq-read", "blocking", 1),
                               ("rand-read", "null", 4), ("rand-read", "blocking", 4),
                               ("mixed", "null", 2), ("mixed", "blocking", 2)])

    def test_group_without_stonewall(self):
        self.refused(["--fio-job", "together.fio"],
                     "together.fio:9: [reader-a] and [reader-b] run at once in fio (no stonewall "
                     "between them) and iolens runs one job at a time: put stonewall in "
                     "[reader-b], or give --fio-serial to run them one after the other")
        doc, p = self.run_json("--fio-job", "together.fio", "--fio-serial", "--backend", "null")
        self.assertEqual([(r["workload"]["job_section"], r["workload"]["name"], r["ops"])
                          for r in doc["results"]],
                         [("reader-a", "randread", 32), ("reader-b", "randread", 32)])
        # Alike as they are, two jobs are two workloads: a verdict each.
        self.assertEqual([v["result_indices"] for v in doc["verdict"]], [[0], [1]])
        self.assertIn("job together.fio [reader-b] (group 1 of 1: its 2 jobs ran one after the "
                      "other, --fio-serial; fio runs them at once)\n", p.stdout)

    def test_time_based_and_scale(self):
        doc, _ = self.run_json("--fio-job", "timed.fio", "--fio-scale", "0.01")
        r = doc["results"][0]
        w = r["workload"]
        self.assertEqual((w["name"], w["time_s"], w["ops"], w["warmup_s"], w["fsync"],
                          w["verify"]), ("randwrite", 0.1, None, 0.01, 8, True))
        # 64k scaled by 0.01 is less than a block: one block stays.
        self.assertEqual((w["size"], w["bs"]), (4096, 4096))
        self.assertEqual(r["status"], "ok", r["reason"])
        # Scaled, a size-bound job keeps at least one block per thread.
        doc, _ = self.run_json("--fio-job", "phases.fio", "--fio-scale", "0.01",
                               "--backend", "null")
        self.assertEqual([r["ops"] for r in doc["results"]], [1, 1, 2])

    def test_short_form(self):
        p = self.iolens("fio", "together.fio", "--fio-serial", "--backend", "null", "--no-db",
                        "--json", "-")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(json.loads(p.stdout)["results"]), 2)

    def test_not_supported_yet(self):
        self.refused(["--fio-job", "bssplit.fio"],
                     "bssplit.fio:7: bssplit=4k/10:64k/50:32k/40: not supported yet "
                     "(iolens runs one block size per job)")

    def test_rates_and_distributions(self):
        """rate_iops with a Poisson process, and rate (bytes/s) with random_distribution:
        fio's rates are per job, so iolens's --rate is theirs times numjobs."""
        doc, _ = self.run_json("--fio-job", "poisson.fio", "--backend", "blocking")
        r = doc["results"][0]
        self.assertEqual((r["workload"]["rate"], r["workload"]["arrivals"], r["ops"]),
                         (2000, "poisson", 64))
        self.assertEqual(r["open_loop"]["rate_target"], 2000)
        doc, _ = self.run_json("--fio-job", "skewed.fio", "--backend", "blocking")
        r = doc["results"][0]
        self.assertEqual((r["workload"]["rate"], r["workload"]["arrivals"], r["workload"]["jobs"]),
                         (2 * (4 << 20) // 4096, "constant", 2))
        self.assertEqual(r["workload"]["distribution"], "zipf:1.2")
        self.refused(["--fio-job", "skewed.fio", "--rate", "100"],
                     "--rate: the job file sets it too (rate=4m at skewed.fio:8); give it in one place")

    def test_unknown_options(self):
        self.refused(["--fio-job", "unknown.fio"],
                     "unknown.fio:4: unknown option 'thread' (docs/fio.md lists the fio options "
                     "iolens takes; --fio-lenient skips the others with a warning)")
        doc, p = self.run_json("--fio-job", "unknown.fio", "--fio-lenient")
        self.assertEqual(p.stderr, "iolens: warning: skipped options iolens does not know "
                         "(--fio-lenient): thread (unknown.fio:4), group_reporting "
                         "(unknown.fio:5)\n")
        self.assertEqual(doc["results"][0]["ops"], 32)

    def test_command_line_against_the_file(self):
        self.refused(["--fio-job", "phases.fio", "--bs", "4k"],
                     "--bs: the job file sets it too (bs=8k at phases.fio:6); give it in one place")
        self.refused(["--fio-job", "timed.fio", "--time", "1s"],
                     "--time: the job file says when its job stops (size=64k at timed.fio:5); "
                     "leave --time out (--fio-scale shortens a run)")
        self.refused(["--fio-job", "phases.fio", "--workload", "read"],
                     "--workload: not with --fio-job (each job's rw in the file is its workload; "
                     "fio's default is read)")
        # What the file leaves alone, the command line sets for every job.
        doc, _ = self.run_json("--fio-job", "unknown.fio", "--fio-lenient", "--depth", "3",
                               "--backend", "null")
        self.assertEqual(doc["results"][0]["workload"]["depth"], 3)

    def test_missing_file_or_directory(self):
        job = os.path.join(self.tmp, "where.fio")
        gone = os.path.join(self.tmp, "gone")
        for line, message in [
                ("filename=" + gone + "/data",
                 "where.fio:4: filename: '%s/data' does not exist here (iolens runs a job on an "
                 "existing file, or on a temporary one when filename is left out)" % gone),
                ("directory=" + gone,
                 "where.fio:4: directory: '%s' is not a directory here (iolens writes nowhere "
                 "else)" % gone)]:
            with self.subTest(line=line.split("=")[0]):
                with open(job, "w") as f:
                    f.write("[w]\nrw=write\nsize=64k\n%s\n" % line)
                self.refused(["--fio-job", "where.fio"], message, cwd=self.tmp)
                self.assertFalse(os.path.exists(gone))
                self.assertEqual(sorted(os.listdir(self.tmp)), ["tmpdir", "where.fio"])

    def test_directory_and_existing_filename(self):
        data = os.path.join(self.tmp, "data")
        with open(data, "wb") as f:
            f.write(b"\0" * 65536)
        with open(os.path.join(self.tmp, "here.fio"), "w") as f:
            f.write("[global]\nsize=32k\n[scratch]\nrw=randread\ndirectory=%s\n"
                    "[named]\nstonewall\nrw=write\nfilename=data\ndirectory=%s\n"
                    % (self.tmp, self.tmp))
        doc, _ = self.run_json("--fio-job", "here.fio", "--backend", "blocking", cwd=self.tmp)
        scratch, named = doc["results"]
        # The temporary file went into directory, and is gone again.
        self.assertEqual(os.path.dirname(scratch["workload"]["file"]), self.tmp)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["data", "here.fio", "out.json", "tmpdir"])
        # A job that writes to the file it names overwrites it: that is what it asked for.
        self.assertEqual((named["workload"]["file"], named["status"], named["ops"]),
                         (data, "ok", 8))
        # --file for a job that names no file: size=128k covers what the 64k file has.
        doc, _ = self.run_json("--fio-job", "unknown.fio", "--fio-lenient", "--file", data,
                               "--backend", "null")
        self.assertEqual(doc["results"][0]["ops"], 16)
        empty = os.path.join(self.tmp, "empty")
        open(empty, "w").close()
        self.refused(["--fio-job", "timed.fio", "--file", empty],
                     "--file: '%s' holds 0 bytes, less than one block of 4096 (accepts a file of "
                     "at least one block)" % empty)

    def test_reader_names_the_line_written(self):
        files = {
            "a.fio": "[j]\nsize=64k\ninclude sub/b.fio\n",
            "sub/b.fio": "; an include, found beside the file that names it\ninclude c.fio\n",
            "sub/c.fio": "bs=8k   ; a comment after the value\n# a comment line\nfoo=1\n",
            "cycle.fio": "[j]\ninclude sub/back.fio\n",
            "sub/back.fio": "include ../cycle.fio\n",
            "bare.fio": "[j]\nsize=64k\ndirect\n",
            "comments.fio": "# fio cuts a line at ; or #\n[j] ; a job\n  size = 64k # indented\n"
                            "bs=8k;4k\ntime_based ; a flag alone\nruntime=1\n",
        }
        os.mkdir(os.path.join(self.tmp, "sub"))
        for name, text in files.items():
            with open(os.path.join(self.tmp, name), "w") as f:
                f.write(text)
        self.refused(["--fio-job", "a.fio"],
                     "sub/c.fio:3: unknown option 'foo' (docs/fio.md lists the fio options "
                     "iolens takes; --fio-lenient skips the others with a warning)", cwd=self.tmp)
        self.refused(["--fio-job", "cycle.fio"],
                     "sub/back.fio:1: include: 'sub/../cycle.fio' is already being read (an "
                     "include cycle through cycle.fio)", cwd=self.tmp)
        self.refused(["--fio-job", "bare.fio"], "bare.fio:3: direct: needs a value "
                     "(direct=VALUE), as in fio", cwd=self.tmp)
        doc, _ = self.run_json("--fio-job", "comments.fio", "--fio-scale", "0.1", "--backend",
                               "null", cwd=self.tmp)
        w = doc["results"][0]["workload"]
        # 64k scaled by 0.1 is 6.4k: one 8k block.
        self.assertEqual((w["job_section"], w["size"], w["bs"], w["time_s"]), ("j", 8192, 8192, 0.1))

    @unittest.skipUnless(FIO, "fio is not installed")
    def test_fio_takes_every_file(self):
        for name in sorted(os.listdir(FILES)):
            if name == "seed.fio":  # an include, no job of its own
                continue
            with self.subTest(name=name):
                p = subprocess.run([FIO, "--parse-only", name], cwd=FILES, capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: test_fio_job.py PATH-TO-IOLENS")
    IOLENS = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
