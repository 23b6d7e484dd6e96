"""The four rules against independent references: the article's golden values (docs/article.md),
float64 numpy implementations of each rule, PyTorch's operation order, and Keras's
built-ins where the math is the same."""

import decimal
import fractions
import importlib.util
import json
import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import reference
from optimizers import OPTIMIZERS, SGD, Adam, Momentum, RMSProp


def apply_steps(optimizer, w0, grads, dtype="float64"):
    """Runs `optimizer` from weights `w0` through the given gradients; returns the weights."""
    w = keras.Variable(np.asarray(w0), dtype=dtype)
    optimizer.build([w])
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g, dtype=dtype)], [w])
    return keras.ops.convert_to_numpy(w).astype("float64")


def reference_steps(rule, w0, grads, **hyperparameters):
    w, state = np.asarray(w0, dtype="float64"), {}
    for t, g in enumerate(grads, start=1):
        w, state = rule(w, np.asarray(g, dtype="float64"), state, t, **hyperparameters)
    return w


def float32_rounded(x):
    # Keras keeps the learning rate in a float32 variable, whatever the weights' dtype.
    return float(np.float32(x))


# --- The article's one step (golden values: docs/article.md) ---------------------------------------

@pytest.fixture(scope="module")
def article_gradient():
    np.random.seed(42)
    x1, x2, y = np.random.rand(100, 1), np.random.rand(100, 1), np.random.rand(100, 1)
    x = np.hstack([x1, x2])
    residual = x @ np.array([[2.0], [3.0]]) - y
    return (2 * np.mean(residual * x, axis=0)), float(np.mean(residual**2))


def test_article_loss_and_gradient(article_gradient):
    gradient, loss = article_gradient
    assert loss == pytest.approx(4.925758313790776, rel=1e-14)
    np.testing.assert_allclose(gradient, [2.14131327, 2.43144726], rtol=2e-8)


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("sgd", {}, [1.78586867, 2.75685527]),
        ("momentum", {}, [1.97858687, 2.97568553]),
        ("rmsprop", {}, [1.68377224, 2.68377224]),
        ("adam", {"bias_correction": False}, [1.68377228, 2.68377228]),
        ("adam", {"bias_correction": True}, [1.9, 2.9]),
    ],
)
def test_golden_one_step(article_gradient, name, kwargs, expected):
    gradient, _ = article_gradient
    optimizer = OPTIMIZERS[name](learning_rate=0.1, **kwargs)
    w = apply_steps(optimizer, [2.0, 3.0], [gradient])
    # The table is rounded to 8 decimals; float32(0.1) moves the result by < 5e-9.
    np.testing.assert_allclose(w, expected, rtol=2e-8)


# --- Many steps against the float64 reference ---------------------------------------------

# Non-default hyperparameters, chosen so each one matters to the result.
HYPERPARAMETERS = {
    "sgd": {"learning_rate": 0.003},
    "momentum": {"learning_rate": 0.07, "momentum": 0.73},
    "rmsprop": {"learning_rate": 0.0123, "rho": 0.77, "epsilon": 3e-4},
    "adam": {"learning_rate": 0.0311, "beta_1": 0.81, "beta_2": 0.993, "epsilon": 2e-3},
}


def varied_gradients(steps=50, seed=0):
    """Gradients from 1e-3 to 500 in size, per coordinate, with noisy magnitudes and signs."""
    rng = np.random.default_rng(seed)
    scales = np.array([1e-3, 0.2, 7.0, 500.0])
    return [scales * rng.uniform(0.3, 1.7, 4) * rng.choice([-1, 1, 1], 4) for _ in range(steps)]


CASES = [(name, {}) for name in OPTIMIZERS] + [("adam", {"bias_correction": False})]


