"""Sweeps over learning rates and seeds: every trial against an independent float64 training,
the best learning rate and spread recomputed from the trials, and the study's promises:
resume after Ctrl-C, two workers sharing one sweep, each trial run once."""

import os
import re
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import reference
from data import load_regression
from runs import event_files, plugin_tags, read_summary, read_trials, run_folders, start_train, train

SWEEP = ["--model", "linear", "--opt", "sgd", "momentum", "--lr", "0.01", "0.1", "0.5", "--seeds", "2", "--quick"]
STEPS = 50  # --quick


def float64_linear_training(optimizer, learning_rate, seed, steps=STEPS):
    """The article's full-batch regression trained in float64 numpy with the rule from
    tests/reference.py: (final train loss, final validation loss)."""
    x, y = load_regression(seed=seed)
    x_val, y_val = load_regression(seed=seed + 1)
    w, state = np.array([[2.0], [3.0]]), {}
    # Keras keeps the learning rate in a float32 variable.
    rate = float(np.float32(learning_rate))
    for t in range(1, steps + 1):
        gradient = 2 * x.T @ (x @ w - y) / len(x)
        w, state = reference.RULES[optimizer](w, gradient, state, t, learning_rate=rate)
    return float(np.mean((x @ w - y) ** 2)), float(np.mean((x_val @ w - y_val) ** 2))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("sweep")
    result = train(*SWEEP, "--run-name", "whole", logdir=logdir)
    assert result.returncode == 0, result.stderr
    return logdir / "whole", result


def _numbers(run_dir):
    return {row["run"]: (row["train_loss"], row["val_loss"], row["status"]) for row in read_trials(run_dir)}


def test_every_trial_equals_an_independent_float64_training(sweep):
    run_dir, _ = sweep
    rows = read_trials(run_dir)
    assert len(rows) == 12
    assert {(r["optimizer"], float(r["learning_rate"]), int(r["seed"])) for r in rows} == {
        (o, lr, s) for o in ("sgd", "momentum") for lr in (0.01, 0.1, 0.5) for s in (42, 43)}
    for row in rows:
        train_loss, val_loss = float64_linear_training(row["optimizer"], float(row["learning_rate"]), int(row["seed"]))
        # The model trains in float32: 50 steps accumulate a few ulps of rounding.
        assert float(row["train_loss"]) == pytest.approx(train_loss, rel=2e-6), row["run"]
        assert float(row["val_loss"]) == pytest.approx(val_loss, rel=2e-6), row["run"]
        assert row["status"] == "ok" and int(row["epochs"]) == STEPS


def test_best_learning_rate_is_the_lowest_mean_validation_loss_with_its_spread(sweep):
    run_dir, _ = sweep
    rows, summary = read_trials(run_dir), read_summary(run_dir)
    for optimizer in ("sgd", "momentum"):
        by_rate = {}
        for row in rows:
            if row["optimizer"] == optimizer:
                by_rate.setdefault(float(row["learning_rate"]), []).append(float(row["val_loss"]))
        best = min(by_rate, key=lambda lr: statistics.fmean(by_rate[lr]))
        got = summary["linear", optimizer]
        assert got["learning_rate"] == best and got["seeds"] == 2
        assert got["val_loss"] == pytest.approx(statistics.fmean(by_rate[best]), rel=1e-12)
        assert got["val_loss_std"] == pytest.approx(statistics.stdev(by_rate[best]), rel=1e-9)
        assert got["best_lr_at_grid_edge"] == (best in (0.01, 0.5))


