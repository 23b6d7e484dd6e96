"""train.py end to end, as a user runs it: subprocesses in --quick mode, the event files read
back with TensorBoard's own reader, and every error case's exit status and message."""

import csv
import glob
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from optimizers import OPTIMIZERS
from runs import (ROOT, event_files, one_line_error, plugin_tags, read_summary, read_trials, run_folders,
                  scalars, train, tree_digest)


@pytest.fixture(scope="module")
def all_quick(tmp_path_factory):
    """One `--quick` run of every optimizer on both models, shared by the checks on what it leaves."""
    logdir = tmp_path_factory.mktemp("logs")
    result = train("--quick", logdir=logdir)
    assert result.returncode == 0, result.stderr
    (run_dir,) = run_folders(logdir)
    return logdir, run_dir, result


def test_help_is_instant_and_documents_every_option():
    result = train("--help")
    assert result.returncode == 0
    for option in ["--opt", "--model", "--epochs", "--batch-size", "--lr", "--seeds", "--sweep", "--target-loss",
                   "--momentum", "--rho", "--beta-1", "--beta-2", "--epsilon", "--no-bias-correction", "--noise",
                   "--dataset", "--seed", "--device", "--logdir", "--run-name", "--overwrite", "--resume",
                   "--storage", "--quick", "--mixed-precision"]:
        assert option in result.stdout
    # Instant means TensorFlow never loaded: checked by what was imported, not by the clock.
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, runpy; sys.argv=['train.py','--help']\n"
         "try: runpy.run_path('train.py', run_name='__main__')\nexcept SystemExit: pass\n"
         "print('tensorflow' in sys.modules, 'keras' in sys.modules, 'optuna' in sys.modules, file=sys.stderr)"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert probe.stderr.strip().splitlines()[-1] == "False False False"


def test_every_model_has_a_default_learning_rate_for_every_registered_optimizer():
    from models import MODELS

    for entry in MODELS.values():
        assert list(entry.learning_rates) == list(OPTIMIZERS)


def test_all_quick_summarises_every_model_and_optimizer(all_quick):
    logdir, run_dir, result = all_quick
    summary = read_summary(run_dir)
    assert set(summary) == {(m, o) for m in ("linear", "cnn") for o in OPTIMIZERS}
    assert all(row["status"] == "ok" for row in summary.values())
    with open(os.path.join(run_dir, "summary.csv")) as f:
        assert len(list(csv.DictReader(f))) == 8
    assert len(read_trials(run_dir)) == 8
    # The terminal table has the same rows, and the command to open TensorBoard.
    for model, optimizer in summary:
        assert any(line.split()[:2] == [model, optimizer] for line in result.stdout.splitlines())
    assert f"tensorboard --logdir={logdir}" in result.stdout
    assert result.stdout.splitlines()[0].startswith("Device: CPU")
    for name in ("loss_curves.png", "hill_linear.png", "hill_linear.gif", "paths.npz"):
        assert os.path.isfile(os.path.join(run_dir, name)), name


def test_output_to_a_pipe_is_plain_lines(all_quick):
    # The fixture's stdout is a pipe: one line per epoch, no progress-bar control characters.
    _, _, result = all_quick
    assert "\r" not in result.stdout and "\x1b" not in result.stdout and "\b" not in result.stdout
    assert sum("val_loss" in line for line in result.stdout.splitlines()) >= 4


def test_one_run_per_trial_named_model_optimizer_first(all_quick):
    _, run_dir, _ = all_quick
    expected = {f"{m}/{o}/lr={lr:g},seed=42" for (m, o), lr in
                [((m, o), lr) for m in ("linear", "cnn") for o, lr in zip(OPTIMIZERS, _default_rates(m))]}
    assert set(read_trial_runs(run_dir)) == expected
    for folder in expected:
        assert len(event_files(os.path.join(run_dir, folder))) == 1


def _default_rates(model):
    from models import MODELS

    return MODELS[model].learning_rates.values()


