"""Data-parallel training gives one device's results: two replicas against one, on each engine.

There are no accelerators here, so TRAIN_CPU_DEVICES=2 (comparison/devices.py) splits the CPU
into two devices: TensorFlow logical devices under tf.distribute.MirroredStrategy, JAX host
devices under keras.distribution.DataParallel. A process's devices are fixed when its
backend starts, so each engine runs in a subprocess of its own.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from backend_runs import AS_USERS_RUN, REPLICAS, assert_same_losses, installed, quick_linear
from runs import ROOT, one_line_error, train

ENGINES = {"tensorflow": "tf.distribute.MirroredStrategy", "jax": "keras.distribution.DataParallel"}
RULES = ("sgd", "momentum", "rmsprop", "adam")
# Float32 rounding: each step's gradient is the mean of two half-batch means instead of one
# mean over the batch, a sum in another order, so it differs in its last bit or two; 12
# steps carry that into the weights (2.8 ulps at most, measured). 8 ulps of each tensor's
# largest weight bounds it; training moves the weights by millions of ulps.
ULPS = 8


def needs(backend):
    return pytest.mark.skipif(not installed(backend), reason=f"{backend} is not installed")


@pytest.fixture(scope="module", params=[pytest.param(b, marks=needs(b)) for b in ENGINES])
def trained(request, tmp_path_factory):
    """tests/distribute_check.py on one engine: the weights it saved, and what it printed."""
    out = tmp_path_factory.mktemp(request.param) / "weights.npz"
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "distribute_check.py"), request.param,
                             str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, **AS_USERS_RUN, "TRAIN_CPU_DEVICES": str(REPLICAS)})
    assert result.returncode == 0, result.stderr[-4000:]
    with np.load(out) as weights:
        return request.param, dict(weights), result.stdout


def test_two_replicas_are_set_up(trained):
    engine, _, stdout = trained
    assert f"Data parallel: {REPLICAS} replicas (" in stdout and f"with {ENGINES[engine]}" in stdout


@pytest.mark.parametrize("rule", RULES)
def test_two_replicas_give_one_devices_weights(trained, rule):
    _, weights, _ = trained
    tensors = sorted(k.split("/")[-1] for k in weights if k.startswith(f"{rule}/one/"))
    assert len(tensors) == 4  # two Dense layers' kernels and biases
    eps = np.finfo("float32").eps
    for i in tensors:
        one, replicas, initial = weights[f"{rule}/one/{i}"], weights[f"{rule}/replicas/{i}"], weights[f"initial/{i}"]
        assert one.dtype == replicas.dtype == np.float32
        tolerance = ULPS * eps * np.abs(one).max()
        np.testing.assert_allclose(replicas, one, rtol=0, atol=tolerance, err_msg=f"{rule} weights {i}")
        # Not a vacuous match: training moved every tensor far beyond the tolerance.
        assert np.abs(one - initial).max() > 1000 * tolerance, (rule, i)


@pytest.mark.parametrize("engine", [pytest.param(b, marks=needs(b)) for b in ENGINES])
def test_quick_cli_run_on_two_replicas_gives_one_devices_losses(engine):
    result, run_dir = quick_linear(engine, distribute=True)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Device: CPU ({os.cpu_count()} cores as {REPLICAS} devices")
    assert lines[1].startswith(f"Data parallel: {REPLICAS} replicas (") and lines[1].endswith(ENGINES[engine])
    _, reference_dir = quick_linear("tensorflow")
    assert_same_losses(run_dir, reference_dir)


def test_distribute_on_one_device_trains_there(tmp_path):
    result = train("--quick", "--model", "linear", "--opt", "sgd", "--epochs", "2", "--distribute",
                   "--backend", "tensorflow", logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("Data parallel: one device (")


@pytest.mark.parametrize("args, env, words", [
    # 7 and 100 % 7 = 2 cannot both be halved.
    (["--model", "linear", "--batch-size", "7"], {"TRAIN_CPU_DEVICES": "2"},
     "--distribute over 2 devices: linear trains on batches of 2 and 7"),
    (["--model", "bumpy"], {"TRAIN_CPU_DEVICES": "2"}, "a surface takes one point per step"),
    (["--model", "linear"], {"TRAIN_CPU_DEVICES": "two"}, "TRAIN_CPU_DEVICES='two': expected a whole number"),
    pytest.param(["--model", "linear", "--backend", "torch"], {},
                 "--distribute: Keras's torch backend has no data-parallel fit", marks=needs("torch")),
])
def test_what_cannot_train_data_parallel_is_one_line_error(tmp_path, args, env, words):
    logdir = tmp_path / "logs"
    result = train("--quick", "--distribute", *args, logdir=logdir, env=env)
    assert result.returncode == 2
    assert words in one_line_error(result)
    assert not logdir.exists()
