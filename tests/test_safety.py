"""The user's machine is kept as it was: outputs, bad input and signals.

Usage: test_safety.py PATH-TO-IOLENS. Each test runs the CLI in its own empty
directory with its own TMPDIR and checks that nothing is left behind but what
the command was asked to write. The rules under test (docs/cli.md, "What
iolens writes, and what it never touches"):
  - a regular output file the user named is replaced atomically, keeping its
    mode and owner; a FIFO or character device is written into; a block
    device, a directory or an empty path is refused before the run (exit 2);
  - each output is finished or discarded on its own;
  - compare and demo never replace earlier results;
  - a backend that never ran is "not run", and only an ok result has figures;
  - every option a workload cannot use is a usage error naming it.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import unittest

IOLENS = None
QUICK = ["--backend", "null", "--size", "1m", "--ops", "1000"]


def load_json(path):
    with open(path) as f:
        return json.load(f)


def can_mount():
    if os.geteuid() != 0:
        return False
    d = tempfile.mkdtemp(prefix="iolens-mnt-probe-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d])
        return ok
    finally:
        os.rmdir(d)


MOUNT = can_mount()


class Safety(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="iolens-safety-")
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)
        self.env = dict(os.environ, TMPDIR=self.tmp)
        self.mounts = []

    def tearDown(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m])
        left = os.listdir(self.tmp)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.assertEqual(left, [], "files left behind in TMPDIR")

    def p(self, name):
        return os.path.join(self.dir, name)

    def run_cli(self, *args, timeout=120):
        return subprocess.run([IOLENS, *args], env=self.env, cwd=self.dir, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def listing(self):
        return sorted(n for n in os.listdir(self.dir) if n != "tmp")

    def assert_usage(self, args, option):
        before = self.listing()
        p = self.run_cli(*args)
        self.assertEqual(p.returncode, 2, f"{args}: {p.stderr}")
        lines = p.stderr.splitlines()
        self.assertEqual(len(lines), 1, f"{args}: {p.stderr!r}")
        self.assertTrue(lines[0].startswith("iolens: "), lines[0])
        self.assertIn(option, lines[0], args)
        self.assertEqual(p.stdout, "", args)
        self.assertEqual(self.listing(), before, f"{args} left files")
        return lines[0]

    def small_fs(self, name, size):
        """A tmpfs of SIZE, already full but for a few bytes."""
        if not MOUNT:
            self.skipTest("mounting a tmpfs is not allowed here")
        d = self.p(name)
        os.mkdir(d)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", d], check=True)
        self.mounts.append(d)
        fd = os.open(os.path.join(d, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while os.write(fd, b"\0" * 512):
                pass
        except OSError:
            pass
        os.close(fd)
        return d

    # ---- 2: outputs replace only what they may ----

    @unittest.skipUnless(os.geteuid() == 0, "mknod needs root")
    def test_device_and_fifo_outputs_are_written_into(self):
        node = self.p("node")
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
        fifo = self.p("fifo")
        os.mkfifo(fifo)
        got = []

        def read_fifo():
            with open(fifo) as fh:
                got.append(fh.read())

        reader = threading.Thread(target=read_fifo)
        reader.start()
        p = self.run_cli("run", *QUICK, "--json", node, "--csv", fifo)
        reader.join(30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(stat.S_ISCHR(os.stat(node).st_mode), "the device node was replaced")
        self.assertTrue(stat.S_ISFIFO(os.stat(fifo).st_mode), "the FIFO was replaced")
        self.assertTrue(got and got[0].startswith("backend,"), got)
        self.assertEqual(self.listing(), ["fifo", "node"])

    @unittest.skipUnless(os.geteuid() == 0, "mknod needs root")
    def test_block_device_output_is_refused(self):
        blk = self.p("blk")
        os.mknod(blk, stat.S_IFBLK | 0o600, os.makedev(7, 200))
        self.assert_usage(["run", *QUICK, "--json", blk], "--json")
        self.assertTrue(stat.S_ISBLK(os.stat(blk).st_mode))

    def test_replaced_output_keeps_mode_and_owner(self):
        f = self.p("out.json")
        with open(f, "w") as fh:
            fh.write("old")
        os.chmod(f, 0o640)
        owner = (1234, 1234) if os.geteuid() == 0 else (os.getuid(), os.getgid())
        os.chown(f, *owner)
        link = self.p("link.csv")
        with open(self.p("real.csv"), "w") as fh:
            fh.write("old")
        os.symlink("real.csv", link)
        p = self.run_cli("run", *QUICK, "--json", f, "--csv", link)
        self.assertEqual(p.returncode, 0, p.stderr)
        st = os.stat(f)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual((st.st_uid, st.st_gid), owner)
        self.assertEqual(load_json(f)["schema"], "iolens/1")
        self.assertTrue(os.path.islink(link), "the symbolic link was replaced by a file")
        with open(self.p("real.csv")) as fh:
            self.assertTrue(fh.read().startswith("backend,"))
        self.assertEqual(self.listing(), ["link.csv", "out.json", "real.csv"])

    def test_compare_and_demo_never_replace_results(self):
        for cmd in (["compare", "--quick"], ["demo", "--quick", "--lesson", "1"]):
            d = self.p("res")
            os.mkdir(d)
            with open(os.path.join(d, "results.json"), "w") as fh:
                fh.write("keep")
            self.assert_usage([*cmd, "--out", d], "--out")
            self.assertEqual(os.listdir(d), ["results.json"])
            with open(os.path.join(d, "results.json")) as fh:
                self.assertEqual(fh.read(), "keep")
            shutil.rmtree(d)

    # ---- 5, 6: a signal leaves valid, marked output ----

    def sigint_after(self, args, after, within=30):
        p = subprocess.Popen([IOLENS, *args], env=self.env, cwd=self.dir,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        try:
            p.wait(after)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=within)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail(f"{args} did not end within {within} s of SIGINT")
        return p.returncode, out, err

    def assert_not_run(self, r):
        self.assertEqual(r["status"], "not run", r)
        self.assertTrue(r["reason"])
        for key in ("ops", "bytes", "seconds", "iops", "mib_s", "threads"):
            self.assertIsNone(r[key], key)
        self.assertIsNone(r["latency_ns"]["p50"])
        self.assertIsNone(r["cpu"]["user_s"])
        self.assertIsNone(r["ctx_switches"]["voluntary"])

    def test_backends_a_signal_kept_from_running_are_not_run(self):
        rc, _, err = self.sigint_after(["run", "--backend", "null,blocking,poll", "--size", "1m",
                                        "--time", "60s", "--json", "r.json", "--csv", "r.csv"],
                                       1.5)
        self.assertEqual(rc, 130, err)
        doc = load_json(self.p("r.json"))
        self.assertTrue(doc["meta"]["interrupted"])
        first, *rest = doc["results"]
        self.assertEqual(first["status"], "ok")
        self.assertTrue(first["interrupted"])
        self.assertGreater(first["ops"], 0)
        self.assertEqual(len(rest), 2)
        for r in rest:
            self.assert_not_run(r)
        with open(self.p("r.csv")) as fh:
            rows = fh.read().splitlines()
        self.assertEqual(len(rows), 4)
        self.assertIn(",not run,", rows[2])

    def test_sigint_while_the_file_is_filled(self):
        rc, out, err = self.sigint_after(["run", "--backend", "null,blocking", "--size", "8g",
                                          "--time", "1s", "--json", "r.json", "--csv", "r.csv"],
                                         0.5)
        self.assertEqual(rc, 130, err)
        self.assertIn("interrupted while preparing the file", err)
        doc = load_json(self.p("r.json"))
        self.assertTrue(doc["meta"]["interrupted"])
        self.assertEqual([r["backend"] for r in doc["results"]], ["null", "blocking"])
        for r in doc["results"]:
            self.assert_not_run(r)
        self.assertIn("not run", out)
        self.assertEqual(self.listing(), ["r.csv", "r.json"])

    # ---- 7, 8, 9: each output on its own, checked before the run ----

    @unittest.skipUnless(os.geteuid() == 0, "mknod needs root")
    def test_a_failed_json_does_not_cost_the_csv(self):
        # A node of our own like /dev/full: a regression must not replace the machine's.
        full = self.p("full")
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        p = self.run_cli("run", *QUICK, "--json", full, "--csv", "r.csv")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--json", p.stderr)
        self.assertIn("No space left on device", p.stderr)
        self.assertTrue(stat.S_ISCHR(os.stat(full).st_mode), "the device node was replaced")
        with open(self.p("r.csv")) as fh:
            self.assertEqual(len(fh.read().splitlines()), 2)
        self.assertEqual(self.listing(), ["full", "r.csv"])

    def test_full_disk_leaves_no_partial_file(self):
        full = self.small_fs("full", "64k")
        p = self.run_cli("run", *QUICK, "--json", os.path.join(full, "r.json"), "--csv", "r.csv")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--json: writing", p.stderr)
        self.assertEqual(os.listdir(full), ["filler"])
        self.assertTrue(os.path.getsize(self.p("r.csv")) > 0)

    def test_compare_on_a_full_disk_claims_no_results(self):
        full = self.small_fs("full", "64k")
        out = os.path.join(full, "cmp")
        rc, stdout, err = self.sigint_after(["compare", "--quick", "--out", out], 0.3)
        self.assertIn(rc, (1, 130), err)
        self.assertIn("--out: writing", err)
        self.assertNotIn("results.json", stdout)
        self.assertEqual(os.listdir(full), ["filler"])  # not even the directory

    def test_outputs_are_checked_before_the_run(self):
        os.mkdir(self.p("adir"))
        with open(self.p("afile"), "w") as fh:
            fh.write("keep")
        t = ["run", "--backend", "null", "--time", "10s"]
        self.assert_usage([*t, "--json", "adir"], "--json")
        self.assert_usage([*t, "--csv", "adir/"], "--csv")
        self.assert_usage([*t, "--json", ""], "--json")
        self.assert_usage([*t, "--json", "x", "--csv", "./x"], "--json/--csv")
        self.assert_usage([*t, "--json", "-", "--csv", "/dev/stdout"], "--json/--csv")
        self.assert_usage([*t, "--json", "no-such-dir/x.json"], "--json")
        self.assert_usage(["compare", "--out", ""], "--out")
        self.assert_usage(["compare", "--out", "afile"], "--out")
        self.assert_usage(["demo", "--out", "afile"], "--out")
        with open(self.p("afile")) as fh:
            self.assertEqual(fh.read(), "keep")

    # ---- 11, 12: every option checked against the workload, at parse time ----

    def test_options_a_workload_cannot_use(self):
        t = ["--time", "1s"]
        cases = [
            (["--workload", "serve", "--rate", "1000"], "--rate"),
            (["--workload", "randread", "--think", "5"], "--think"),
            (["--workload", "read", "--conns", "4"], "--conns"),
            (["--workload", "randread", "--connect", "127.0.0.1:9"], "--connect"),
            (["--workload", "randread", "--listen", "127.0.0.1:0"], "--listen"),
            (["--workload", "write", "--msg", "1k"], "--msg"),
            (["--workload", "randread", "--transport", "unix"], "--transport"),
            (["--workload", "randread", "--peer-cpu", "0"], "--peer-cpu"),
            (["--workload", "echo", "--bs", "4k"], "--bs"),
            (["--workload", "echo", "--size", "1m"], "--size"),
            (["--workload", "echo", "--cache", "cold"], "--cache"),
            (["--workload", "stream", "--rate", "100"], "--rate"),
            (["--workload", "stream", "--think", "5"], "--think"),
            (["--workload", "serve", "--delay", "5"], "--delay"),
            (["--workload", "read", "--rwmix", "70"], "--rwmix"),
            (["--workload", "randread", "--overwrite"], "--overwrite"),
            (["--workload", "echo", "--backend", "io_uring:fixed-bufs"], "io_uring:fixed-bufs"),
            (["--workload", "randread", "--backend", "io_uring:ms-recv"], "io_uring:ms-recv"),
            (["--workload", "echo", "--backend", "io_uring:ms-accept"], "io_uring:ms-accept"),
            (["--workload", "randread", "--backend", "epoll:et"], "epoll:et"),
            (["--workload", "echo", "--backend", "poll:nowait"], "poll:nowait"),
        ]
        for extra, opt in cases:
            with self.subTest(extra=extra):
                self.assert_usage(["run", *extra, *t], opt)

    def test_small_ones(self):
        t = ["run", "--backend", "null", "--time", "1s"]
        self.assertIn("unknown option '-x'", self.assert_usage([*t, "-x"], "-x"))
        self.assertIn("takes no value", self.assert_usage([*t, "--verify=1"], "--verify"))
        for cmd in (["list", "extra"], ["doctor", "extra"], ["--version", "extra"]):
            self.assert_usage(cmd, "extra")
        self.assert_usage(["run", "--backend", "null", "--time", "1s\nrm -rf"], "--time")
        self.assert_usage(["run", "--backend", "null", "--time", "0x10"], "--time")
        self.assert_usage(["run", "--backend", "null", "--time", "1e3"], "--time")
        self.assert_usage(["run", "--backend", "null", "--ops", "1t"], "--ops")
        self.assert_usage(["run", "--workload", "echo", "--rate", "0.001", "--time", "1s"],
                          "--rate")
        self.assert_usage(["run", "--workload", "echo", "--rate", "0x10", "--time", "1s"],
                          "--rate")
        self.assertIn("\\n", self.assert_usage(["run\n"], "unknown command"))
        self.assert_usage([*t, "--help=x"], "--help takes no value")
        for spec in ("null:", "io_uring:+", "poll:nowait+", "poll:nowait+nowait"):
            self.assert_usage(["run", "--backend", spec, "--time", "1s"], spec)

    def test_a_window_with_nothing_completed_is_an_error(self):
        """A peer that accepts and never answers: no figures, an error, exit 1."""
        import socket
        path = self.p("silent.sock")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(64)
        try:
            p = self.run_cli("run", "--workload", "echo", "--transport", "unix", "--connect", path,
                             "--time", "50ms", "--backend", "poll,epoll", "--json", "r.json",
                             timeout=60)
        finally:
            srv.close()
        self.assertEqual(p.returncode, 1, p.stderr)
        for r in load_json(self.p("r.json"))["results"]:
            self.assertEqual(r["status"], "error", r["backend"])
            self.assertIn("no request completed", r["reason"])
            self.assertIsNone(r["ops"])
            self.assertIsNone(r["iops"])

    def test_write_on_a_read_only_filesystem_is_a_usage_error(self):
        if not MOUNT:
            self.skipTest("mounting a tmpfs is not allowed here")
        ro = self.p("ro")
        os.mkdir(ro)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", ro], check=True)
        self.mounts.append(ro)
        data = os.path.join(ro, "data")
        with open(data, "wb") as fh:
            fh.write(b"\1" * 65536)
        subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
        self.assert_usage(["run", "--backend", "null", "--file", data, "--workload", "randwrite",
                           "--overwrite", "--size", "64k", "--ops", "10"], "--file")


if __name__ == "__main__":
    IOLENS = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
