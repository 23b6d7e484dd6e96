"""The test surfaces and the hill figures, against independent references: each height
written again in float64 numpy, gradients by finite differences of those, the rules of
tests/reference.py, and the article's golden values (docs/article.md) for the linear model's hill."""

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import reference
from models.surfaces import SURFACES, build_surface_model, height_loss, surface_heights
from optimizers import OPTIMIZERS
from models.landscapes import least_squares_landscape, surface_landscape
from reporting.hill import animate_hill, plot_hill


def _bumpy_profile():
    # The profile from its documented slope (x + 1)(x - 1/2)(x - 1), integrated and shifted
    # so the global minimum, at x = -1, is 0.
    profile = np.poly1d(np.polyint(np.poly([-1.0, 0.5, 1.0])))
    return lambda x: profile(x) - profile(-1.0)


_BUMPY = _bumpy_profile()
_R = math.sqrt(0.5)

# The heights again, in float64 numpy, written from the formulas' usual forms.
REFERENCE = {
    "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    "beale": lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2,
    "valley": lambda x, y: 0.1 / 2 * x**2 + 10 / 2 * y**2,
    # The valley in coordinates turned 45 degrees: u along the floor, v across it.
    "tilted_valley": lambda x, y: 0.1 / 2 * (_R * (x + y)) ** 2 + 10 / 2 * (_R * (y - x)) ** 2,
    "saddle": lambda x, y: x**2 + (y**2 - 1) ** 2 / 4,
    "bumpy": lambda x, y: _BUMPY(x) + y**2 / 2,
}


def reference_height(name, w):
    w = np.asarray(w, "float64")
    return REFERENCE[name](w[..., 0], w[..., 1])


def reference_gradient(name, w, h=1e-6):
    """Central differences in float64: error about h**2 times the third derivative."""
    w = np.asarray(w, "float64")
    steps = np.eye(2) * h
    return np.array([(reference_height(name, w + e) - reference_height(name, w - e)) / (2 * h) for e in steps])


def sample_points(surface, n=6, seed=0):
    (x0, x1), (y0, y1) = surface.view
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])


def test_every_surface_has_a_reference():
    assert set(SURFACES) == set(REFERENCE)
    assert {"rosenbrock", "beale", "valley", "saddle", "bumpy"} <= set(SURFACES)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_height_matches_the_reference(name):
    surface = SURFACES[name]
    points = np.vstack([surface.start, surface.minimum, sample_points(surface)])
    np.testing.assert_allclose(surface_heights(surface, points), reference_height(name, points), rtol=1e-12,
                               atol=1e-12)
    # A grid of points (any leading shape) gives heights of that shape.
    grid = sample_points(surface, n=12).reshape(3, 4, 2)
    assert surface_heights(surface, grid).shape == (3, 4)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_minimum_is_where_the_registry_says(name):
    surface = SURFACES[name]
    minimum = np.asarray(surface.minimum, "float64")
    assert reference_height(name, minimum) == pytest.approx(surface.minimum_height, abs=1e-12)
    np.testing.assert_allclose(reference_gradient(name, minimum), 0, atol=1e-6)
    around = minimum + 1e-3 * np.array([[np.cos(a), np.sin(a)] for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)])
    assert np.all(reference_height(name, around) > surface.minimum_height)
    # Global, at least over the window the figures show.
    (x0, x1), (y0, y1) = surface.view
    grid = np.stack(np.meshgrid(np.linspace(x0, x1, 201), np.linspace(y0, y1, 201)), axis=-1)
    assert reference_height(name, grid).min() >= surface.minimum_height - 1e-12


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_registry_entry_is_complete(name):
    surface = SURFACES[name]
    assert surface.name == name
    assert set(surface.learning_rates) == set(OPTIMIZERS)
    assert all(lr > 0 for lr in surface.learning_rates.values())
    assert surface.steps > 0
    (x0, x1), (y0, y1) = surface.view
    for x, y in (surface.start, surface.minimum):
        assert x0 <= x <= x1 and y0 <= y <= y1
    assert reference_height(name, surface.start) > surface.minimum_height


def test_landmarks_are_what_they_say():
    for name, surface in SURFACES.items():
        for _, point in surface.landmarks:
            np.testing.assert_allclose(reference_gradient(name, point), 0, atol=1e-6)
    # bumpy: a shallow dip at (1, 0), height 2/3, behind a ridge at (0.5, 0), height 0.703125.
    dip, ridge = dict(SURFACES["bumpy"].landmarks)["shallow dip"], dict(SURFACES["bumpy"].landmarks)["ridge"]
    assert reference_height("bumpy", dip) == pytest.approx(2 / 3, abs=1e-12)
    assert reference_height("bumpy", ridge) == pytest.approx(0.703125, abs=1e-12)
    around = np.asarray(dip) + 1e-3 * np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])
    assert np.all(reference_height("bumpy", around) > 2 / 3)
    # saddle: (0, 0) is a saddle point: down along y, up along x.
    assert reference_height("saddle", [0, 0.01]) < reference_height("saddle", [0, 0]) < reference_height("saddle", [0.01, 0])