def read_trial_runs(run_dir):
    return [row["run"] for row in read_trials(run_dir)]


def test_linear_first_step_is_the_articles(all_quick):
    # Every optimizer's loss curve starts at the article's loss at (2, 3), logged at step 0.
    _, run_dir, _ = all_quick
    logged = scalars(run_dir)
    for optimizer in OPTIMIZERS:
        step, value = logged[(f"linear/{optimizer}/lr=0.1,seed=42", "linear/train_loss")][0]
        # TensorBoard stores scalars as float32: compare with the golden loss rounded so.
        assert step == 0 and value == np.float32(4.925758313790776)


def test_tags_keep_models_and_splits_apart(all_quick):
    _, run_dir, _ = all_quick
    logged = scalars(run_dir)
    expected = {
        "linear": {"train_loss", "val_loss"},
        "cnn": {"train_loss", "val_loss", "train_accuracy", "val_accuracy"},
    }
    for run in read_trial_runs(run_dir):
        model = run.split("/")[0]
        tags = {tag for (folder, tag) in logged if folder == run}
        # Each run holds only its own model's tags, so no chart can mix two models; train
        # and validation are separate tags, so separate charts. The learning rate never
        # changed, so it is not logged; the final values HParams ranks by are the same for
        # every model.
        assert tags == {f"{model}/{t}" for t in expected[model]} | {"hparams/loss", "hparams/train_loss"}


def test_event_files_match_the_summary(all_quick):
    _, run_dir, _ = all_quick
    logged, summary = scalars(run_dir), read_summary(run_dir)
    for row in read_trials(run_dir):
        model, run = row["model"], row["run"]
        last_train = logged[(run, f"{model}/train_loss")][-1]
        last_val = logged[(run, f"{model}/val_loss")][-1]
        assert last_train[0] == int(row["epochs"])
        assert last_train[1] == pytest.approx(float(row["train_loss"]), rel=1e-6)
        assert last_val[1] == pytest.approx(float(row["val_loss"]), rel=1e-6)
        assert summary[model, row["optimizer"]]["val_loss"] == pytest.approx(float(row["val_loss"]), rel=1e-12)
        # What HParams ranks by: the final validation loss, at the last epoch.
        assert logged[(run, "hparams/loss")] == [(int(row["epochs"]), pytest.approx(float(row["val_loss"]), rel=1e-6))]


def test_figures_and_hparams_reach_tensorboard(all_quick):
    _, run_dir, _ = all_quick
    # Every figure the run folder has, under one prefix in the invocation's own run.
    figures = {f"figures/{name}" for name in os.listdir(run_dir) if name.endswith((".png", ".gif"))}
    assert figures == {"figures/loss_curves.png", "figures/hill_linear.png", "figures/hill_linear.gif",
                       "figures/performance_profile.png"}  # two models: a profile across them
    assert plugin_tags(run_dir, "images") == figures
    for run in read_trial_runs(run_dir):
        tags = plugin_tags(os.path.join(run_dir, run), "hparams")
        assert {"_hparams_/session_start_info", "_hparams_/experiment"} <= tags


def test_paths_are_the_hill_walks(all_quick):
    _, run_dir, _ = all_quick
    with np.load(os.path.join(run_dir, "paths.npz")) as paths:
        assert sorted(paths.files) == sorted(f"linear/{o}" for o in OPTIMIZERS)
        for optimizer in OPTIMIZERS:
            path = paths[f"linear/{optimizer}"]
            assert path.shape == (51, 2)  # --quick: 50 steps, and the start
            np.testing.assert_array_equal(path[0], [2.0, 3.0])


def test_second_invocation_lands_beside_the_first_and_repeats_its_numbers(all_quick, tmp_path):
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
    (run_dir,) = run_folders(tmp_path)
    with open(os.path.join(run_dir, "run.json")) as f:
        (trial,) = json.load(f)["plan"]
    assert dict(trial["hyperparameters"])["beta_1"] == 0.8  # the one that applies is used


