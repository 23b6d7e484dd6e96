"""train.py end to end, as a user runs it: subprocesses in --quick mode, the event files read
back with TensorBoard's own reader, and every error case's exit status and message."""

import csv
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from optimizers import OPTIMIZERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(*args, logdir=None, cwd=ROOT):
    command = [sys.executable, os.path.join(ROOT, "train.py"), *args]
    if logdir is not None:
        command += ["--logdir", str(logdir)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def run_folders(logdir):
    return sorted(p for p in glob.glob(os.path.join(logdir, "*")) if os.path.isdir(p))


def read_summary(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        return {(row["model"], row["optimizer"]): row for row in json.load(f)}


def scalars(run_dir):
    """{(event folder relative to the run, tag): [(step, value), ...]} for every scalar."""
    found = {}
    for folder, _, files in os.walk(run_dir):
        if not any(f.startswith("events.out.tfevents") for f in files):
            continue
        events = EventAccumulator(folder, size_guidance={"tensors": 0})
        events.Reload()
        for tag in events.Tags()["tensors"]:
            values = [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]
            found[(os.path.relpath(folder, run_dir), tag)] = values
    return found


def tree_digest(path):
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            with open(os.path.join(folder, name), "rb") as f:
                digest.update(name.encode() + f.read())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def all_quick(tmp_path_factory):
    """One `--opt all --quick` run, shared by the checks on what it leaves behind."""
    logdir = tmp_path_factory.mktemp("logs")
    result = train("--opt", "all", "--quick", logdir=logdir)
    assert result.returncode == 0, result.stderr
    (run_dir,) = run_folders(logdir)
    return logdir, run_dir, result


def test_help_is_instant_and_documents_every_option():
    result = train("--help")
    assert result.returncode == 0
    for option in ["--opt", "--model", "--epochs", "--batch-size", "--lr", "--momentum", "--rho",
                   "--beta-1", "--beta-2", "--epsilon", "--no-bias-correction", "--dataset", "--seed",
                   "--device", "--logdir", "--run-name", "--overwrite", "--quick", "--mixed-precision"]:
        assert option in result.stdout
    # Instant means TensorFlow never loaded: checked by what was imported, not by the clock.
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, runpy; sys.argv=['train.py','--help']\n"
         "try: runpy.run_path('train.py', run_name='__main__')\nexcept SystemExit: pass\n"
         "print('tensorflow' in sys.modules, 'keras' in sys.modules, file=sys.stderr)"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert probe.stderr.strip().splitlines()[-1] == "False False"


def test_cli_optimizer_names_are_the_registry():
    import train as cli

    assert list(cli.LEARNING_RATES["linear"]) == list(OPTIMIZERS)
    assert list(cli.LEARNING_RATES["cnn"]) == list(OPTIMIZERS)


def test_all_quick_summarises_every_model_and_optimizer(all_quick):
    logdir, run_dir, result = all_quick
    summary = read_summary(run_dir)
    assert set(summary) == {(m, o) for m in ("linear", "cnn") for o in OPTIMIZERS}
    assert not any(row["diverged"] for row in summary.values())
    with open(os.path.join(run_dir, "summary.csv")) as f:
        assert len(list(csv.DictReader(f))) == 8
    # The terminal table has the same rows, and the command to open TensorBoard.
    for (model, optimizer), row in summary.items():
        assert any(line.split()[:2] == [model, optimizer] for line in result.stdout.splitlines())
    assert f"tensorboard --logdir {logdir}" in result.stdout
    assert result.stdout.splitlines()[0].startswith("Device: CPU")
    assert len(glob.glob(os.path.join(run_dir, "*.png"))) >= 2


def test_linear_first_step_is_the_articles(all_quick):
    # The per-step loss starts at the article's loss at (2, 3), whatever the optimizer.
    _, run_dir, _ = all_quick
    logged = scalars(run_dir)
    for optimizer in OPTIMIZERS:
        step, value = logged[(f"linear/{optimizer}/train", "linear/loss_per_step")][0]
        # TensorBoard stores scalars as float32: compare with the golden loss rounded so.
        assert step == 0 and value == np.float32(4.925758313790776)


def test_event_files_keep_the_models_apart(all_quick):
    _, run_dir, _ = all_quick
    logged = scalars(run_dir)
    for optimizer in OPTIMIZERS:
        for model, tags in [("linear", {"loss", "loss_per_step", "learning_rate"}),
                            ("cnn", {"loss", "accuracy", "learning_rate"})]:
            train_tags = {tag for (folder, tag) in logged if folder == f"{model}/{optimizer}/train"}
            assert train_tags == {f"{model}/{t}" for t in tags}
            val_tags = {tag for (folder, tag) in logged if folder == f"{model}/{optimizer}/validation"}
            assert val_tags == {f"{model}/loss"} | ({"cnn/accuracy"} if model == "cnn" else set())
    # No folder holds both models' tags, so no TensorBoard chart can mix them.
    for (folder, tag) in logged:
        if tag.startswith(("linear/", "cnn/")):
            assert folder.split("/")[0] == tag.split("/")[0]


def test_event_files_match_the_summary(all_quick):
    _, run_dir, _ = all_quick
    logged, summary = scalars(run_dir), read_summary(run_dir)
    for (model, optimizer), row in summary.items():
        last_train = logged[(f"{model}/{optimizer}/train", f"{model}/loss")][-1]
        last_val = logged[(f"{model}/{optimizer}/validation", f"{model}/loss")][-1]
        assert last_train[0] == row["epochs"]
        assert float(last_train[1]) == pytest.approx(row["train_loss"], rel=1e-6)
        assert float(last_val[1]) == pytest.approx(row["val_loss"], rel=1e-6)
        lr = logged[(f"{model}/{optimizer}/train", f"{model}/learning_rate")][-1][1]
        assert float(lr) == pytest.approx(row["learning_rate"], rel=1e-6)


def test_figures_and_hparams_reach_tensorboard(all_quick):
    _, run_dir, _ = all_quick
    figures = EventAccumulator(os.path.join(run_dir, "figures"), size_guidance={"tensors": 0})
    figures.Reload()
    assert set(figures.PluginTagToContent("images")) == {"loss_curves", "hill"}
    for model in ("linear", "cnn"):
        for optimizer in OPTIMIZERS:
            session = EventAccumulator(os.path.join(run_dir, model, optimizer))
            session.Reload()
            assert "_hparams_/session_start_info" in session.PluginTagToContent("hparams")


def test_second_invocation_lands_beside_the_first_and_repeats_its_numbers(all_quick):
    # Same seed and config -> the same numbers; and an optimizer's result does not depend
    # on which others ran before it (same initial weights, same batches).
    logdir, first_dir, _ = all_quick
    before = tree_digest(first_dir)
    result = train("--opt", "rmsprop", "--quick", logdir=logdir)
    assert result.returncode == 0, result.stderr
    folders = run_folders(logdir)
    assert len(folders) == 2 and first_dir in folders
    assert tree_digest(first_dir) == before
    second = read_summary(next(f for f in folders if f != first_dir))
    first = read_summary(first_dir)
    for model in ("linear", "cnn"):
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            assert second[(model, "rmsprop")][key] == first[(model, "rmsprop")][key]


def test_hyperparameter_for_another_optimizer_is_reported(tmp_path):
    result = train("--opt", "adam", "--model", "linear", "--rho", "0.5", "--beta-1", "0.8", "--quick",
                   logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Note: --rho applies to none of adam; ignored" in result.stdout
    assert "beta_1 0.8" in result.stdout  # the one that applies is used, and shown


def test_divergence_is_marked_and_the_others_still_run(tmp_path):
    result = train("--opt", "sgd", "adam", "--model", "linear", "--lr", "1e6", "--quick", logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = read_summary(run_folders(tmp_path)[0])
    assert summary[("linear", "sgd")]["diverged"] is True
    assert summary[("linear", "sgd")]["epochs"] < 50
    assert summary[("linear", "adam")]["diverged"] is False
    assert summary[("linear", "adam")]["epochs"] == 50


@pytest.mark.parametrize(
    "args, words",
    [
        (["--opt", "nadam"], "nadam"),
        (["--lr", "abc"], "abc"),
        (["--lr", "-1"], "-1"),
        (["--lr", "nan"], "nan"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "0"], "--batch-size"),
        (["--model", "resnet"], "resnet"),
        (["--dataset", "no_such_dataset"], "no_such_dataset"),
        (["--device", "tpu"], "tpu"),
        (["--momentum", "1.5"], "--momentum"),
        (["--run-name", "../escape"], "--run-name"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, words):
    logdir = tmp_path / "logs"
    result = train(*args, logdir=logdir)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in result.stderr
    assert not logdir.exists()


def test_unwritable_logdir_exits_2(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    result = train("--quick", logdir=blocker / "logs")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "logdir" in result.stderr


def test_gpu_without_gpu_is_a_clear_error(tmp_path):
    result = train("--device", "gpu", "--quick", logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("train.py: error: --device gpu")
    assert "Traceback" not in result.stderr and not (tmp_path / "logs").exists()


def test_bad_npz_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    result = train("--dataset", str(bad), "--model", "cnn", logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("train.py: error:") and str(bad) in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "logs").exists()


def test_existing_run_name_is_refused_unless_overwrite(tmp_path):
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("precious")
    result = train("--run-name", "mine", "--quick", logdir=tmp_path)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]

    result = train("--run-name", "mine", "--overwrite", "--model", "linear", "--opt", "sgd", "--quick",
                   logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (existing / "keep.txt").exists() and (existing / "summary.json").exists()


def test_ctrl_c_flushes_events_and_prints_partial_summary(tmp_path):
    stderr_file = (tmp_path / "stderr.txt").open("w+b")
    process = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "train.py"), "--model", "cnn", "--epochs", "100",
         "--opt", "sgd", "adam", "--quick", "--logdir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr_file,
    )
    output = bytearray()  # the reader thread is stdout's only reader
    reader = threading.Thread(target=lambda: [output.extend(c) for c in iter(lambda: process.stdout.read(1), b"")])
    reader.start()
    deadline = time.monotonic() + 300
    while output.count(b"val_loss") < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # wait for two finished epochs, so there is something to flush
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    reader.join()
    stdout = output.decode(errors="replace")
    stderr_file.seek(0)
    stderr = stderr_file.read().decode()

    assert process.returncode == 130
    assert "Interrupted" in stderr and "Traceback" not in stderr
    (run_dir,) = run_folders(tmp_path)
    summary = read_summary(run_dir)
    assert summary[("cnn", "sgd")]["status"] == "interrupted"
    assert ("cnn", "adam") not in summary  # the run stopped; it did not go on to the next
    assert any(line.split()[:2] == ["cnn", "sgd"] for line in stdout.splitlines())
    logged = scalars(run_dir)
    assert len(logged[("cnn/sgd/train", "cnn/loss")]) >= 2