# --- the model ------------------------------------------------------------------------------

def model_gradient(model, xi):
    """The gradient of the model's loss, as training computes it, for one batch `xi`."""
    xi = tf.constant(xi, "float32")
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(height_loss(None, model(xi)))
    (gradient,) = tape.gradient(loss, model.trainable_weights)
    return np.asarray(gradient, "float64")


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_model_starts_at_start_with_one_weight(name):
    model = build_surface_model(SURFACES[name])
    weights = model.get_weights()
    assert len(weights) == 1 and len(model.trainable_weights) == 1
    assert weights[0].dtype == np.float32
    np.testing.assert_array_equal(weights[0], np.asarray(SURFACES[name].start, "float32"))


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_model_gradient_is_the_heights_gradient_plus_the_noise(name):
    surface = SURFACES[name]
    model = build_surface_model(surface)
    rng = np.random.default_rng(1)
    for point in np.vstack([surface.start, sample_points(surface, n=2)]):
        point32 = point.astype("float32")
        model.set_weights([point32])
        exact = reference_gradient(name, point32.astype("float64"))
        # float32 arithmetic in the model: relative error about 1e-6 of the gradient's scale.
        tolerance = dict(rtol=1e-5, atol=1e-5 * max(1.0, np.abs(exact).max()))
        np.testing.assert_allclose(model_gradient(model, np.zeros((1, 2))), exact, **tolerance)
        xi = rng.normal(0, 2.0, size=(1, 2)).astype("float32")
        np.testing.assert_allclose(model_gradient(model, xi), exact + xi[0], **tolerance)
        # A batch of rows averages their noise.
        xi = rng.normal(0, 2.0, size=(4, 2)).astype("float32")
        np.testing.assert_allclose(model_gradient(model, xi), exact + xi.mean(axis=0), **tolerance)


def fit_path(surface, optimizer, learning_rate, steps, noise=None):
    """Trains as the project does: one row of noise (zeros: the exact gradient) per step;
    returns the path, (steps + 1, 2), row 0 the start."""
    model = build_surface_model(surface)
    model.compile(optimizer=OPTIMIZERS[optimizer](learning_rate=learning_rate), loss=height_loss)
    path = [model.get_weights()[0]]
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: path.append(model.get_weights()[0]))
    xi = np.zeros((steps, 2), "float32") if noise is None else noise
    model.fit(xi, np.zeros((steps, 1), "float32"), batch_size=1, epochs=1, shuffle=False, verbose=0,
              callbacks=[record])
    return np.asarray(path, "float64")


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_training_follows_the_rule_on_the_exact_gradient(optimizer):
    surface = SURFACES["beale"]
    learning_rate = surface.learning_rates[optimizer]
    path = fit_path(surface, optimizer, learning_rate, steps=5)
    w, state = np.asarray(surface.start, "float32").astype("float64"), {}
    for t in range(1, 6):
        w, state = reference.RULES[optimizer](w, reference_gradient("beale", w), state, t, learning_rate)
        np.testing.assert_allclose(path[t], w, rtol=2e-5, atol=2e-6)


def test_model_saves_and_loads(tmp_path):
    surface = SURFACES["saddle"]
    model = build_surface_model(surface)
    model.compile(optimizer=OPTIMIZERS["adam"](learning_rate=0.05), loss=height_loss)
    model.fit(np.zeros((3, 2), "float32"), np.zeros((3, 1), "float32"), batch_size=1, verbose=0)
    model.save(tmp_path / "saddle.keras")
    loaded = keras.models.load_model(tmp_path / "saddle.keras")
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    xi = np.array([[0.5, -1.0]], "float32")
    np.testing.assert_allclose(loaded.predict(xi, verbose=0), model.predict(xi, verbose=0), rtol=1e-6)
    # The optimizer's state came back too: one more step goes where the original's goes.
    for m in (model, loaded):
        m.fit(np.zeros((1, 2), "float32"), np.zeros((1, 1), "float32"), batch_size=1, verbose=0)
    np.testing.assert_allclose(loaded.get_weights()[0], model.get_weights()[0], rtol=1e-6)


def test_importing_the_registry_does_not_import_keras():
    code = "import sys, models.surfaces; assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


# --- the article's demonstrations hold with each surface's defaults ---------------------------

def default_path(name, optimizer):
    surface = SURFACES[name]
    return fit_path(surface, optimizer, surface.learning_rates[optimizer], surface.steps)


def test_bumpy_momentum_rolls_through_the_dip_where_sgd_settles():
    sgd, momentum = default_path("bumpy", "sgd"), default_path("bumpy", "momentum")
    np.testing.assert_allclose(sgd[-1], [1, 0], atol=0.01)  # the shallow dip
    np.testing.assert_allclose(momentum[-1], SURFACES["bumpy"].minimum, atol=0.01)