@pytest.mark.parametrize("name, extra", CASES)
def test_fifty_steps_match_float64_reference(name, extra):
    hp = {**HYPERPARAMETERS[name], **extra}
    grads = varied_gradients()
    w0 = [0.5, -1.5, 2.0, 40.0]
    actual = apply_steps(OPTIMIZERS[name](**hp), w0, grads)
    expected = reference_steps(
        reference.RULES[name], w0, grads, **{**hp, "learning_rate": float32_rounded(hp["learning_rate"])}
    )
    np.testing.assert_allclose(actual, expected, rtol=1e-9)


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam"])
def test_hyperparameters_reach_the_math_at_full_precision(name):
    # 0.999-style constants are not float32-representable; going through float32 moves
    # them by ~1e-8 relative, which 50 steps with this reference would expose at 1e-9.
    hp = {"momentum": {"momentum": 0.999}, "rmsprop": {"rho": 0.999, "epsilon": 1e-3},
          "adam": {"beta_1": 0.999, "beta_2": 0.9999, "epsilon": 1e-3}}[name]
    grads = varied_gradients(steps=50, seed=1)
    w0 = [1.0, 1.0, 1.0, 1.0]
    actual = apply_steps(OPTIMIZERS[name](learning_rate=0.5, **hp), w0, grads)
    expected = reference_steps(reference.RULES[name], w0, grads, learning_rate=0.5, **hp)
    np.testing.assert_allclose(actual, expected, rtol=1e-10)


def learning_rate_with_zeros():
    """A warm-up from 0 and a later pause: the steps where the rate is 0 must leave the
    weights in place and still feed the averages, exactly as the article's rule does."""
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[2, 5, 7], values=[0.0, 0.3, 0.0, 0.1]
    )


@pytest.mark.parametrize("name, extra", CASES)
def test_schedule_with_zero_learning_rate_matches_float64_reference(name, extra):
    hp = {k: v for k, v in {**HYPERPARAMETERS[name], **extra}.items() if k != "learning_rate"}
    grads = varied_gradients(steps=12, seed=2)
    w0 = [0.5, -1.5, 2.0, 40.0]
    optimizer = OPTIMIZERS[name](learning_rate=learning_rate_with_zeros(), **hp)
    actual = apply_steps(optimizer, w0, grads)
    schedule = learning_rate_with_zeros()
    w, state = np.asarray(w0, dtype="float64"), {}
    for t, g in enumerate(grads, start=1):
        lr = float(keras.ops.convert_to_numpy(schedule(t - 1)))  # the rate Keras passes at step t
        w, state = reference.RULES[name](w, np.asarray(g), state, t, learning_rate=lr, **hp)
    np.testing.assert_allclose(actual, w, rtol=1e-9)
    # The first three steps have rate 0: the weights must not have moved before step 4.
    optimizer = OPTIMIZERS[name](learning_rate=learning_rate_with_zeros(), **hp)
    np.testing.assert_array_equal(apply_steps(optimizer, w0, grads[:3]), w0)


# What each slot holds, as the docstrings say, in terms of the reference's state.
SLOTS = {
    "momentum": {"momentum_buffer": lambda state, hp: state["v"] / (1 - hp["momentum"])},
    "rmsprop": {"velocity": lambda state, hp: state["s"]},
    "adam": {"momentum": lambda state, hp: state["m"], "velocity": lambda state, hp: state["v"]},
}


@pytest.mark.parametrize("name", list(SLOTS))
def test_slots_hold_what_the_docstrings_say(name):
    # A saved model's optimizer state must mean what the docstring says, so that it can be
    # read, and resumed, whatever the learning rate: a schedule changes none of the slots.
    hp = {k: v for k, v in HYPERPARAMETERS[name].items() if k != "learning_rate"}
    grads = varied_gradients(steps=20, seed=4)
    optimizer = OPTIMIZERS[name](learning_rate=learning_rate_with_zeros(), **hp)
    apply_steps(optimizer, [0.5, -1.5, 2.0, 40.0], grads)
    state = {}
    for t, g in enumerate(grads, start=1):
        _, state = reference.RULES[name](np.zeros(4), g, state, t, learning_rate=0.0, **hp)
    for slot, expected in SLOTS[name].items():
        (variable,) = [v for v in optimizer.variables if v.path.endswith("_" + slot)]
        actual = keras.ops.convert_to_numpy(variable)
        np.testing.assert_allclose(actual, expected(state, hp), rtol=1e-12)


# --- Parity with other libraries' forms ---------------------------------------------------

