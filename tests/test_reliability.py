"""Nothing lost, nothing crashes: signals, a full disk, and two invocations on one run name."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from runs import ROOT, event_files, read_summary, read_trials, run_folders, scalars, start_train, train, tree_digest

# A CNN run long enough to be stopped in its second trial.
LONG_CNN = ["--model", "cnn", "--opt", "sgd", "adam", "--epochs", "100", "--quick"]


class Running:
    """train.py in the background: stdout read by one thread (so it can be watched while it
    runs), stderr into a file."""

    def __init__(self, args, logdir):
        self.stderr_file = tempfile.TemporaryFile()
        self.process = start_train(*args, logdir=logdir, stdout=subprocess.PIPE, stderr=self.stderr_file)
        self.output = bytearray()
        self.reader = threading.Thread(
            target=lambda: [self.output.extend(c) for c in iter(lambda: self.process.stdout.read(1), b"")])
        self.reader.start()

    def wait_for_epochs(self, count):
        deadline = time.monotonic() + 300
        while self.output.count(b"val_loss") < count and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return self

    def finish(self):
        """Waits for the end; returns (exit status, stdout, stderr)."""
        self.process.wait(timeout=120)
        self.reader.join()
        self.stderr_file.seek(0)
        return self.process.returncode, self.output.decode(errors="replace"), self.stderr_file.read().decode()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stop_signal_keeps_what_finished_and_says_how_to_resume(tmp_path, stop):
    run = Running(LONG_CNN, tmp_path).wait_for_epochs(2)
    run.process.send_signal(stop)
    status, stdout, stderr = run.finish()
    assert status == 130
    assert "Interrupted" in stderr and "Traceback" not in stderr
    assert "--resume" in stderr
    (run_dir,) = run_folders(tmp_path)
    (row,) = read_trials(run_dir)
    assert (row["optimizer"], row["status"]) == ("sgd", "interrupted")
    assert read_summary(run_dir)[("cnn", "sgd")]["status"] == "interrupted"
    # The terminal table says so too, and the figures of what ran are there.
    assert any(line.split()[:2] == ["cnn", "sgd"] and line.split()[-1] == "interrupted" for line in stdout.splitlines())
    assert os.path.isfile(os.path.join(run_dir, "loss_curves.png"))
    # The event file was flushed: at least the two epochs seen are in it.
    assert len(scalars(run_dir)[(row["run"], "cnn/val_loss")]) >= 2


def test_second_ctrl_c_cannot_cut_the_report(tmp_path):
    run = Running(LONG_CNN, tmp_path).wait_for_epochs(2)
    run.process.send_signal(signal.SIGINT)
    for _ in range(5):  # impatient: Ctrl-C again while the report is being written
        time.sleep(0.2)
        run.process.send_signal(signal.SIGINT)
    status, _, stderr = run.finish()
    assert status == 130
    assert "Traceback" not in stderr
    (run_dir,) = run_folders(tmp_path)
    for name in ("trials.csv", "summary.csv", "summary.json", "loss_curves.png"):
        assert os.path.isfile(os.path.join(run_dir, name)), name


# A module that signals its own process while it is being imported, the way a Ctrl-C lands
# in `import keras`; `outer` imports `inner` and only then finishes.
_OUTER = "import inner\ncomplete = inner.complete\n"
_INNER = """import os, signal, sys, time
os.kill(os.getpid(), int(sys.argv[1]))
time.sleep(0.5)  # the handler runs here, inside the import
complete = True
"""
_MAIN = """import sys, time
from runtime import interrupts
interrupts.install()
try:
    import outer
    time.sleep(60)  # the signal is raised here, once the import is over
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted", sys.modules.get("outer") is not None and sys.modules["outer"].complete)
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stop_signal_during_an_import_is_raised_once_the_import_is_whole(tmp_path, stop):
    # Cut inside an import, a native module crashes the process (jaxlib's, as `import keras`
    # loads it) or stays half-imported; the interrupt must wait for the import to finish.
    (tmp_path / "outer.py").write_text(_OUTER)
    (tmp_path / "inner.py").write_text(_INNER)
    result = subprocess.run([sys.executable, "-c", _MAIN, str(int(stop))], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, str(tmp_path)])})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["interrupted", "True"]


