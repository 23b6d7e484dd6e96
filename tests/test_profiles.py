"""Performance profiles against their definition, recomputed independently from what a run
leaves (trials.csv, the trials' curves read back with TensorBoard's reader) and the fixed
targets in the registry; and MNIST-1D as the command line runs it, offline."""

import csv
import math
import os
import shutil
import statistics
import subprocess
import sys

import numpy as np
import pytest

from models import MODELS
from runs import ROOT, read_trials, run_folders, scalars, train

# linear (50 steps) and bumpy, where RMSProp settles in the shallow dip, above the target,
# and never reaches it.
RUN = ["--model", "linear", "bumpy", "--lr", "0.1", "0.3", "--seeds", "2", "--quick", "--run-name", "p"]


@pytest.fixture(scope="module")
def profiled(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("profile")
    result = train(*RUN, logdir=logdir)
    assert result.returncode == 0, result.stderr
    with open(logdir / "p" / "profile.csv") as f:
        return logdir / "p", list(csv.DictReader(f)), result.stdout


def _expected(run_dir):
    """The profile by its definition, from trials.csv, the event files and the registry."""
    trials, curves = read_trials(run_dir), scalars(run_dir)
    found = {}
    for model in ("linear", "bumpy"):
        metric = "val_loss" if MODELS[model].validates else "train_loss"
        for optimizer in ("sgd", "momentum", "rmsprop", "adam"):
            rows = [r for r in trials if (r["model"], r["optimizer"]) == (model, optimizer)]
            by_rate = {}
            for r in rows:
                by_rate.setdefault(float(r["learning_rate"]), []).append(r)
            best = min(by_rate, key=lambda lr: (statistics.fmean(float(r[metric]) for r in by_rate[lr]), lr))
            seeds = by_rate[best]
            # The mean curve over seeds, epochs 1..N (step 0 of a two-weight model is its start).
            series = [dict(curves[r["run"], f"{model}/{metric}"]) for r in seeds]
            epochs = int(seeds[0]["epochs"])
            mean = [statistics.fmean(s[e] for s in series) for e in range(1, epochs + 1)]
            reached = next((e for e, v in enumerate(mean, 1) if v <= MODELS[model].target), None)
            per_epoch = statistics.fmean(float(r["seconds"]) / int(r["epochs"]) for r in seeds)
            found[model, optimizer] = {"learning_rate": best, "epochs": reached,
                                       "seconds": None if reached is None else reached * per_epoch}
    for unit in ("epochs", "seconds"):
        for model in ("linear", "bumpy"):
            times = {o: math.inf if v[unit] is None else v[unit] for (m, o), v in found.items() if m == model}
            fastest = min(times.values())
            for optimizer, t in times.items():
                found[model, optimizer][f"ratio_{unit}"] = t / fastest if math.isfinite(fastest) else math.inf
    scores = {}
    for optimizer in ("sgd", "momentum", "rmsprop", "adam"):
        for unit in ("epochs", "seconds"):
            ratios = [found[m, optimizer][f"ratio_{unit}"] for m in ("linear", "bumpy")]
            # The area under rho(tau) = share of problems with r <= tau, from 1 to 4, over 3,
            # integrated numerically on a fine grid (the implementation does it exactly).
            taus = np.linspace(1, 4, 300_001)
            rho = np.mean([[r <= t for t in taus] for r in ratios], axis=0)
            scores[optimizer, unit] = float(np.trapezoid(rho, taus) / 3)
    return found, scores


def test_profile_csv_is_the_definition_recomputed(profiled):
    run_dir, rows, _ = profiled
    expected, scores = _expected(run_dir)
    assert {(r["model"], r["optimizer"]) for r in rows} == set(expected)
    never = [key for key, value in expected.items() if value["epochs"] is None]
    assert ("bumpy", "rmsprop") in never  # a rule that never reaches its target is in the profile
    for row in rows:
        want = expected[row["model"], row["optimizer"]]
        assert float(row["learning_rate"]) == want["learning_rate"]
        assert float(row["target"]) == MODELS[row["model"]].target
        if want["epochs"] is None:
            assert row["epochs_to_target"] == "" and row["ratio_epochs"] == "inf" and row["ratio_seconds"] == "inf"
        else:
            assert int(row["epochs_to_target"]) == want["epochs"]
            assert float(row["seconds_to_target"]) == pytest.approx(want["seconds"], rel=1e-12)
            for unit in ("epochs", "seconds"):
                assert float(row[f"ratio_{unit}"]) == pytest.approx(want[f"ratio_{unit}"], rel=1e-12)
        for unit in ("epochs", "seconds"):
            # The fine grid's trapezoids err by at most a step's width per jump.
            assert float(row[f"score_{unit}"]) == pytest.approx(scores[row["optimizer"], unit], abs=1e-4)


def test_the_scores_are_printed_and_the_figure_is_written(profiled):
    run_dir, rows, stdout = profiled
    assert os.path.isfile(run_dir / "performance_profile.png")
    scores = {r["optimizer"]: float(r["score_epochs"]) for r in rows}
    line = next(line for line in stdout.splitlines() if line.strip().startswith("in epochs:"))
    for optimizer, value in scores.items():
        assert f"{optimizer} {value:.3f}" in line


def test_one_model_has_no_profile(tmp_path):
    assert train("--model", "bumpy", "--opt", "sgd", "adam", "--epochs", "20", logdir=tmp_path).returncode == 0
    assert not os.path.exists(os.path.join(run_folders(tmp_path)[0], "profile.csv"))


def test_mnist1d_runs_offline_in_a_network_namespace_of_its_own(tmp_path):
    # The data is generated by mnist1d.make_dataset, never downloaded: with no network at
    # all (`unshare -n`), a fresh cache folder, the CLI still trains on it.
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("unshare -n (a network namespace of its own) is not available here")
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras")}
    result = subprocess.run(["unshare", "-n", sys.executable, os.path.join(ROOT, "train.py"), "--model", "mnist1d",
                             "--opt", "adam", "--quick", "--logdir", str(tmp_path / "logs")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    (row,) = read_trials(run_folders(tmp_path / "logs")[0])
    assert row["status"] == "ok" and row["epochs"] == "2"
    assert float(row["val_accuracy"]) > 0.2  # 10 classes: above chance after two epochs on the subset
    assert os.path.isfile(tmp_path / "keras" / "datasets" / "mnist1d-defaults.npz")


def test_mnist1d_is_the_generators_data_and_the_authors_model():
    from data import load_mnist1d
    from models import build_mnist1d_cnn

    (x_train, y_train), (x_test, y_test) = load_mnist1d()
    assert x_train.shape == (4000, 40, 1) and x_test.shape == (1000, 40, 1)
    assert set(np.unique(y_train)) == set(range(10))
    # The generator standardises all 5,000 signals together.
    both = np.concatenate([x_train, x_test])
    assert abs(both.mean()) < 1e-6 and both.std() == pytest.approx(1.0, abs=1e-5)
    model = build_mnist1d_cnn((40, 1), 10)
    # The authors' ConvBase: 150 + 1,900 + 1,900 + 1,260 weights, lengths 40 -> 19 -> 10 -> 5.
    assert model.count_params() == 5210
    assert [layer.output.shape[1] for layer in model.layers if "conv1d" in layer.name] == [19, 10, 5]