@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras's SGD on torch updates with torch._foreach_add_(w, g, alpha=-lr), one "
    "rounding for w - lr * g; ours rounds lr * g first, so some weights differ by one float32 ulp",
)
def test_sgd_equals_keras_sgd():
    grads = varied_gradients()
    ours = apply_steps(SGD(learning_rate=0.01), [1.0, 2.0, 3.0, 4.0], grads, dtype="float32")
    keras_sgd = apply_steps(
        keras.optimizers.SGD(learning_rate=0.01), [1.0, 2.0, 3.0, 4.0], grads, dtype="float32"
    )
    np.testing.assert_array_equal(ours, keras_sgd)


def test_momentum_equals_keras_sgd_with_damped_learning_rate():
    # Dyadic values: momentum, lr and lr * (1 - momentum) are exact in float32, so both
    # sides compute the same float64 math and only rounding order differs.
    lr, m = 0.5, 0.875
    grads = varied_gradients()
    ours = apply_steps(Momentum(learning_rate=lr, momentum=m), [1.0, 2.0, 3.0, 4.0], grads)
    keras_sgd = apply_steps(
        keras.optimizers.SGD(learning_rate=lr * (1 - m), momentum=m), [1.0, 2.0, 3.0, 4.0], grads
    )
    np.testing.assert_allclose(ours, keras_sgd, rtol=1e-12)


def test_momentum_with_schedule_follows_reference_not_keras_sgd():
    # The Keras-SGD equivalence needs a constant rate: Keras folds each step's rate into its
    # velocity, ours applies the current rate to the averaged gradient. Guard both halves.
    lr, m = 0.5, 0.875
    grads = varied_gradients(steps=10)

    def schedule(initial):
        return keras.optimizers.schedules.ExponentialDecay(initial, decay_steps=1, decay_rate=0.5)

    ours = apply_steps(Momentum(learning_rate=schedule(lr), momentum=m), [1.0] * 4, grads)
    w, state = np.ones(4), {}
    for t, g in enumerate(grads, start=1):
        w, state = reference.momentum(w, g, state, t, learning_rate=lr * 0.5 ** (t - 1), momentum=m)
    np.testing.assert_allclose(ours, w, rtol=1e-12)
    keras_sgd = apply_steps(
        keras.optimizers.SGD(learning_rate=schedule(lr * (1 - m)), momentum=m), [1.0] * 4, grads
    )
    assert not np.allclose(ours, keras_sgd, rtol=1e-3)


@pytest.mark.parametrize(
    "name, torch_rule",
    [("rmsprop", reference.torch_rmsprop), ("adam", reference.torch_adam)],
)
def test_follows_pytorch_formula(name, torch_rule):
    hp = HYPERPARAMETERS[name]
    grads = varied_gradients(seed=3)
    w0 = [0.5, -1.5, 2.0, 40.0]
    actual = apply_steps(OPTIMIZERS[name](**hp), w0, grads)
    expected = reference_steps(
        torch_rule, w0, grads, **{**hp, "learning_rate": float32_rounded(hp["learning_rate"])}
    )
    np.testing.assert_allclose(actual, expected, rtol=1e-9)


def test_rmsprop_epsilon_is_outside_the_square_root():
    # Where the mean square is tiny, sqrt(s) + eps and sqrt(s + eps) differ by orders of
    # magnitude: a step of 1e-6 with a gradient of 1e-6 separates the two conventions.
    g = np.array([1e-6])
    ours = apply_steps(RMSProp(learning_rate=1.0, rho=0.0, epsilon=1e-6), [0.0], [g])
    np.testing.assert_allclose(ours, -1e-6 / (1e-6 + 1e-6), rtol=1e-12)
    keras_rmsprop = apply_steps(keras.optimizers.RMSprop(learning_rate=1.0, rho=0.0, epsilon=1e-6), [0.0], [g])
    assert abs(keras_rmsprop[0]) < 0.01  # 1e-6 / sqrt(1e-12 + 1e-6) ~ 1e-3


