"""The same results on every Keras backend: the optimizer tests, and the CLI's linear model
against TensorFlow's; and the one-line errors for a backend or device that is not there.

Each backend runs in a process of its own (Keras picks its backend once, at import). A
backend that is not installed is skipped with the reason; PyTorch is not in CI.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest

from backend_runs import BACKENDS, SESSION_BACKEND, assert_same_losses, installed, quick_linear
from runs import ROOT, one_line_error, train

# The optimizer tests run in this session on its own backend; here on each of the others.
OTHER_BACKENDS = [b for b in BACKENDS if b != SESSION_BACKEND]


def needs(backend):
    return pytest.mark.skipif(not installed(backend), reason=f"{backend} is not installed")


@pytest.mark.parametrize("backend", [pytest.param(b, marks=needs(b)) for b in OTHER_BACKENDS])
def test_optimizer_tests_pass_on(backend):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_optimizers.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200, env={**os.environ, "KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b\d+ passed\b", summary) and "failed" not in summary, summary


@pytest.mark.parametrize("backend", [pytest.param(b, marks=needs(b)) for b in ("jax", "torch")])
def test_quick_linear_run_gives_tensorflows_losses(backend):
    result, run_dir = quick_linear(backend)
    _, reference_dir = quick_linear("tensorflow")
    assert_same_losses(run_dir, reference_dir)
    # The device line is Keras's own answer about the backend that trained.
    assert result.stdout.splitlines()[0] == f"Device: CPU ({os.cpu_count()} cores, no GPU found), Keras backend {backend}"


def test_backend_flag_wins_over_the_environment():
    # quick_linear runs TensorFlow with KERAS_BACKEND=jax and --backend tensorflow.
    result, _ = quick_linear("tensorflow")
    assert result.stdout.splitlines()[0].endswith("Keras backend tensorflow")


@pytest.mark.parametrize("args, env, words", [
    (["--backend", "numpy"], {}, "--backend: expected one of tensorflow, jax, torch, got 'numpy'"),
    ([], {"KERAS_BACKEND": "numpy"}, "got 'numpy' (the default, from $KERAS_BACKEND)"),
])
def test_unknown_backend_is_one_line_error(tmp_path, args, env, words):
    result = train("--quick", *args, logdir=tmp_path / "logs", env=env)
    assert result.returncode == 2
    assert words in one_line_error(result)
    assert not (tmp_path / "logs").exists()


@pytest.mark.skipif(all(installed(b) for b in BACKENDS), reason="every backend is installed")
def test_backend_not_installed_is_one_line_error(tmp_path):
    missing = next(b for b in BACKENDS if not installed(b))
    result = train("--quick", "--backend", missing, logdir=tmp_path / "logs")
    assert result.returncode == 2
    assert f"--backend: {missing} is not installed (" in one_line_error(result)
    assert not (tmp_path / "logs").exists()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine may have a GPU")
@pytest.mark.parametrize("backend", [pytest.param(b, marks=needs(b)) for b in ("jax", "torch")])
@pytest.mark.parametrize("flag, words", [
    ("--device=gpu", "--device gpu: {name} sees no GPU on this machine"),
    ("--mixed-precision", "--mixed-precision needs a GPU"),
])
def test_no_gpu_is_one_line_error_from_the_backend_itself(tmp_path, backend, flag, words):
    result = train("--quick", "--model", "linear", "--backend", backend, flag, logdir=tmp_path / "logs")
    assert result.returncode == 2
    name = {"jax": "JAX", "torch": "PyTorch"}[backend]
    assert words.format(name=name) in one_line_error(result)
    assert not (tmp_path / "logs").exists()