def test_best_learning_rate_at_the_grid_edge_is_flagged(tmp_path):
    # On the linear model at 50 steps, SGD's loss keeps falling as the rate grows to 0.3.
    result = train("--model", "linear", "--opt", "sgd", "--lr", "0.03", "0.1", "0.3", "--quick", logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    row = read_summary(run_folders(tmp_path)[0])["linear", "sgd"]
    assert row["learning_rate"] == 0.3 and row["best_lr_at_grid_edge"] is True
    assert "edge of the grid" in result.stdout


def test_sweep_grid_spans_seven_rates_over_three_decades_with_three_seeds():
    import train as cli
    from comparison.options import check_options
    from comparison.rules import registry_rule
    from comparison.trials import plan
    from models import MODELS

    options = check_options(**cli.parse_args(["--sweep", "--model", "linear", "cnn"]))
    data = {"linear": MODELS["linear"].load("digits"), "cnn": MODELS["cnn"].load("digits", quick=True)}
    rules = [registry_rule(name) for name in ("sgd", "momentum", "rmsprop", "adam")]
    trials, _ = plan(options, rules, data, MODELS)
    for model in ("linear", "cnn"):
        for optimizer in ("sgd", "momentum", "rmsprop", "adam"):
            mine = [t for t in trials if (t.model, t.optimizer) == (model, optimizer)]
            rates = sorted({t.learning_rate for t in mine})
            assert len(rates) >= 7 and rates[-1] / rates[0] >= 10**3 * 0.99
            assert {t.seed for t in mine} == {42, 43, 44}
            assert len(mine) == len(rates) * 3


def _progress_lines(text):
    return re.findall(r"^\[\d+/\d+\] (\S+ / \S+, lr \S+, seed \d+):", text, re.MULTILINE)


def _read_stdout(process, into):
    for chunk in iter(lambda: process.stdout.read(1), b""):
        into.extend(chunk)


def test_ctrl_c_then_resume_equals_an_uninterrupted_sweep(sweep, tmp_path):
    whole_dir, _ = sweep
    args = [*SWEEP, "--epochs", "400", "--run-name", "r"]
    first = start_train(*args, logdir=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = bytearray()
    reader = threading.Thread(target=_read_stdout, args=(first, output))
    reader.start()
    deadline = time.monotonic() + 300
    while len(_progress_lines(output.decode())) < 3 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(2)
    stderr = first.communicate(timeout=120)[1].decode()
    reader.join()
    assert first.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    before = set(_progress_lines(output.decode()))
    assert 3 <= len(before) < 12

    resumed = train(*args, "--resume", logdir=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    after = _progress_lines(resumed.stdout)
    # The finished trials were not rerun; the rest ran once each.
    assert not before & set(after) and len(before) + len(after) == 12

    reference_run = train(*SWEEP, "--epochs", "400", "--run-name", "whole400", logdir=tmp_path)
    assert reference_run.returncode == 0
    assert _numbers(tmp_path / "r") == _numbers(tmp_path / "whole400")
    _each_trial_once_in_tensorboard(tmp_path / "r")


def _each_trial_once_in_tensorboard(run_dir):
    for row in read_trials(run_dir):
        folder = os.path.join(run_dir, row["run"])
        assert len(event_files(folder)) == 1, folder
        assert "_hparams_/session_start_info" in plugin_tags(folder, "hparams")


def test_two_workers_split_one_sweep_and_run_each_trial_once(sweep, tmp_path):
    whole_dir, _ = sweep
    args = [*SWEEP, "--run-name", "shared", "--resume"]
    workers = [start_train(*args, logdir=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
    ran = [line for stdout, _ in outputs for line in _progress_lines(stdout)]
    assert len(ran) == 12 and len(set(ran)) == 12
    assert _numbers(tmp_path / "shared") == _numbers(whole_dir)
    _each_trial_once_in_tensorboard(tmp_path / "shared")


_RACING_WORKER = """
import sys
from comparison import study as sweep
from comparison.results import TrialResult
from comparison.trials import Trial
storage, count = sys.argv[1], int(sys.argv[2])
trials = [Trial("linear", "sgd", 0.1, seed) for seed in range(count)]
study = sweep.open_study(storage, "race", trials, create=False)
ran = sweep.run_worker(study, trials, lambda trial: TrialResult(trial, "ok", 1, 0.0, {"val_loss": [1.0]}))
print("\\n".join(ran))
"""


def test_workers_racing_on_a_sqlite_study_never_take_the_same_trial(tmp_path):
    # SQLite ignores SELECT ... FOR UPDATE, which Optuna relies on to hand a waiting trial
    # to one worker: without BEGIN IMMEDIATE, workers that ask at the same moment take the
    # same trial and all but one fail with "Cannot tell a COMPLETE trial". Trials that
    # take no time make the workers ask all the time.
    from comparison import study as sweep
    from comparison.trials import Trial
    from runs import ROOT

    count = 120
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    sweep.open_study(storage, "race", [Trial("linear", "sgd", 0.1, seed) for seed in range(count)], create=True)
    workers = [subprocess.Popen([sys.executable, "-c", _RACING_WORKER, storage, str(count)], cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": ROOT})
               for _ in range(4)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, stderr) in zip(workers, outputs):
        assert worker.returncode == 0, stderr
    ran = sorted(name for stdout, _ in outputs for name in stdout.split())
    assert ran == sorted(Trial("linear", "sgd", 0.1, seed).name for seed in range(count))


_SILENT_WORKER = """
import os, sys, time
from comparison import study as sweep
from comparison.results import TrialResult
from comparison.trials import Trial
# One heartbeat when the trial starts, then none for longer than the test: to the other
# worker this one looks stopped (Ctrl-Z, a machine asleep) once GRACE_SECONDS have passed.
sweep.HEARTBEAT_SECONDS, sweep.GRACE_SECONDS = 3600, 2
storage, loss, go = sys.argv[1], float(sys.argv[2]), sys.argv[3]
trials = [Trial("linear", "sgd", 0.1, 0)]

def run_trial(trial):
    print("started", flush=True)
    while not os.path.exists(go):
        time.sleep(0.05)
    return TrialResult(trial, "ok", 1, 0.0, {"val_loss": [loss]})

print("ran", *sweep.run_worker(sweep.open_study(storage, "silent", trials, create=False), trials, run_trial))
"""


def test_a_worker_silent_past_the_grace_period_leaves_its_trial_to_the_one_that_reran_it(tmp_path):
    # Worker A sends no heartbeat after its trial starts; B finds the trial stale, fails it
    # and runs it again. When A then finishes, Optuna refuses its result ("Cannot tell a
    # FAIL trial"): A says so and exits normally, and B's result is the trial's.
    from comparison import study as sweep
    from comparison.trials import Trial
    from runs import ROOT

    storage, go = f"sqlite:///{tmp_path / 'study.db'}", tmp_path / "go"
    trials = [Trial("linear", "sgd", 0.1, 0)]
    sweep.open_study(storage, "silent", trials, create=True)

    def worker(loss):
        return subprocess.Popen([sys.executable, "-c", _SILENT_WORKER, storage, str(loss), str(go)], cwd=ROOT,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": ROOT})

    a = worker(1.0)
    try:
        assert a.stdout.readline() == "started\n"
        b = worker(2.0)
        assert b.stdout.readline() == "started\n"  # A's trial, failed as stale and run again
        go.touch()
        b_out, b_err = b.communicate(timeout=300)
    finally:
        go.touch()
    a_out, a_err = a.communicate(timeout=300)
    assert a.returncode == 0 and b.returncode == 0, a_err + b_err
    assert f"{trials[0].name}: this worker sent no heartbeat" in a_err
    assert a_out.split() == ["ran"]
    assert b_out.split() == ["ran", trials[0].name]
    study = sweep.open_study(storage, "silent", trials, create=False)
    assert len(study.trials) == 2
    assert sweep.finished_results(study, trials)[trials[0].name].final("val_loss") == 2.0


def test_a_study_locked_past_the_wait_is_a_one_line_problem_not_a_hang(tmp_path, monkeypatch):
    # Another process holds SQLite's write lock (a worker stopped with Ctrl-Z mid-write):
    # after the busy wait the worker gets an error that train.py reports in one line.
    import sqlite3

    from comparison import study as sweep
    from runtime.run_folder import storage_problem
    from comparison.trials import Trial

    monkeypatch.setattr(sweep, "_SQLITE_BUSY_SECONDS", 0.2)
    trials = [Trial("linear", "sgd", 0.1, 0)]
    study = sweep.open_study(f"sqlite:///{tmp_path / 'study.db'}", "locked", trials, create=True)
    holder = sqlite3.connect(tmp_path / "study.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception) as caught:
            sweep.run_worker(study, trials, lambda trial: pytest.fail("ran a trial without the lock"))
    finally:
        holder.execute("ROLLBACK")
    assert storage_problem(caught.value).startswith("the study's database: locked by another worker")
    assert storage_problem(RuntimeError("something else")) is None


def test_reused_compiled_model_gives_a_fresh_models_results(tmp_path):
    # Trials that differ only in learning rate and seed share one compiled two-weight model
    # (see comparison.training.Trainer): the results must be bit for bit a fresh one's.
    code = """
import os, sys, numpy as np
from comparison.devices import start
devices = start("tensorflow", "cpu")
from comparison.rules import registry_rule
from comparison.tensorboard import Experiment
from comparison.training import Trainer
from comparison.trials import Trial
from models import MODELS
data = MODELS["linear"].load("digits")
for rule in ("sgd", "momentum", "rmsprop", "adam"):
    first = Trial("linear", rule, 0.3, 7, (), 40, 10, "regression")
    second = Trial("linear", rule, 0.05, 9, (), 40, 10, "regression")
    rules, x = {rule: registry_rule(rule)}, Experiment("x", ("x",), (rule,), "7-9")
    fresh = Trainer(MODELS, rules, devices, 0).train(second, data, os.path.join(sys.argv[1], rule + "-fresh"), x)
    trainer = Trainer(MODELS, rules, devices, 0)
    trainer.train(first, data, os.path.join(sys.argv[1], rule + "-first"), x)
    reused = trainer.train(second, data, os.path.join(sys.argv[1], rule + "-reused"), x)
    assert len(trainer._compiled) == 1
    assert np.array_equal(fresh.path, reused.path), rule
    assert fresh.history == reused.history, rule
print("identical")
"""
    from runs import ROOT

    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert result.stdout.strip().endswith("identical"), result.stderr