# --- Low precision ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_low_precision_weights_track_float32(name, dtype):
    # A constant-sign gradient: every rule must move each weight downhill, by about as much
    # as in float32. 3e-2 relative is a few bfloat16 ulps (2**-8) accumulated over 20 steps.
    # Weights start at 0: from 1.0, a bfloat16 weight cannot take any step under 2**-8.
    grads = [np.array([0.5, -2.0, 4.0, -0.25]) * (1 + 0.1 * np.sin(t)) for t in range(20)]
    w0 = [0.0, 0.0, 0.0, 0.0]
    lr = {"sgd": 0.01, "momentum": 0.05}.get(name, 0.01)
    low = apply_steps(OPTIMIZERS[name](learning_rate=lr), w0, grads, dtype=dtype)
    high = apply_steps(OPTIMIZERS[name](learning_rate=lr), w0, grads, dtype="float32")
    moved = low - np.asarray(w0)
    assert np.all(np.sign(moved) == -np.sign(grads[0]))
    np.testing.assert_allclose(moved, high - np.asarray(w0), rtol=3e-2)


def test_adam_bias_correction_survives_bfloat16():
    # In bfloat16, 0.999 rounds to 1.0: a bias correction computed in the weights' dtype is
    # 1 - 1 = 0. Ours is computed in float32; one step of Adam is then lr * sign(g).
    w = apply_steps(Adam(learning_rate=0.0625), [1.0, 1.0], [np.array([3.0, -3.0])], dtype="bfloat16")
    np.testing.assert_allclose(w, [1 - 0.0625, 1 + 0.0625], rtol=2**-8)


# An epsilon that rounds to 0 in the weights' dtype: the default 1e-8 in float16, 1e-50 in
# float32 and bfloat16 (and 1e-40, a float32 subnormal, which the CPU kernels flush to 0).
TINY_EPSILON_CASES = [
    ("rmsprop", {}, "float16"),
    ("adam", {}, "float16"),
    ("adam", {"bias_correction": False}, "float16"),
    ("rmsprop", {"epsilon": 1e-50}, "float32"),
    ("rmsprop", {"epsilon": 1e-40}, "float32"),
    ("adam", {"epsilon": 1e-50}, "float32"),
    ("adam", {"epsilon": 1e-50, "bias_correction": False}, "float32"),
    ("rmsprop", {"epsilon": 1e-50}, "bfloat16"),
    ("adam", {"epsilon": 1e-50}, "bfloat16"),
]


@pytest.mark.parametrize("name, kwargs, dtype", TINY_EPSILON_CASES)
def test_zero_gradient_with_unrepresentable_epsilon_leaves_weight_unchanged(name, kwargs, dtype):
    # sqrt(s) is 0 where the gradient has always been 0; with an epsilon of 0 the step is
    # 0 / 0 = NaN. The first weight only ever sees 0, the second a real gradient.
    grads = [np.array([0.0, 0.5]), np.array([0.0, -1.0]), np.array([0.0, 0.25])]
    w = apply_steps(OPTIMIZERS[name](learning_rate=0.01, **kwargs), [1.0, 1.0], grads, dtype=dtype)
    assert w[0] == 1.0
    assert math.isfinite(w[1]) and w[1] != 1.0


@pytest.mark.parametrize(
    "name, kwargs",
    [("rmsprop", {"rho": 0.0}), ("adam", {"beta_1": 0.0, "beta_2": 0.0}),
     ("adam", {"beta_1": 0.0, "beta_2": 0.0, "bias_correction": False})],
)
def test_float16_epsilon_floor_is_the_smallest_normal_number(name, kwargs):
    # g = 2**-13: g**2 = 2**-26 rounds to 0 in float16, so the denominator is the epsilon
    # alone, raised from 1e-8 to float16's smallest normal number 2**-14: the step is
    # lr * 2**-13 / 2**-14 = 2 * lr exactly (and the betas of 0 make m = g, v = g**2).
    w = apply_steps(OPTIMIZERS[name](learning_rate=1.0, **kwargs), [3.0], [np.array([2.0**-13])],
                    dtype="float16")
    assert w[0] == 1.0


def float16_regression(seed=0, n=256):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]]) + 0.3).astype("float32")
    return x, y


