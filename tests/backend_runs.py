"""train.py's quick linear run on each backend, run once per test session and shared by
test_backends.py and test_distribute.py, and the comparison of two such runs' losses."""

import atexit
import functools
import importlib.util
import os
import shutil
import tempfile

import numpy as np

from comparison.devices import BACKENDS, default_backend  # imports no backend
from runs import read_trials, scalars, train

# The backend this pytest session itself runs on (tests/test_optimizers.py runs in-process).
SESSION_BACKEND = default_backend()
# TRAIN_CPU_DEVICES (see comparison/devices.py) splits the CPU into this many devices.
REPLICAS = 2

# Relative tolerance on every logged loss of the linear model, per rule. Two backends (or
# one device and two replicas) do the same float32 math in a different order, so their
# weights differ in the last bits and the float64 losses computed from them by about 1e-7.
# RMSProp divides g by sqrt(s), which shrinks with the gradient near the optimum, where its
# step stays near lr and it jitters (README, "What a longer run shows"): a last-bit
# difference in g is amplified there instead of damped, so it gets 1e-4.
LOSS_RTOL = {"sgd": 1e-6, "momentum": 1e-6, "rmsprop": 1e-4, "adam": 1e-6}


# tests/conftest.py turns on JAX's 64-bit mode for the float64 tests; train.py runs as users
# run it, in JAX's default 32-bit mode.
AS_USERS_RUN = {"JAX_ENABLE_X64": "0"}


def installed(backend):
    return importlib.util.find_spec(backend) is not None


_logdir = None


def _fresh_logdir():
    global _logdir
    if _logdir is None:
        _logdir = tempfile.mkdtemp(prefix="backend-runs-")
        atexit.register(shutil.rmtree, _logdir, ignore_errors=True)
    return tempfile.mkdtemp(dir=_logdir)


@functools.cache
def quick_linear(backend, distribute=False):
    """`train.py --quick --model linear` on `backend` (and `--distribute` over REPLICAS CPU
    devices): (the completed process, its run folder).

    The JAX run picks its backend from $KERAS_BACKEND, the others name theirs with
    --backend while $KERAS_BACKEND says jax: between them they show both ways of choosing,
    and that the flag wins.
    """
    env = {"KERAS_BACKEND": "jax", **AS_USERS_RUN}
    args = ["--quick", "--model", "linear", "--run-name", "run"]
    if backend != "jax":
        args += ["--backend", backend]
    if distribute:
        args.append("--distribute")
        env["TRAIN_CPU_DEVICES"] = str(REPLICAS)
    logdir = _fresh_logdir()
    result = train(*args, logdir=logdir, env=env)
    assert result.returncode == 0, result.stderr
    return result, os.path.join(logdir, "run")


def losses(run_dir):
    """{(trial's run name, tag): losses per step} of every loss curve the trials logged (not
    their one final HParams value, nor the mean runs, which average these curves)."""
    trials = {row["run"] for row in read_trials(run_dir)}
    return {(folder, tag): np.array([value for _, value in values]) for (folder, tag), values in scalars(run_dir).items()
            if "loss" in tag and not tag.startswith("hparams/") and folder in trials}


def assert_same_losses(run_dir, reference_dir):
    """Every loss logged in `run_dir` equals `reference_dir`'s, step by step, to LOSS_RTOL."""
    rules = {row["run"]: row["optimizer"] for row in read_trials(reference_dir)}
    ours, theirs = losses(run_dir), losses(reference_dir)
    assert set(ours) == set(theirs)
    compared = set()
    for (folder, tag), reference in theirs.items():
        # A trial's event files are in its run folder or in one below it.
        rule = next(rule for run, rule in rules.items() if folder == run or folder.startswith(run + "/"))
        assert len(reference) == 51, (folder, tag)  # the start and 50 steps
        np.testing.assert_allclose(ours[folder, tag], reference, rtol=LOSS_RTOL[rule], atol=0,
                                   err_msg=f"{folder} {tag}")
        compared.add(rule)
    assert compared == set(LOSS_RTOL)