def test_overwrite_refuses_a_run_in_progress(tmp_path):
    # One invocation is running in r1; another asks to replace r1: it must neither delete the
    # running one's files nor mix its own into them.
    args = [*LONG_CNN, "--opt", "sgd", "--run-name", "r1"]
    run = Running(args, tmp_path).wait_for_epochs(1)
    try:
        other = train("--model", "linear", "--opt", "adam", "--quick", "--run-name", "r1", "--overwrite",
                      logdir=tmp_path)
        assert other.returncode == 2
        assert "in use" in other.stderr and "Traceback" not in other.stderr
        assert sorted(os.listdir(tmp_path)) == ["r1"]
        assert os.listdir(tmp_path / "r1" / "cnn") == ["sgd"]
    finally:
        run.process.send_signal(signal.SIGINT)
        run.finish()
    (row,) = read_trials(tmp_path / "r1")
    assert row["optimizer"] == "sgd" and len(event_files(tmp_path / "r1" / row["run"])) == 1


def _mounted_tmpfs(size):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    target = tempfile.mkdtemp(prefix="tiny-disk-")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", target], capture_output=True)
    if mounted.returncode != 0:
        os.rmdir(target)
        return None
    return target


@pytest.mark.parametrize("size", ["24k", "200k"])
def test_full_disk_is_one_line_and_keeps_what_finished(size):
    disk = _mounted_tmpfs(size)
    if disk is None:
        pytest.skip("needs root and tmpfs to make a small file system")
    try:
        result = train("--model", "linear", "--quick", logdir=os.path.join(disk, "logs"))
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("train.py: error:")]
        assert len(errors) == 1 and "cannot write" in errors[0]
        for run_dir in run_folders(os.path.join(disk, "logs")):
            # Whatever is left is whole: a run with finished trials has them in trials.csv.
            if os.path.exists(os.path.join(run_dir, "trials.csv")):
                rows = read_trials(run_dir)
                assert rows and all(row["status"] == "ok" for row in rows)
                assert all(line.split()[:2] != ["linear", "-"] for line in result.stdout.splitlines())
                finished = {row["optimizer"] for row in rows}
                assert all(any(line.split()[:2] == ["linear", o] for line in result.stdout.splitlines())
                           for o in finished)
    finally:
        subprocess.run(["umount", disk], check=True)
        os.rmdir(disk)


def test_resume_of_a_finished_run_changes_no_result(tmp_path):
    args = ["--model", "linear", "--opt", "sgd", "rmsprop", "--quick", "--run-name", "done"]
    assert train(*args, logdir=tmp_path).returncode == 0
    trials_before = read_trials(tmp_path / "done")
    runs = [tmp_path / "done" / row["run"] for row in trials_before]
    before = [tree_digest(run) for run in runs]
    again = train(*args, "--resume", logdir=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "[1/" not in again.stdout  # nothing was rerun
    assert read_trials(tmp_path / "done") == trials_before
    assert [tree_digest(run) for run in runs] == before  # the trials' runs: untouched


def test_resume_with_other_options_is_refused(tmp_path):
    assert train("--model", "linear", "--opt", "sgd", "--quick", "--run-name", "r", logdir=tmp_path).returncode == 0
    result = train("--model", "linear", "--opt", "sgd", "--quick", "--lr", "0.5", "--run-name", "r", "--resume",
                   logdir=tmp_path)
    assert result.returncode == 2
    assert "other options" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("logdir_name, run_name, neighbour", [
    ("logs", "*", "logs/run1"), ("logs", "run[1]", "logs/run1"), ("logs", "?", "logs/a"),
    ("logs[s]", "x", "logss/x"),
])
def test_a_name_with_pattern_characters_is_a_plain_name_and_touches_nothing_else(
        tmp_path, logdir_name, run_name, neighbour):
    # A name made into a pattern (glob) matched other runs' files and deleted them.
    other = tmp_path / neighbour
    other.mkdir(parents=True)
    (other / "events.out.tfevents.1700000000.host.1.0").write_bytes(b"someone else's figures")
    (other / "run.json").write_text("{}")
    before = tree_digest(other)
    result = train("--model", "linear", "--opt", "sgd", "--quick", "--run-name", run_name,
                   logdir=tmp_path / logdir_name)
    assert result.returncode == 0, result.stderr
    assert tree_digest(other) == before
    run_dir = tmp_path / logdir_name / run_name
    assert len(event_files(run_dir)) == 1 and read_trials(run_dir)[0]["status"] == "ok"