def fit_dead_relu_model(optimizer, dtype):
    """A small MLP in `dtype`, half of whose ReLU units are dead (bias -8 against unit-scale
    inputs): their weights, and the output weights they feed, get exactly zero gradient at
    every step. The initial weights are the same in every dtype."""
    keras.utils.set_random_seed(0)
    dead_half = keras.initializers.Constant(np.r_[np.zeros(8), np.full(8, -8.0)])

    def build(dtype, bias_initializer="zeros"):
        return keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(16, "relu", dtype=dtype, bias_initializer=bias_initializer),
            keras.layers.Dense(1, dtype=dtype),
        ])

    initial = build("float32", dead_half).get_weights()
    model = build(dtype)
    model.set_weights(initial)
    x, y = float16_regression()
    model.compile(optimizer=optimizer, loss="mse")
    before = model.evaluate(x, y, batch_size=16, verbose=0)
    model.fit(x, y, batch_size=16, epochs=10, verbose=0, shuffle=False)
    return before, model.evaluate(x, y, batch_size=16, verbose=0), initial, model.get_weights()


@pytest.mark.parametrize(
    "name, keras_counterpart",
    [("rmsprop", keras.optimizers.RMSprop), ("adam", keras.optimizers.Adam)],
)
def test_float16_model_trains_with_defaults_as_in_float32(name, keras_counterpart):
    before, after, initial, weights = fit_dead_relu_model(OPTIMIZERS[name](), "float16")
    assert all(np.isfinite(w).all() for w in weights)
    assert weights[0].dtype == "float16"
    # The dead units' weights had zero gradient throughout: they must not have moved.
    np.testing.assert_array_equal(weights[0][:, 8:], initial[0][:, 8:].astype("float16"))
    np.testing.assert_array_equal(weights[1][8:], initial[1][8:].astype("float16"))
    np.testing.assert_array_equal(weights[2][8:], initial[2][8:].astype("float16"))
    # The rest trains as Keras's built-in trains the float32 copy of the model, to within
    # float16's rounding of the weights (at most 0.2% measured on each backend). Epsilon's
    # different place does not show at this loss.
    _, reference_after, *_ = fit_dead_relu_model(keras_counterpart(), "float32")
    assert after < 0.75 * before
    assert after == pytest.approx(reference_after, rel=0.01)


# --- Overflow, as Keras's built-ins take it (README, "Precision and overflow") --------------------------------------

def weights_after_each_step(optimizer, w0, grads, dtype):
    w = keras.Variable(np.asarray(w0), dtype=dtype)
    optimizer.build([w])
    trajectory = []
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(np.asarray(g), dtype=dtype)], [w])
        trajectory.append(keras.ops.convert_to_numpy(w).astype("float64"))
    return np.array(trajectory)


