"""The article's claims, tested from the paths train.py records on the test surfaces.

Each test reads what a user's run leaves (paths.npz, trials.csv) and asserts the verdict
the README states, so a change that breaks a claim's demonstration fails here.
"""

import numpy as np
import pytest

import reference
from models import MODELS
from runs import read_trials, train

SURFACES = ["rosenbrock", "valley", "tilted_valley", "saddle", "bumpy"]
RULES = ("sgd", "momentum", "rmsprop", "adam")


@pytest.fixture(scope="module")
def walks(tmp_path_factory):
    """Every rule on each surface with its defaults: {(surface, rule): path}, and the trials."""
    logdir = tmp_path_factory.mktemp("claims")
    result = train("--model", *SURFACES, "--run-name", "claims", logdir=logdir)
    assert result.returncode == 0, result.stderr
    with np.load(logdir / "claims" / "paths.npz") as paths:
        walks = {tuple(key.split("/")): paths[key] for key in paths.files}
    return walks, {(r["model"], r["optimizer"]): r for r in read_trials(logdir / "claims")}


def height(surface, points):
    from models.surfaces import surface_heights

    return surface_heights(MODELS[surface].surface, points)


def direction_changes(values):
    steps = np.sign(np.diff(values))
    steps = steps[steps != 0]
    return int(np.sum(steps[1:] != steps[:-1]))


def rosenbrock_gradient(w):
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


@pytest.mark.parametrize("rule", RULES)
def test_the_recorded_path_is_the_rule_applied_to_the_exact_gradient(walks, rule):
    # Every recorded step, replayed in float64 by the reference rule from the gradient at
    # the recorded point, lands where the recording says: the paths are a faithful record.
    paths, _ = walks
    path = paths["rosenbrock", rule]
    assert path.shape == (MODELS["rosenbrock"].epochs + 1, 2)
    np.testing.assert_array_equal(path[0], np.float32(MODELS["rosenbrock"].surface.start))  # float32 weights
    rate = float(np.float32(MODELS["rosenbrock"].learning_rates[rule]))  # Keras keeps it in float32
    state, eps = {}, np.finfo(np.float32).eps
    for t in range(1, len(path)):
        predicted, state = reference.RULES[rule](path[t - 1], rosenbrock_gradient(path[t - 1]), state, t,
                                                 learning_rate=rate)
        scale = np.maximum(np.abs(path[t - 1]), np.abs(predicted - path[t - 1]))
        # float32 weights; the rule's state (velocity, averages) is float32 over 500 steps
        # where the reference keeps float64, so Adam's step drifts by tens of ulps.
        assert np.all(np.abs(predicted - path[t]) <= 128 * eps * scale), (rule, t)


def test_momentum_rolls_through_the_shallow_dip_where_sgd_settles(walks):
    paths, trials = walks
    sgd, momentum = paths["bumpy", "sgd"][-1], paths["bumpy", "momentum"][-1]
    dip, ridge = 1.0, 0.5  # bumpy's slope in x is (x + 1)(x - 1/2)(x - 1)
    assert abs(sgd[0] - dip) < 0.01 and float(trials["bumpy", "sgd"]["train_loss"]) == pytest.approx(2 / 3, abs=1e-3)
    assert momentum[0] < ridge
    assert float(trials["bumpy", "momentum"]["train_loss"]) < 1e-3


def test_momentum_damps_the_zigzag_across_a_narrow_valley(walks):
    paths, _ = walks
    across = {rule: direction_changes(paths["valley", rule][:, 1]) for rule in RULES}
    assert across["sgd"] >= 90  # 100 steps: SGD turns almost every step
    assert across["momentum"] * 3 < across["sgd"]


def test_rmsprop_adapts_each_weights_step_on_an_axis_aligned_valley(walks):
    _, trials = walks
    final = {rule: float(trials["valley", rule]["train_loss"]) for rule in RULES}
    assert final["rmsprop"] * 10 < final["sgd"]


def test_rmsprop_adapts_per_weight_not_per_direction(walks):
    # The same valley turned 45 degrees: SGD and Momentum end exactly as high as before,
    # RMSProp and Adam, whose scaling is per weight, do much worse.
    _, trials = walks
    final = {(m, r): float(trials[m, r]["train_loss"]) for m in ("valley", "tilted_valley") for r in RULES}
    for rule in ("sgd", "momentum"):
        assert final["tilted_valley", rule] == pytest.approx(final["valley", rule], rel=1e-3)
    for rule in ("rmsprop", "adam"):
        assert final["tilted_valley", rule] > 10 * final["valley", rule]


def test_rmsprop_and_adam_leave_a_saddles_ridge_sooner(walks):
    paths, _ = walks

    def steps_to_leave(rule):
        off = np.flatnonzero(np.abs(paths["saddle", rule][:, 1]) > 0.5)
        return int(off[0]) if len(off) else None

    leave = {rule: steps_to_leave(rule) for rule in RULES}
    assert all(leave.values())
    assert leave["rmsprop"] * 5 < leave["sgd"] and leave["adam"] * 5 < leave["sgd"]


def test_adams_first_step_is_the_learning_rate_whatever_the_slope(walks):
    # The article: Adam takes smaller steps on steep terrain. Its first step is lr in each
    # coordinate (m_hat / sqrt(v_hat) = sign(g)), on a slope of 10 as on one of 0.8.
    paths, _ = walks
    rate = MODELS["valley"].learning_rates["adam"]
    first = np.abs(paths["valley", "adam"][1] - paths["valley", "adam"][0])
    np.testing.assert_allclose(first, [rate, rate], rtol=1e-5)
    # ... while the slopes there differ tenfold: the valley's gradient at its start, by
    # central differences of the surface's own formula.
    start, h = np.array(MODELS["valley"].surface.start), 1e-6
    slopes = np.abs([(height("valley", start + step) - height("valley", start - step)) / (2 * h)
                     for step in np.eye(2) * h])
    np.testing.assert_allclose(slopes, [0.8, 10.0], rtol=1e-6)
    assert slopes[1] / slopes[0] > 10


def test_noise_shakes_sgd_out_of_the_shallow_dip(tmp_path):
    # Exact gradients: SGD settles in the dip (height 2/3), see above; with noise of sigma
    # 1.5 per coordinate most seeds end past the ridge, in the deep basin.
    seeds = 20
    result = train("--model", "bumpy", "--opt", "sgd", "--noise", "1.5", "--seeds", seeds, "--run-name", "n",
                   logdir=tmp_path)
    assert result.returncode == 0, result.stderr
    heights = [float(row["train_loss"]) for row in read_trials(tmp_path / "n")]
    assert len(heights) == seeds
    # The dip's floor is at 0.67 and the ridge at 0.70; at this noise a point in the dip's
    # basin never jitters below 0.5, nor one in the deep basin above it.
    escaped = sum(h < 0.5 for h in heights)
    assert escaped >= seeds // 2  # 15 of these 20 seeds; 3 at sigma 1, none at 0.5