def test_divergence_is_marked_and_the_others_still_run(tmp_path):
    # At lr 5, SGD's steps grow each time (it is stable below 2 / the largest curvature of
    # the loss, 1.81 here); Adam's steps are about lr whatever the slope, so it stays.
    result = train("--opt", "sgd", "adam", "--model", "linear", "--lr", "5", "--quick", logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = read_summary(run_folders(tmp_path)[0])
    assert summary[("linear", "sgd")]["status"] == "diverged"
    assert summary[("linear", "sgd")]["epochs"] < 50
    assert summary[("linear", "adam")]["status"] == "ok"
    assert summary[("linear", "adam")]["epochs"] == 50
    assert any(line.split()[:2] == ["linear", "sgd"] and line.split()[-1] == "diverged"
               for line in result.stdout.splitlines())


def test_a_cnn_that_blows_up_is_diverged_though_finite(tmp_path):
    # At lr 1000 the CNN's loss jumps to hundreds (from ln 10 = 2.3) without becoming NaN.
    result = train("--opt", "sgd", "--model", "cnn", "--lr", "1000", "--quick", logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    (row,) = read_trials(run_folders(tmp_path)[0])
    assert row["status"] == "diverged"


def _npz(path, x_train, y_train, x_test=None, y_test=None):
    np.savez(path, x_train=x_train, y_train=y_train,
             x_test=x_train if x_test is None else x_test, y_test=y_train if y_test is None else y_test)
    return str(path)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--opt", "nadam"], "nadam"),
        (["--lr", "abc"], "abc"),
        (["--lr", "-1"], "-1"),
        (["--lr", "nan"], "nan"),
        (["--lr", "0.1", "0.1000000001"], "--lr"),
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "10000000000"], "--epochs"),
        (["--batch-size", "0"], "--batch-size"),
        (["--model", "resnet"], "resnet"),
        (["--dataset", "no_such_dataset"], "no_such_dataset"),
        (["--device", "tpu"], "tpu"),
        (["--momentum", "1.5"], "--momentum"),
        (["--run-name", "../escape"], "--run-name"),
        (["--run-name", "x" * 300], "--run-name"),
        (["--seed", "4294967295"], "--seed"),
        (["--seed", "4294967290", "--seeds", "10"], "--seed"),
        (["--sweep", "--lr", "0.1"], "--sweep"),
        (["--resume"], "--run-name"),
        (["--resume", "--overwrite", "--run-name", "r"], "--overwrite"),
        (["--storage", "nosuchdb://x"], "--storage"),
        (["--target-loss", "-1"], "--target-loss"),
        (["--noise", "-0.1"], "--noise"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, words):
    logdir = tmp_path / "logs"
    result = train(*args, logdir=logdir)
    assert result.returncode == 2
    assert words in one_line_error(result)
    assert not logdir.exists()


@pytest.mark.parametrize("logdir", ["", "/proc/train-logs"])
def test_logdir_that_cannot_be_made_exits_2(logdir):
    # /proc: os.access says root may write there; only trying shows it cannot.
    result = train("--quick", "--model", "linear", logdir=logdir)
    assert result.returncode == 2
    assert "--logdir" in one_line_error(result)


def test_unwritable_logdir_exits_2(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    result = train("--quick", logdir=blocker / "logs")
    assert result.returncode == 2
    assert "logdir" in one_line_error(result)


def test_gpu_without_gpu_is_a_clear_error(tmp_path):
    result = train("--device", "gpu", "--quick", logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert one_line_error(result).startswith("train.py: error: --device gpu")
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize("case", ["not_npz", "one_class", "seven_by_seven", "stray_label"])
def test_dataset_the_cnn_cannot_use_exits_2_before_writing(tmp_path, case):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (64, 12, 12), dtype=np.uint8)
    labels = np.arange(64) % 4
    path = tmp_path / f"{case}.npz"
    if case == "not_npz":
        path.write_text("not a zip")
    elif case == "one_class":
        _npz(path, images, np.zeros(64, int))
    elif case == "seven_by_seven":
        _npz(path, images[:, :7, :7], labels)
    else:  # one label far above the others would make a 10-million-way output layer
        _npz(path, images, np.where(np.arange(64) == 5, 10_000_000, labels))
    result = train("--dataset", path, "--model", "cnn", "--quick", logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert str(path) in one_line_error(result)
    assert not (tmp_path / "logs").exists()


def test_existing_run_name_is_refused(tmp_path):
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "keep.txt").write_text("precious")
    result = train("--run-name", "mine", "--quick", logdir=tmp_path)
    assert result.returncode == 2 and "--overwrite" in one_line_error(result)
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]