KERAS_COUNTERPARTS = {
    # The built-in with the same math (and the same overflow-prone operations).
    "momentum": lambda lr: keras.optimizers.SGD(learning_rate=lr * (1 - 0.9), momentum=0.9),
    "rmsprop": lambda lr: keras.optimizers.RMSprop(learning_rate=lr, rho=0.9),
    "adam": lambda lr: keras.optimizers.Adam(learning_rate=lr),
}
INF = float("inf")
# One coordinate gets a gradient that overflows (or whose square does), the other a
# plain one, then both get ordinary gradients.
OVERFLOW_CASES = [
    ("rmsprop", "float32", [1e20, 1.0, 1.0, -1.0]),  # g**2 = inf: Keras's weight stops there
    ("rmsprop", "float32", [1.0, 1e20, -1.0, 1.0]),
    ("rmsprop", "float16", [300.0, 1.0, 1.0, -1.0]),  # 300**2 > 65504
    ("rmsprop", "float16", [1.0, -400.0, 1.0, 1.0]),
    ("momentum", "float32", [INF, 1.0, 1.0, -1.0]),  # Keras: -inf, then -inf for good
    ("momentum", "float32", [1e20, 1.0, -1.0, 1.0]),
    ("momentum", "float32", [1.0, -INF, 1.0, 1.0]),
    ("momentum", "float16", [1e5, 1.0, 1.0, -1.0]),  # 1e5 is inf in float16
    ("momentum", "float16", [300.0, -1.0, 1.0, 1.0]),
    ("adam", "float32", [1e18, 1.0, -1.0, 1.0]),
    ("adam", "float32", [1e20, 1.0, 1.0, -1.0]),  # Keras on TF and JAX: NaN from step 2
    ("adam", "float16", [200.0, 1.0, -1.0, 1.0]),
    ("adam", "float16", [300.0, 1.0, 1.0, -1.0]),
]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("name, dtype, sequence", OVERFLOW_CASES)
def test_overflowing_gradient_does_what_keras_does(name, dtype, sequence):
    grads = [np.array([g, 0.5]) for g in sequence]
    ours = weights_after_each_step(OPTIMIZERS[name](learning_rate=0.01), [1.0, 1.0], grads, dtype)
    theirs = weights_after_each_step(KERAS_COUNTERPARTS[name](0.01), [1.0, 1.0], grads, dtype)
    assert np.isfinite(theirs[:, 1]).all()  # the plain coordinate is the control
    finite, infinite = np.isfinite(theirs), np.isinf(theirs)
    # Where Keras's weight is finite ours is too, and close: the rules differ only by
    # epsilon's place (1e-7 inside the root for Keras, 1e-8 outside for ours) and rounding:
    # within 1e-6 in float32, and two float16 ulps of 2**-10 at these unit-scale weights.
    assert np.isfinite(ours[finite]).all(), (ours, theirs)
    tolerance = {"float32": 1e-6, "float16": 2**-9}[dtype]
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=tolerance, atol=tolerance)
    # Where Keras's weight is infinite, ours is the same infinity. Where it is NaN (Keras's
    # Adam on TensorFlow and JAX, once a squared gradient has overflowed; on torch it
    # stays finite) nothing is asserted here: test_overflow_matches_float64_reference is.
    np.testing.assert_array_equal(ours[infinite], theirs[infinite])


@pytest.mark.parametrize(
    "name, sequence",
    [("rmsprop", [1e200, 1.0, -1.0, 1.0]),  # g**2 = inf in float64: the weight stops
     ("adam", [1e200, 1.0, -1.0, 1.0]),
     ("adam", [1.0, -1e200, 1.0, 1.0]),
     ("momentum", [INF, 1.0, -1.0, 1.0]),  # the weight goes to -inf and stays there
     ("momentum", [1.0, 1e300, -1.0, 1.0])],
)
def test_overflow_matches_float64_reference(name, sequence):
    # The references compute each average as beta * average + (1 - beta) * new, the form
    # that keeps an infinite average infinite rather than NaN; in float64 the same
    # overflows happen at 1e200 (whose square is inf) as in float32 at 1e20.
    grads = [np.array([g, 0.5]) for g in sequence]
    hp = {k: v for k, v in HYPERPARAMETERS[name].items() if k != "learning_rate"}
    actual = apply_steps(OPTIMIZERS[name](learning_rate=0.01, **hp), [1.0, 1.0], grads)
    with np.errstate(over="ignore", invalid="ignore"):
        expected = reference_steps(reference.RULES[name], [1.0, 1.0], grads,
                                   learning_rate=float32_rounded(0.01), **hp)
    assert not np.isnan(expected).any()
    np.testing.assert_allclose(actual, expected, rtol=1e-9)


# --- Serialization ------------------------------------------------------------------------

