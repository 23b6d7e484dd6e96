import os

import pytest

# Quiet TensorFlow's C++ start-up banner; Python warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# JAX computes in float32 unless 64-bit mode is on: without it a float64 variable silently
# holds float32 values (tests/test_optimizers.py::test_float64_on_jax_needs_x64 shows it),
# and the float64 reference tests would compare float32 results. The flag is read when jax
# is first imported, so it is set here, before any test imports Keras; TensorFlow and
# PyTorch never read it. setdefault: JAX_ENABLE_X64=0 on the command line still wins.
os.environ.setdefault("JAX_ENABLE_X64", "1")


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the session's own (tests/postgres_server.py). Skips where
    PostgreSQL is not installed, except in CI (CI=true), where that fails the test."""
    from postgres_server import missing, serve

    problem = missing()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true, and {problem}")
        pytest.skip(problem)
    with serve() as server:
        yield server