def test_valley_rmsprop_ends_lower_and_momentum_zigzags_less_than_sgd():
    sgd, momentum, rmsprop = (default_path("valley", o) for o in ("sgd", "momentum", "rmsprop"))
    heights = {o: reference_height("valley", p[-1]) for o, p in (("sgd", sgd), ("rmsprop", rmsprop))}
    assert heights["rmsprop"] < heights["sgd"] / 3

    def turns(path):  # direction changes of the coordinate across the valley
        step = np.diff(path[:, 1])
        return int(np.sum(step[1:] * step[:-1] < 0))

    assert turns(sgd) == len(sgd) - 2  # every step
    assert turns(momentum) < turns(sgd) / 3


def test_saddle_rmsprop_leaves_the_ridge_much_sooner_than_sgd():
    def leaves(path):
        return int(np.argmax(np.abs(path[:, 1]) > 0.5))

    sgd, rmsprop = default_path("saddle", "sgd"), default_path("saddle", "rmsprop")
    assert 0 < 10 * leaves(rmsprop) < leaves(sgd)


# --- the figures ----------------------------------------------------------------------------

def reference_paths(name, steps):
    """Each rule's path from tests/reference.py on the exact gradient (float64, no Keras)."""
    surface = SURFACES[name]
    paths = {}
    for optimizer, rule in reference.RULES.items():
        w, state, path = np.asarray(surface.start, "float64"), {}, [np.asarray(surface.start, "float64")]
        for t in range(1, steps + 1):
            w, state = rule(w, reference_gradient(name, w), state, t, surface.learning_rates[optimizer])
            path.append(w)
        paths[optimizer] = np.array(path)
    return paths


def test_least_squares_landscape_is_the_articles():
    rng = np.random.RandomState(42)  # the article's draws, in its order: x1, x2, then y
    x1, x2, y = rng.rand(100, 1), rng.rand(100, 1), rng.rand(100, 1)
    landscape = least_squares_landscape(np.hstack([x1, x2]), y)
    np.testing.assert_allclose(landscape.minimum, [0.47133005, 0.40937344], atol=1e-8)
    assert landscape.minimum_height == pytest.approx(0.13959175, abs=1e-8)
    assert landscape.height(np.array([2.0, 3.0])) == pytest.approx(4.925758313790776, rel=1e-14)


def test_surface_landscape_heights_are_the_surfaces():
    landscape = surface_landscape("beale")
    points = sample_points(SURFACES["beale"])
    np.testing.assert_allclose(landscape.height(points), reference_height("beale", points), rtol=1e-12)


def test_plot_hill_writes_a_large_png(tmp_path):
    path = plot_hill(surface_landscape("bumpy"), reference_paths("bumpy", 40), tmp_path / "hill.png")
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 1200 and image.height >= 900


def test_animate_hill_writes_a_gif_of_at_least_30_frames(tmp_path):
    # 12 steps: fewer steps than frames, which must still all differ.
    path = animate_hill(surface_landscape("valley"), reference_paths("valley", 12), tmp_path / "hill.gif")
    assert os.path.getsize(path) < 5e6
    with Image.open(path) as image:
        assert image.format == "GIF"
        assert image.n_frames >= 30


def test_a_diverging_path_leaves_the_others_in_frame(tmp_path):
    from reporting.hill import _frame

    landscape = surface_landscape("valley")
    paths = reference_paths("valley", 30)
    (x0, x1), (y0, y1) = _frame(landscape, paths)[0]
    gone = paths["sgd"].copy()
    gone[10:] = np.array([1e3, -1e30]) * np.arange(1, 22)[:, None]
    gone[25:] = np.nan
    (u0, u1), (v0, v1) = _frame(landscape, {**paths, "sgd": gone})[0]
    # The frame may grow to show where the path went, but only so far: the hill stays.
    assert u1 - u0 <= 2.2 * (x1 - x0) and v1 - v0 <= 2.2 * (y1 - y0)
    plot_hill(landscape, {**paths, "sgd": gone}, tmp_path / "hill.png")
    animate_hill(landscape, {**paths, "sgd": gone}, tmp_path / "hill.gif", frames=30)
    with Image.open(tmp_path / "hill.gif") as image:
        assert image.n_frames >= 30


@pytest.mark.parametrize("name", list(SURFACES))
def test_a_surfaces_profile_target_is_one_percent_of_its_start_height(name):
    # The registry states each target as a number; it must be what its reason says.
    from models import MODELS, SURFACE_TARGET

    surface = SURFACES[name]
    start = float(surface_heights(surface, np.array(surface.start)))
    assert MODELS[name].target == pytest.approx(SURFACE_TARGET * (start - surface.minimum_height), rel=1e-3)