def small_regression(seed=0, n=64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
    return x, y


def small_model(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_get_config_round_trip(name):
    optimizer = OPTIMIZERS[name](learning_rate=0.02, **{k: v for k, v in HYPERPARAMETERS[name].items() if k != "learning_rate"})
    config = optimizer.get_config()
    restored = OPTIMIZERS[name].from_config(config)
    assert type(restored) is OPTIMIZERS[name]
    assert restored.get_config() == config


def test_adam_config_records_bias_correction():
    assert Adam(bias_correction=False).get_config()["bias_correction"] is False


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_saved_model_restores_optimizer_and_continues_identically(name, tmp_path):
    x, y = small_regression()
    model = small_model()
    model.compile(optimizer=OPTIMIZERS[name](learning_rate=0.01), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    path = tmp_path / "m.keras"
    model.save(path)

    loaded = keras.models.load_model(path)  # no custom_objects
    assert type(loaded.optimizer) is OPTIMIZERS[name]
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) == 4
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))

    for m in (model, loaded):
        m.fit(x[:48], y[:48], batch_size=16, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


# --- Everything the base class offers -----------------------------------------------------

FEATURES = {
    "schedule": {"learning_rate": "schedule"},
    "clipnorm": {"clipnorm": 0.5},
    "clipvalue": {"clipvalue": 0.1},
    "global_clipnorm": {"global_clipnorm": 0.5},
    "weight_decay": {"weight_decay": 0.01},
    "use_ema": {"use_ema": True, "ema_momentum": 0.9},
    "gradient_accumulation_steps": {"gradient_accumulation_steps": 2},
    "loss_scale_factor": {"loss_scale_factor": 128.0},
}
TRAINING_RATES = {"sgd": 0.1, "momentum": 0.5, "rmsprop": 0.03, "adam": 0.05}


def feature_kwargs(feature, learning_rate):
    kwargs = dict(FEATURES[feature])
    if kwargs.get("learning_rate") == "schedule":
        kwargs["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=10, decay_rate=0.9
        )
    else:
        kwargs["learning_rate"] = learning_rate
    return kwargs


def train(optimizer, jit_compile=False, epochs=15):
    x, y = small_regression()
    model = small_model()
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, shuffle=False)
    return before, model.evaluate(x, y, verbose=0), model