def test_overwrite_never_replaces_a_folder_this_tool_did_not_make(tmp_path):
    # --logdir project --run-name src --overwrite once deleted the user's project/src/main.py.
    source = tmp_path / "project" / "src"
    source.mkdir(parents=True)
    (source / "main.py").write_text("print('mine')")
    result = train("--run-name", "src", "--overwrite", "--model", "linear", "--opt", "sgd", "--quick",
                   logdir=tmp_path / "project")
    assert result.returncode == 2 and "not made by train.py" in one_line_error(result)
    assert [p.name for p in source.iterdir()] == ["main.py"]


def test_overwrite_replaces_only_once_the_new_run_succeeded(tmp_path):
    args = ["--run-name", "r1", "--model", "linear", "--opt", "sgd", "--quick"]
    assert train(*args, logdir=tmp_path).returncode == 0
    before = tree_digest(tmp_path / "r1")
    # A new run that fails (here: the disk check passes, the data does not suit the CNN, so
    # it fails before training) leaves the old run as it was.
    bad = _npz(tmp_path / "seven.npz", np.zeros((8, 7, 7), np.uint8), np.arange(8) % 2)
    failed = train("--run-name", "r1", "--overwrite", "--model", "cnn", "--quick", "--dataset", bad, logdir=tmp_path)
    assert failed.returncode == 2
    assert tree_digest(tmp_path / "r1") == before
    # One that succeeds replaces it, and nothing else is left beside it.
    replaced = train("--run-name", "r1", "--overwrite", "--model", "linear", "--opt", "adam", "--quick",
                     logdir=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert set(read_summary(tmp_path / "r1")) == {("linear", "adam")}
    assert sorted(os.listdir(tmp_path)) == ["r1", "seven.npz"]


# train.py, with Ctrl-C pressed just as the module argv[1] starts to load (a real SIGINT).
_CTRL_C_DURING_IMPORT = """import os, runpy, signal, sys

class CtrlC:
    def __init__(self, module):
        self.module = module

    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC(sys.argv[1]))
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("module", ["numpy", "tensorflow.python", "jaxlib"])
def test_ctrl_c_before_training_prints_no_traceback(tmp_path, module):
    # Ctrl-C while train.py's own imports run (numpy, before the comparison's handlers are
    # installed: it was a KeyboardInterrupt traceback), while TensorFlow imports, and inside
    # `import keras` as JAX's native modules load (an interrupt there crashed the process):
    # a clean stop, nothing written.
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")  # Keras imports JAX only when it is
    result = subprocess.run([sys.executable, "-c", _CTRL_C_DURING_IMPORT, module, os.path.join(ROOT, "train.py"),
                             "--quick", "--logdir", str(tmp_path / "logs")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr and "Interrupted before training started" in result.stderr
    assert not (tmp_path / "logs").exists()


def test_pipe_closed_early_prints_no_traceback(tmp_path):
    # `python train.py | head -2`: the rest of the output has nowhere to go; the run finishes.
    command = (f"{sys.executable} {os.path.join(ROOT, 'train.py')} --model linear --opt sgd --quick "
               f"--logdir {tmp_path} | head -2")
    result = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert glob.glob(os.path.join(tmp_path, "*", "summary.json"))
