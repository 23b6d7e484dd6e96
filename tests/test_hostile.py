"""Hostile cases, one class at a time: whatever a user gives or does, nothing of anyone's is
deleted, every output is whole or absent, every message and printed command is true, and a
failure is one line with its documented exit status."""

import contextlib
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

import numpy as np
import pytest

from runs import (ROOT, event_files, one_line_error, read_summary, read_trials, run_folders, scalars, start_train,
                  train, tree_digest)

LINEAR = ["--model", "linear", "--opt", "sgd", "--quick"]


def _tmpfs(size):
    """A small file system of `size` (a full disk on demand), or None where it cannot be made."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    target = tempfile.mkdtemp(prefix="tiny-disk-")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", target], capture_output=True).returncode:
        os.rmdir(target)
        return None
    return target


@pytest.fixture
def tiny_disk(request):
    disk = _tmpfs(request.param)
    if disk is None:
        pytest.skip("needs root and tmpfs to make a small file system")
    yield disk
    subprocess.run(["umount", disk], check=True)
    os.rmdir(disk)


def _fill(disk, leave=0):
    """Fills `disk` up to `leave` bytes free."""
    free = shutil.disk_usage(disk).free - leave
    with open(os.path.join(disk, "filler"), "wb") as f:
        f.write(b"\0" * max(free, 0))


# ---- a writer's error reaches the caller; a file is whole or absent ------------------------

@pytest.mark.parametrize("tiny_disk", ["64k"], indirect=True)
@pytest.mark.parametrize("atomic", [False, True], ids=["trial-events", "figure-events"])
def test_an_event_file_that_cannot_be_written_raises_and_an_atomic_one_leaves_nothing(tiny_disk, atomic):
    # TensorBoard's EventFileWriter wrote from a thread whose error close() dropped: a full
    # disk left a truncated event file and exit 0.
    from reporting.files import EventFile

    folder = os.path.join(tiny_disk, "run")
    os.mkdir(folder)
    _fill(tiny_disk, leave=4096)
    events = EventFile(folder, atomic=atomic)
    with pytest.raises(OSError):
        for step in range(10_000):
            events.scalar("linear/train_loss", 0.5, step)
        events.close()
    events.discard()
    names = os.listdir(folder)
    assert names == [] if atomic else len(names) == 1


@pytest.mark.parametrize("tiny_disk", ["64k"], indirect=True)
def test_a_figure_that_cannot_be_written_leaves_the_old_file_and_no_part_of_the_new(tiny_disk):
    from models.landscapes import surface_landscape
    from reporting.hill import animate_hill

    path = os.path.join(tiny_disk, "hill.gif")
    with open(path, "wb") as f:
        f.write(b"the old animation")
    _fill(tiny_disk, leave=8192)
    paths = {"sgd": np.linspace([-8.0, 1.0], [0.0, 0.0], 40)}
    with pytest.raises(OSError):
        animate_hill(surface_landscape("valley"), paths, path)
    assert sorted(os.listdir(tiny_disk)) == ["filler", "hill.gif"]
    assert open(path, "rb").read() == b"the old animation"


@pytest.mark.parametrize("tiny_disk", ["1300k"], indirect=True)
def test_a_full_disk_during_an_overwrite_keeps_the_old_run_and_says_so(tiny_disk):
    # The run fits once; its replacement runs beside it and fills the disk while writing its
    # figures: the old run must stay as it was, and the message must say so (it used to say
    # the finished trials were kept, in a folder already deleted).
    logdir = os.path.join(tiny_disk, "logs")
    first = train(*LINEAR, "--run-name", "r", logdir=logdir)
    assert first.returncode == 0, first.stderr
    before = tree_digest(os.path.join(logdir, "r"))
    again = train(*LINEAR, "--run-name", "r", "--overwrite", logdir=logdir)
    assert again.returncode == 1, again.stderr
    error = one_line_error(again)
    assert "cannot write" in error and f"the new run is discarded and {logdir}/r is unchanged" in error
    assert tree_digest(os.path.join(logdir, "r")) == before
    assert sorted(os.listdir(logdir)) == ["r"]  # nothing beside it, no temporary file


# ---- the final files describe every finished trial ---------------------------------------

def test_the_report_is_read_from_the_study_inside_the_lock(tmp_path):
    # Two workers: one stopped near the end wrote its report last, from the view it had
    # before the other recorded its trials (the CSV had 21 trials, the figures 17). The
    # report is now read from the study once the report lock is held: a trial recorded while
    # a worker waits for the lock is in what that worker writes.
    from comparison import running
    from comparison.options import check_options
    from comparison.results import TrialResult
    from comparison.study import default_storage, open_study
    from comparison.trials import Trial
    from models import MODELS

    trials = [Trial("bumpy", "sgd", 0.08, seed, (), 3, 1, "none") for seed in (1, 2)]
    study = open_study(default_storage(str(tmp_path)), "s", trials, create=True)

    def record(trial):
        record = study.ask()
        record.set_user_attr("result", TrialResult(trial, "ok", 3, 0.1, {"train_loss": [3.0, 2.0, 1.0]},
                                                   np.zeros((4, 2))).to_dict())
        study.tell(record, 1.0)

    record(trials[0])

    class Folder:
        path = str(tmp_path)

        def report_lock(self):
            record(trials[1])  # the other worker finishes while this one waits for the lock
            return contextlib.nullcontext()

    data = {"bumpy": MODELS["bumpy"].load("digits")}
    comparison, problem = running._report(study, trials, data, MODELS, Folder(), check_options(models=["bumpy"]),
                                          None, None, write=True, final=str(tmp_path), say=lambda *a, **k: None)
    assert problem is None and len(comparison.results) == 2
    assert {row["seed"] for row in read_trials(tmp_path)} == {"1", "2"}


# ---- one trial is one trial ------------------------------------------------------------

@pytest.mark.parametrize("rates", [["0.1", "0.1"], ["0.1", "0.10", "1e-1"]])
def test_a_learning_rate_given_twice_is_one_trial(tmp_path, rates):
    # `--lr 0.1 0.1` ran the trial twice and reported "seeds 2, ± 0": a spread that does not exist.
    result = train(*LINEAR, "--lr", *rates, logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = run_folders(tmp_path)
    assert len(read_trials(run_dir)) == 1
    row = read_summary(run_dir)["linear", "sgd"]
    assert row["seeds"] == 1 and row["val_loss_std"] is None


def test_an_optimizer_name_is_a_plain_name():
    # A factory's name becomes a folder under the run: "../x" would write (and clear) outside it.
    from comparison import UsageError, compare

    for name in ("../escape", "a/b", "", ".."):
        with pytest.raises(UsageError, match="plain name"):
            compare(models=["linear"], optimizers={name: "sgd"})


# ---- a resumed run trains on what it started on ------------------------------------------

def _small_images(path, seed):
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=rng.integers(0, 255, (64, 8, 8), dtype=np.uint8), y_train=np.arange(64) % 2,
             x_test=rng.integers(0, 255, (16, 8, 8), dtype=np.uint8), y_test=np.arange(16) % 2)


def test_resume_after_the_dataset_file_changed_is_refused(tmp_path):
    data = tmp_path / "images.npz"
    _small_images(data, 0)
    args = ["--model", "cnn", "--opt", "sgd", "adam", "--quick", "--dataset", data, "--run-name", "r"]
    assert train(*args, logdir=tmp_path / "logs").returncode == 0
    _small_images(data, 1)  # same name, other images
    result = train(*args, "--resume", logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert "data cnn" in one_line_error(result)


def test_resume_on_another_backend_is_refused(tmp_path):
    import importlib.util

    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    assert train(*LINEAR, "--run-name", "r", logdir=tmp_path).returncode == 0
    result = train(*LINEAR, "--run-name", "r", "--resume", "--backend", "jax", logdir=tmp_path)
    assert result.returncode == 2
    assert "backend was 'tensorflow' there, is 'jax' now" in one_line_error(result)


# ---- the run folder's own files, damaged -------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("damaged")
    assert train(*LINEAR, "--run-name", "r", logdir=logdir).returncode == 0
    return logdir


def _damaged(finished_run, tmp_path, damage):
    logdir = tmp_path / "logs"
    shutil.copytree(finished_run, logdir)
    damage(logdir / "r")
    return train(*LINEAR, "--run-name", "r", "--resume", logdir=logdir)


@pytest.mark.parametrize("key", ["plan", "study", "inputs"])
def test_a_run_json_without_a_part_is_one_line(finished_run, tmp_path, key):
    def drop(run):
        marker = json.loads((run / "run.json").read_text())
        del marker[key]
        (run / "run.json").write_text(json.dumps(marker))

    result = _damaged(finished_run, tmp_path, drop)
    assert result.returncode == 2
    assert "run.json" in one_line_error(result) and "cannot be resumed" in one_line_error(result)


def test_a_study_db_of_random_bytes_is_one_line(finished_run, tmp_path):
    result = _damaged(finished_run, tmp_path, lambda run: (run / "study.db").write_bytes(os.urandom(4096)))
    assert result.returncode == 1
    assert "study's database" in one_line_error(result) and "cannot be read" in one_line_error(result)


def test_a_deleted_study_db_is_one_line_that_names_it(finished_run, tmp_path):
    # It waited 60 s, then said to "resume with the same --storage", which was never given.
    result = _damaged(finished_run, tmp_path, lambda run: (run / "study.db").unlink())
    assert result.returncode == 1
    error = one_line_error(result)
    assert "study.db is missing" in error and "--storage" not in error


# ---- names the file system refuses, and what a killed process left --------------------------

def test_a_run_name_too_long_for_an_overwrite_is_refused_before_anything(tmp_path):
    result = train(*LINEAR, "--run-name", "x" * 240, logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert "--run-name" in one_line_error(result)
    assert not (tmp_path / "logs").exists()


def test_an_overwrite_is_not_blocked_by_what_a_killed_one_left(tmp_path):
    assert train(*LINEAR, "--run-name", "r", logdir=tmp_path).returncode == 0
    for pid in (1, os.getpid()):  # a container's pid 1 comes back after a kill
        (tmp_path / f"r.new-{pid}").mkdir()
    result = train(*LINEAR, "--run-name", "r", "--overwrite", logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert read_trials(tmp_path / "r")[0]["status"] == "ok"
    assert (tmp_path / "r.new-1").is_dir()  # not this invocation's: left alone


# ---- a stop while the report is written --------------------------------------------------

@pytest.mark.parametrize("overwrite", [False, True], ids=["new", "overwrite"])
def test_a_stop_signal_while_the_report_is_written_completes_the_run(tmp_path, overwrite):
    # SIGTERM after the last trial said "Interrupted before training started; nothing was
    # written" and left an --overwrite unswapped.
    args = ["--model", "bumpy", "--opt", "sgd", "momentum", "--run-name", "r"]
    if overwrite:
        assert train(*args, "--epochs", "5", logdir=tmp_path).returncode == 0
        args.append("--overwrite")
    process = start_train(*args, logdir=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in process.stdout:  # the summary is printed first, then the files are written
        lines.append(line)
        if line.startswith("target loss"):
            process.send_signal(signal.SIGTERM)
            break
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "before training started" not in err
    assert f"the run in {tmp_path}/r is complete" in err
    assert len(read_trials(tmp_path / "r")) == 2 and read_trials(tmp_path / "r")[0]["epochs"] == "200"
    assert os.path.isfile(tmp_path / "r" / "hill_bumpy.gif") and sorted(os.listdir(tmp_path)) == ["r"]


# ---- standard output that goes nowhere ---------------------------------------------------

@pytest.mark.parametrize("stdout", ["/dev/full", "closed"])
def test_output_that_cannot_be_written_is_no_traceback(tmp_path, stdout):
    command = [sys.executable, os.path.join(ROOT, "train.py"), *LINEAR, "--logdir", str(tmp_path)]
    if stdout == "closed":
        result = subprocess.run(command, cwd=ROOT, stderr=subprocess.PIPE, text=True, timeout=300,
                                preexec_fn=lambda: os.close(1))
    else:
        with open(stdout, "w") as full:
            result = subprocess.run(command, cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    (run_dir,) = run_folders(tmp_path)
    # The run is whole: nothing it meant for standard output went into a file that took its
    # descriptor's number (the files parse, the trial's curve is in its event file).
    (row,) = read_trials(run_dir)
    assert row["status"] == "ok" and read_summary(run_dir)["linear", "sgd"]["status"] == "ok"
    assert len(scalars(run_dir)[row["run"], "linear/train_loss"]) == 51


# ---- every command the tool prints runs -----------------------------------------------------

def test_the_printed_resume_command_runs_for_a_name_that_looks_like_an_option(tmp_path):
    args = ["--model", "linear", "--opt", "sgd", "adam", "--epochs", "3000", "--seeds", "3", "--run-name=-dash"]
    process = start_train(*args, logdir=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("[1/"):
            process.send_signal(signal.SIGINT)
            break
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    (command,) = [line.removeprefix("Resume with: ") for line in err.splitlines() if line.startswith("Resume with")]
    resumed = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    rows = read_trials(tmp_path / "-dash")
    assert len(rows) == 6 and all(row["status"] == "ok" for row in rows)


# ---- any file as --dataset -------------------------------------------------------------

@pytest.mark.parametrize("members", [
    {"x_train": b"hello", "y_train": b"x", "x_test": b"y", "y_test": b"z"},
    {"x_train.npy": b"\x93NUMPY garbage", "y_train.npy": b"", "x_test.npy": b"", "y_test.npy": b""},
    {"x_train.npy/": b""},
], ids=["not-npy", "bad-npy", "folder"])
def test_any_zip_as_a_dataset_is_one_line(tmp_path, members):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    result = train("--model", "cnn", "--quick", "--dataset", path, logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert str(path) in one_line_error(result)
    assert not (tmp_path / "logs").exists()


# ---- a cache is checked like any file -------------------------------------------------------

def test_a_digits_cache_replaced_by_other_valid_data_is_not_used(tmp_path):
    # A float copy of the digits in [0, 1] was divided by 255 again: the CNN trained at chance.
    from data.digits import load_digits

    (x_train, y_train), (x_test, y_test) = load_digits(seed=3, cache_dir=tmp_path)
    (cache,) = tmp_path.glob("digits-*.npz")
    np.savez(cache, x_train=x_train[..., 0], y_train=y_train, x_test=x_test[..., 0], y_test=y_test)
    with pytest.warns(UserWarning, match="not usable as a cache"):
        (again, _), _ = load_digits(seed=3, cache_dir=tmp_path)
    np.testing.assert_array_equal(again, x_train)
    assert again.max() == 1.0


# ---- the time left counts the whole trial ----------------------------------------------------

def test_the_time_left_counts_the_time_outside_training(monkeypatch):
    # On a 700-trial sweep it said 6 minutes where 13 were real: it counted training only.
    from comparison.results import TrialResult
    from comparison.trials import Trial
    from models import MODELS
    from runtime import progress

    clock = iter([0.0, 2.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    trials = [Trial("bumpy", "sgd", 0.08, seed) for seed in range(4)]
    lines = []

    class Study:
        def get_trials(self, **kwargs):
            return []

    tracker = progress.Progress(trials, MODELS, printer=lambda line, **kwargs: lines.append(line))
    tracker(TrialResult(trials[0], "ok", 1, 0.5, {"train_loss": [1.0]}), Study())
    assert lines[0].endswith("in 0.5 s; about 6 s left")  # 3 trials of 2 s each, not of 0.5 s


# ---- round 4: siblings of the classes above, found by trying further cases ----------------

# -- nothing a user has is replaced: --overwrite replaces only what train.py wrote --

def _overwrite_refused(logdir, name="r"):
    before = tree_digest(logdir)
    result = train(*LINEAR, "--run-name", name, "--overwrite", logdir=logdir)
    assert result.returncode == 2
    assert tree_digest(logdir) == before  # nothing replaced, nothing left beside it
    return one_line_error(result)


def test_an_overwrite_refuses_a_run_folder_holding_another_run(finished_run, tmp_path):
    # `--logdir logs/outer --run-name inner` was accepted; `--run-name outer --overwrite`
    # then deleted the run inside it, exit 0.
    logdir = tmp_path / "logs"
    shutil.copytree(finished_run, logdir)
    shutil.copytree(logdir / "r", logdir / "r" / "inner")
    assert "r/inner" in _overwrite_refused(logdir)


def test_an_overwrite_refuses_a_run_folder_holding_a_users_file(finished_run, tmp_path):
    logdir = tmp_path / "logs"
    shutil.copytree(finished_run, logdir)
    (logdir / "r" / "notes.txt").write_text("mine")
    (logdir / "r" / "linear" / "sgd" / "plot.png").write_bytes(b"mine too")
    assert "notes.txt is not one of the files a run of train.py writes" in _overwrite_refused(logdir)
    (logdir / "r" / "notes.txt").unlink()
    assert "plot.png" in _overwrite_refused(logdir)


def test_an_overwrite_refuses_a_symbolic_link(finished_run, tmp_path):
    # It replaced the link's target and left `link.replaced-<pid>-<hex>` behind.
    logdir = tmp_path / "logs"
    shutil.copytree(finished_run, logdir)
    (logdir / "link").symlink_to(logdir / "r")
    assert "symbolic link" in _overwrite_refused(logdir, name="link")


def test_a_logdir_inside_a_run_folder_is_refused(finished_run, tmp_path):
    logdir = tmp_path / "logs"
    shutil.copytree(finished_run, logdir)
    before = tree_digest(logdir)
    for inside in (logdir / "r", logdir / "r" / "linear" / "more"):
        result = train(*LINEAR, "--run-name", "inner", logdir=inside)
        assert result.returncode == 2
        assert "inside the run folder" in one_line_error(result)
    assert tree_digest(logdir) == before and not (logdir / "r" / "linear" / "more").exists()


def test_a_successful_overwrite_says_where_its_files_are(finished_run, tmp_path):
    # "Written to" named <name>.new-<pid>-<hex>, a folder that no longer exists after the swap.
    logdir = tmp_path / "logs"
    shutil.copytree(finished_run, logdir)
    result = train(*LINEAR, "--run-name", "r", "--overwrite", logdir=logdir)
    assert result.returncode == 0, result.stderr
    (written,) = [line for line in result.stdout.splitlines() if line.startswith("Written to ")]
    folder = written.removeprefix("Written to ").split(": ")[0]
    assert folder == f"{logdir}/r" and os.path.isfile(os.path.join(folder, "trials.csv"))


# -- every message true: a run.json that is not whole says what it is --

@pytest.mark.parametrize("content", ["{bad", "[1]", "plan=[1]", "plan=[{}]"])
def test_a_run_json_that_is_not_json_or_not_whole_is_one_true_line(finished_run, tmp_path, content):
    # "not JSON" and "a list" said the folder "has no run.json"; a plan of [1] or [{}] gave an
    # AttributeError or KeyError traceback.
    def damage(run):
        if content.startswith("plan="):
            marker = json.loads((run / "run.json").read_text())
            marker["plan"] = json.loads(content.removeprefix("plan="))
            content_written = json.dumps(marker)
        else:
            content_written = content
        (run / "run.json").write_text(content_written)

    result = _damaged(finished_run, tmp_path, damage)
    assert result.returncode == 2
    error = one_line_error(result)
    assert "run.json" in error and "has no run.json" not in error


def test_resume_of_a_link_to_nothing_says_so(tmp_path):
    # It said that a process creating the run had stopped and removed its folder.
    (tmp_path / "r").symlink_to(tmp_path / "nowhere")
    result = train(*LINEAR, "--run-name", "r", "--resume", logdir=tmp_path)
    assert result.returncode == 2
    assert "symbolic link" in one_line_error(result) and "stopped" not in one_line_error(result)
    assert sorted(os.listdir(tmp_path)) == ["r"]


def test_resume_with_another_target_loss_is_refused(finished_run, tmp_path):
    # It was accepted, and the finished run's report was rewritten with the new target.
    logdir = tmp_path / "logs"
    shutil.copytree(finished_run, logdir)
    before = tree_digest(logdir)
    result = train(*LINEAR, "--run-name", "r", "--resume", "--target-loss", "0.5", logdir=logdir)
    assert result.returncode == 2
    assert "target_loss" in one_line_error(result)
    assert tree_digest(logdir) == before


# -- every printed command runs, and does what it says --

def test_the_resume_command_after_a_stopped_overwrite_is_accepted():
    # It kept --overwrite beside --resume, which the tool refuses ("give one").
    sys.path.insert(0, ROOT)
    import train as cli
    from comparison.options import check_options

    argv = ["--model", "linear", "--overwrite", "--run-name", "r", "--lr", "0.1"]
    command = shlex.split(cli.resume_command("r", argv))
    options = check_options(**cli.parse_args(command[2:]))
    assert options.resume and not options.overwrite and options.run_name == "r"


def test_the_links_and_tensorboard_command_name_this_run_whatever_its_name():
    import re
    import urllib.parse

    from comparison.api import tensorboard_command, tensorboard_links

    # TensorBoard reads the #hash with decodeURIComponent (unquote), which leaves "+" a "+":
    # a space written as "+" made the summary link's filter match "a+b", not "a b".
    link = tensorboard_links("a b+c(1)")["this run's summary"]
    pattern = urllib.parse.unquote(link.split("regexInput=")[1])
    assert re.search(pattern, "a b+c(1)") and not re.search(pattern, "a+b+c(1)")
    # TensorBoard expands "~" in --logdir (os.path.expanduser); the run did not.
    (word,) = [w for w in shlex.split(tensorboard_command("~/runs")) if w.startswith("--logdir=")]
    assert os.path.expanduser(word.removeprefix("--logdir=")) == os.path.join(".", "~/runs")


# -- bad input is one line, exit 2, before anything is written --

def _refused_before_anything(logdir, *args):
    result = train(*LINEAR, *args, logdir=logdir)
    assert result.returncode == 2
    return one_line_error(result)


def test_a_logdir_the_study_or_the_file_system_cannot_take_is_refused_before_anything(tmp_path):
    # A path over SQLite's 504 bytes failed after "Run folder:" with a false "cannot be read";
    # a folder name over 255 bytes failed after the log folders were made; a name that is not
    # UTF-8 was a UnicodeEncodeError traceback.
    deep = tmp_path / "d" / ("x" * 200) / ("y" * 200)
    deep.mkdir(parents=True)
    assert "SQLite" in _refused_before_anything(deep / ("z" * 100))
    assert "cannot create its folder" in _refused_before_anything(tmp_path / "new" / ("a" * 300) / "x")
    not_text = os.path.join(os.fsencode(tmp_path), b"bad\xff").decode(errors="surrogateescape")
    assert "UTF-8" in _refused_before_anything(not_text)
    assert sorted(os.listdir(tmp_path)) == ["d"] and os.listdir(deep) == []


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_dataset_that_is_not_a_regular_file_is_one_line(tmp_path, kind):
    # A fifo waited forever; /dev/zero was read until the machine ran out of memory.
    path = "/dev/zero" if kind == "device" else tmp_path / "pipe"
    if kind == "fifo":
        os.mkfifo(path)
    result = train("--model", "cnn", "--quick", "--dataset", path, logdir=tmp_path / "logs", timeout=120)
    assert result.returncode == 2
    assert "not a regular file" in one_line_error(result)
    assert not (tmp_path / "logs").exists()


def test_a_keras_dataset_that_cannot_be_fetched_is_one_line_offline(tmp_path):
    # TensorFlow's start-up logs came before the error line: it imported Keras unfiltered.
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode:
        pytest.skip("needs unshare -n (root) to cut the network")
    command = ["unshare", "-n", sys.executable, os.path.join(ROOT, "train.py"), "--model", "cnn", "--quick",
               "--dataset", "mnist", "--logdir", str(tmp_path / "logs")]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "KERAS_HOME": str(tmp_path / "keras")})
    assert result.returncode == 2
    assert result.stderr.startswith("train.py: error: cannot load 'mnist'") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("keywords, words", [
    ({"sweep": "no"}, "--sweep 'no'"), ({"quick": "no"}, "--quick"), ({"distribute": "no"}, "--distribute"),
    ({"resume": "no", "run_name": "x"}, "--resume"), ({"models": []}, "--model"),
    ({"learning_rates": "0.1"}, "--lr '0.1'"), ({"verbose": "loud"}, "verbose"),
    ({"optimizers": {"a" * 300: "sgd"}}, "at most 64 bytes"),
])
def test_compare_refuses_a_value_of_the_wrong_kind(tmp_path, keywords, words):
    # "no" was taken as on; [] as the default models; "0.1" as the rates 0, ".", "1"; a
    # 300-character optimizer name was an OSError after run.json and study.db were written.
    from comparison import UsageError, compare

    with pytest.raises(UsageError) as refused:
        compare(**{"models": ["saddle"], "epochs": 2, "logdir": tmp_path / "logs", **keywords})
    assert words in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "logs").exists()


def test_compare_takes_rates_as_any_sequence_of_numbers():
    # The check against a string of rates must not refuse what a notebook passes.
    from comparison.options import check_options

    for rates in (np.array([0.01, 0.1]), [0.01, 0.1], (0.01, 0.1), range(1, 3)):
        expected = tuple(float(r) for r in rates)
        assert check_options(models=["saddle"], learning_rates=rates).learning_rates == expected
    assert check_options(models=["saddle"], learning_rates=np.float32(0.5)).learning_rates == (0.5,)


def test_a_factory_must_make_a_new_optimizer_at_the_rate_it_is_given():
    # The same instance for every call trained the lr=0.1 trial with the other trial's state;
    # a factory ignoring its argument ran every "rate" at one.
    import keras

    from comparison import UsageError
    from comparison.rules import resolve

    shared = keras.optimizers.SGD(0.1)
    with pytest.raises(UsageError, match="same optimizer twice"):
        resolve({"shared": lambda learning_rate: shared})
    with pytest.raises(UsageError, match="must use the learning_rate"):
        resolve({"fixed": lambda learning_rate: keras.optimizers.SGD(0.5)})
    schedule = keras.optimizers.schedules.ExponentialDecay
    (rule,) = resolve({"decayed": lambda learning_rate: keras.optimizers.SGD(schedule(learning_rate, 10, 0.9))})
    assert rule.name == "decayed"


def test_a_two_weight_trial_stopped_before_its_first_step_draws_no_path():
    # An empty path (a trial stopped before its first step) made the hill an AxisError
    # traceback, exit 1, and no resume command.
    from comparison.results import Comparison, TrialResult
    from comparison.trials import Trial
    from models import MODELS
    from reporting.report import figures

    entry = MODELS["saddle"]
    ran = TrialResult(Trial("saddle", "sgd", 0.1, 42, epochs=3), "ok", 3, 0.1, {"train_loss": [3.0, 2.0, 1.0]},
                      path=np.array([[0.0, 0.1], [0.1, 0.1], [0.2, 0.1], [0.3, 0.1]]))
    stopped = TrialResult(Trial("saddle", "momentum", 0.1, 42, epochs=3), "interrupted", 0, 0.0, {},
                          path=np.array([]))
    made = figures(Comparison([ran, stopped], None), {"saddle": entry.load("digits")}, {"saddle": entry})
    assert {"hill_saddle", "loss_curves"} <= set(made)