@pytest.mark.parametrize("feature", list(FEATURES))
def test_sgd_features_match_keras_sgd(feature):
    # SGD is the same math as Keras's, so each base-class feature must give the same weights.
    *_, ours = train(SGD(**feature_kwargs(feature, 0.05)), epochs=2)
    *_, theirs = train(keras.optimizers.SGD(**feature_kwargs(feature, 0.05)), epochs=2)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("feature", list(FEATURES) + ["jit_compile"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_features_train(name, feature):
    lr = TRAINING_RATES[name]
    if feature == "jit_compile":
        before, after, _ = train(OPTIMIZERS[name](learning_rate=lr), jit_compile=True)
    else:
        before, after, _ = train(OPTIMIZERS[name](**feature_kwargs(feature, lr)))
    assert math.isfinite(after) and after < 0.5 * before


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_jit_compile_matches_graph_mode(name):
    *_, graph = train(OPTIMIZERS[name](learning_rate=TRAINING_RATES[name]), epochs=2)
    *_, xla = train(OPTIMIZERS[name](learning_rate=TRAINING_RATES[name]), jit_compile=True, epochs=2)
    for a, b in zip(graph.get_weights(), xla.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)  # XLA fuses and reorders float32 ops


@pytest.fixture
def mixed_float16():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_mixed_float16_trains(name, mixed_float16):
    before, after, model = train(OPTIMIZERS[name](learning_rate=TRAINING_RATES[name]))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.layers[0].kernel.dtype == "float32" and model.layers[0].compute_dtype == "float16"
    assert math.isfinite(after) and after < 0.5 * before


# --- Arguments and registry ---------------------------------------------------------------

@pytest.mark.parametrize(
    "cls, argument, value",
    [
        (SGD, "learning_rate", -0.1),
        (SGD, "learning_rate", float("nan")),
        (Momentum, "learning_rate", float("inf")),
        (Momentum, "momentum", 1.0),
        (Momentum, "momentum", -0.1),
        (RMSProp, "rho", 1.5),
        (RMSProp, "epsilon", 0.0),
        (RMSProp, "epsilon", -1e-8),
        (Adam, "beta_1", 1.0),
        (Adam, "beta_2", -0.5),
        (Adam, "beta_2", float("nan")),
        (Adam, "epsilon", float("inf")),
        (Adam, "learning_rate", "fast"),
        # Not real numbers: each once trained as something else, or failed only at save.
        (SGD, "learning_rate", None),
        (SGD, "learning_rate", True),
        (SGD, "learning_rate", 0.1 + 0j),
        pytest.param(SGD, "learning_rate", 10**400, id="SGD-learning_rate-10**400"),
        (Momentum, "momentum", True),
        (Momentum, "momentum", "0.9"),
        (Momentum, "momentum", None),
        (RMSProp, "rho", 0.9 + 0j),
        (RMSProp, "epsilon", "1e-8"),
        (RMSProp, "epsilon", None),
        (Adam, "beta_1", False),
        (Adam, "beta_2", decimal.Decimal("NaN")),
        (Adam, "bias_correction", "False"),  # bool("False") is True
        (Adam, "bias_correction", "True"),
        (Adam, "bias_correction", 0),
        (Adam, "bias_correction", None),
    ],
)
def test_bad_hyperparameter_raises_naming_argument_and_value(cls, argument, value):
    with pytest.raises(ValueError) as error:
        cls(**{argument: value})
    assert f"{argument}={value!r}" in str(error.value)


# Real numbers of other types than float, and NumPy's bool: accepted, and stored as the
# plain Python float or bool that get_config must hold to be written as JSON.
ODD_TYPED_HYPERPARAMETERS = {
    "sgd": {"learning_rate": fractions.Fraction(1, 20)},
    "momentum": {"learning_rate": decimal.Decimal("0.05"), "momentum": fractions.Fraction(9, 10)},
    "rmsprop": {"learning_rate": np.float32(0.01), "rho": np.float64(0.9), "epsilon": 1},
    "adam": {"learning_rate": np.int64(0), "beta_1": fractions.Fraction(9, 10),
             "beta_2": decimal.Decimal("0.999"), "epsilon": np.float16(1e-3),
             "bias_correction": np.False_},
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_hyperparameters_are_stored_as_plain_python_numbers(name):
    given = ODD_TYPED_HYPERPARAMETERS[name]
    config = OPTIMIZERS[name](**given).get_config()
    for argument, value in given.items():
        expected_type = bool if argument == "bias_correction" else float
        assert type(config[argument]) is expected_type, argument
        # The base class keeps the learning rate in a float32 variable.
        stored = np.float32(value) if argument == "learning_rate" else value
        assert config[argument] == expected_type(stored)
    json.dumps(config)


def test_model_compiled_with_fraction_hyperparameters_saves_and_loads(tmp_path):
    x, y = small_regression()
    model = small_model()
    fraction = fractions.Fraction
    model.compile(optimizer=Momentum(learning_rate=fraction(1, 20), momentum=fraction(9, 10)),
                  loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.momentum == 0.9
    for m in (model, loaded):
        m.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_registry_names_every_rule():
    assert OPTIMIZERS == {"sgd": SGD, "momentum": Momentum, "rmsprop": RMSProp, "adam": Adam}
    for cls in OPTIMIZERS.values():
        assert issubclass(cls, keras.optimizers.Optimizer)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_defaults_are_the_articles(name):
    config = OPTIMIZERS[name]().get_config()
    article = {"momentum": {"momentum": 0.9}, "rmsprop": {"rho": 0.9, "epsilon": 1e-8},
               "adam": {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8, "bias_correction": True}}
    assert article.get(name, {}).items() <= config.items()


# --- Backends -----------------------------------------------------------------------------

@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_float64_on_jax_needs_x64():
    # JAX computes in float32 unless JAX_ENABLE_X64 is set (tests/conftest.py sets it for
    # this suite). Without it, what a user gets is worth pinning down: the Keras variable
    # says float64, holds float32 values, and our optimizers step it in float32.
    program = (
        "import keras, numpy as np\n"
        "from optimizers import SGD\n"
        "w = keras.Variable(np.ones(2), dtype='float64')\n"
        "w.assign(np.full(2, 1 + 2.0**-40))\n"
        "value = keras.ops.convert_to_numpy(w)\n"
        "print(w.dtype, value.dtype, value[0] == 1.0)\n"
        "g = keras.ops.convert_to_tensor(np.full(2, 2.0**-30), 'float64')\n"
        "SGD(learning_rate=1.0).apply([g], [w])\n"
        "print(keras.ops.convert_to_numpy(w)[0] == np.float32(1) - np.float32(2.0**-30))\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "0"}
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            env=env, cwd=os.path.dirname(os.path.dirname(__file__)), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["float64", "float32", "True", "True"]
    assert "float64 requested" in result.stderr
    assert "will be truncated to dtype float32" in result.stderr
