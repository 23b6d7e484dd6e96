"""Two-weight test surfaces: the article's hill, made real.

The article explains each rule by a walk on a hill: shallow dips that momentum rolls
through, steep and flat stretches that RMSProp adapts to, randomness that shakes SGD
loose. The linear regression's hill is a convex bowl and shows none of this; these
surfaces each show one of those things. A surface is a height over a position
`w = (x, y)`, written once with `keras.ops`: the same function is the training loss and,
through `surface_heights`, the contour plot.

    import numpy as np
    from models.surfaces import SURFACES, build_surface_model, height_loss
    from optimizers import Momentum

    surface = SURFACES["bumpy"]
    model = build_surface_model(surface)  # its one weight: the position, at surface.start
    model.compile(optimizer=Momentum(learning_rate=surface.learning_rates["momentum"]),
                  loss=height_loss)
    noise = np.zeros((surface.steps, 2), "float32")  # exact gradients
    model.fit(noise, np.zeros(surface.steps), batch_size=1, shuffle=False)  # one step a row

Stochastic gradients: the model's input is a noise vector `xi` per row and its output
`height(w) + xi . w`, so with one row per step the gradient is the height's exact gradient
plus `xi`. Rows of zeros give the exact gradient; rows drawn from N(0, sigma**2) per
coordinate give a gradient with that much noise: that is what `--noise SIGMA` means (the
caller draws the rows from its seed, the same rows for every optimizer). A batch of B rows
averages them: noise sigma / sqrt(B).

Importing this module does not import Keras: the CLI reads `SURFACES` before TensorFlow
loads. The Keras layer that holds the position is made, and registered with
`height_loss` for `keras.models.load_model`, on the first `build_surface_model` call (or
on first access to `models.surfaces.SurfacePosition`).
"""

import functools
import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Surface:
    """A two-weight loss surface and the defaults to walk it with."""

    name: str
    formula: str  # the height as Python source in x and y, as the function computes it
    height: Callable  # keras.ops function: w of shape (..., 2) -> heights of shape (...)
    start: tuple  # (x, y) where every optimizer starts
    minimum: tuple  # (x, y) of the global minimum
    minimum_height: float  # the height there
    steps: int  # default number of steps (one step per epoch in the CLI)
    learning_rates: dict  # optimizer name -> default learning rate on this surface
    target: float  # the performance profile's target height: 1 % of the start's (models.MODELS)
    view: tuple  # ((x_min, x_max), (y_min, y_max)): the window figures show at least
    about: str  # which of the article's claims the surface tests, in one line
    # Other points worth marking on the figures, as (label, (x, y)): a local minimum, a
    # saddle point. The hill draws the contour line through each.
    landmarks: tuple = ()


# Each height takes w of shape (..., 2) and returns heights of shape (...). Written with
# keras.ops only, so the same function runs as the training loss on any backend and on a
# numpy grid for the contours. convert_to_tensor first: a numpy grid and a Keras variable
# both become the backend's tensor, so Python arithmetic on them stays in that backend.

def _xy(w):
    from keras import ops

    w = ops.convert_to_tensor(w)
    return w[..., 0], w[..., 1]


def rosenbrock_height(w):
    from keras import ops

    x, y = _xy(w)
    return ops.square(1 - x) + 100 * ops.square(y - ops.square(x))


def beale_height(w):
    from keras import ops

    x, y = _xy(w)
    return (ops.square(1.5 - x + x * y)
            + ops.square(2.25 - x + x * ops.square(y))
            + ops.square(2.625 - x + x * y ** 3))


def valley_height(w):
    from keras import ops

    x, y = _xy(w)
    return ops.square(x) / 20 + 5 * ops.square(y)


def tilted_valley_height(w):
    from keras import ops

    x, y = _xy(w)
    # valley_height in coordinates turned 45 degrees: u = (x + y) / sqrt(2) along the
    # floor, v = (y - x) / sqrt(2) across it; u**2 / 20 + 5 * v**2 expanded.
    return ops.square(x + y) / 40 + 2.5 * ops.square(y - x)


def saddle_height(w):
    from keras import ops

    x, y = _xy(w)
    return ops.square(x) + ops.square(ops.square(y) - 1) / 4


def bumpy_height(w):
    from keras import ops

    x, y = _xy(w)
    # Its slope in x is (x + 1) * (x - 1/2) * (x - 1): the global minimum at x = -1, a low
    # ridge at x = 1/2 and a shallow dip at x = 1. The constant puts the minimum at 0.
    return x ** 4 / 4 - x ** 3 / 6 - ops.square(x) / 2 + x / 2 + 7 / 12 + ops.square(y) / 2


_SQRT2 = math.sqrt(2)

# The defaults, measured with the project's optimizers (float32, exact gradients):
# - steps: a few hundred at most, so four optimizers train in a few seconds.
# - learning rates: a value that works for each rule, away from any edge where the outcome
#   the surface shows would flip. bumpy: SGD stays in the dip for every rate from 0.03 to
#   0.16 (from 0.2 it overshoots the ridge); momentum rolls through for every rate from
#   0.04 to 0.25 (at 0.03 and below it settles too). valley: SGD must stay under
#   2 / 10 = 0.2 (steepest curvature 10); 0.15 zigzags, which is the point. Momentum
#   (moving-average form) is stable up to 2 * (1 + 0.9) / ((1 - 0.9) * 10) = 3.8.
# - valley is aligned with the axes: RMSProp's and Adam's scaling is per weight, so here it
#   separates the steep direction (y) from the flat one (x) exactly, the case the article's
#   "adjusts the step size for each parameter" describes. tilted_valley is the same valley
#   turned 45 degrees: each weight then mixes both directions and that scaling no longer
#   tells them apart, while SGD and momentum, blind to axes, walk it exactly as before.

SURFACES = {
    surface.name: surface
    for surface in [
        Surface(
            name="rosenbrock",
            formula="(1 - x)**2 + 100 * (y - x**2)**2",
            height=rosenbrock_height,
            start=(-1.2, 1.0),
            minimum=(1.0, 1.0),
            minimum_height=0.0,
            steps=500,
            learning_rates={"sgd": 0.002, "momentum": 0.01, "rmsprop": 0.01, "adam": 0.2},
            target=0.242,
            view=((-1.5, 1.5), (-0.5, 1.5)),
            about="A curved, flat-floored valley: the classic benchmark; steep walls "
                  "cap SGD's learning rate, the floor is long.",
        ),
        Surface(
            name="beale",
            formula="(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2",
            height=beale_height,
            start=(1.0, 1.5),
            minimum=(3.0, 0.5),
            minimum_height=0.0,
            steps=300,
            learning_rates={"sgd": 0.01, "momentum": 0.02, "rmsprop": 0.02, "adam": 0.2},
            target=0.4125,
            view=((-1.0, 4.5), (-1.5, 2.0)),
            about="Steep walls beside flat plateaus: gradients that differ by a "
                  "hundredfold along one path.",
        ),
        Surface(
            name="valley",
            formula="x**2 / 20 + 5 * y**2",
            height=valley_height,
            start=(-8.0, 1.0),
            minimum=(0.0, 0.0),
            minimum_height=0.0,
            steps=100,
            learning_rates={"sgd": 0.15, "momentum": 0.5, "rmsprop": 0.1, "adam": 0.2},
            target=0.082,
            view=((-9.0, 1.5), (-1.5, 1.5)),
            about="A narrow valley along the x axis (curvatures 0.1 and 10): SGD zigzags "
                  "across it, momentum damps the zigzag, RMSProp rescales each weight.",
        ),
        Surface(
            name="tilted_valley",
            formula="(x + y)**2 / 40 + 2.5 * (y - x)**2",
            height=tilted_valley_height,
            start=(-9 / _SQRT2, -7 / _SQRT2),
            minimum=(0.0, 0.0),
            minimum_height=0.0,
            steps=100,
            learning_rates={"sgd": 0.15, "momentum": 0.5, "rmsprop": 0.1, "adam": 0.2},
            target=0.082,
            view=((-7.5, 1.5), (-6.0, 1.5)),
            about="The valley turned 45 degrees: SGD and momentum walk it exactly as "
                  "before, RMSProp's per-weight scaling no longer finds the flat direction.",
        ),
        Surface(
            name="saddle",
            formula="x**2 + (y**2 - 1)**2 / 4",
            height=saddle_height,
            # Just off the ridge y = 0: exactly on it the slope across is 0 and no rule
            # leaves the saddle without noise; here it is 0.001, and grows as y does.
            start=(2.0, 0.001),
            minimum=(0.0, 1.0),  # and its mirror image (0, -1), as low
            minimum_height=0.0,
            steps=200,
            learning_rates={"sgd": 0.05, "momentum": 0.1, "rmsprop": 0.05, "adam": 0.05},
            target=0.0425,
            view=((-1.0, 2.5), (-1.5, 1.5)),
            about="A start on a saddle's ridge: the way off it is flat at first; RMSProp "
                  "and Adam scale the tiny slope up, SGD lingers.",
            landmarks=(("saddle point", (0.0, 0.0)), ("mirror minimum", (0.0, -1.0))),
        ),
        Surface(
            name="bumpy",
            formula="x**4/4 - x**3/6 - x**2/2 + x/2 + 7/12 + y**2/2",
            height=bumpy_height,
            start=(2.5, 1.5),
            minimum=(-1.0, 0.0),
            minimum_height=0.0,
            steps=200,
            learning_rates={"sgd": 0.08, "momentum": 0.08, "rmsprop": 0.1, "adam": 0.3},
            target=0.06995,
            view=((-2.0, 3.0), (-1.5, 2.0)),
            about="A shallow dip at (1, 0) (height 2/3, ridge 0.70) on the way to the "
                  "global minimum: momentum rolls through, SGD settles, noise shakes it loose.",
            landmarks=(("shallow dip", (1.0, 0.0)), ("ridge", (0.5, 0.0))),
        ),
    ]
}


def height_loss(y_true, y_pred):
    """The loss of a surface model: its output is already the height (plus the noise
    term), so the loss is that, averaged over the batch by Keras. `y_true` is ignored."""
    return y_pred


def surface_heights(surface, points):
    """The heights of `surface` (a `Surface` or its name) at numpy `points` of shape
    (..., 2), as a float64 numpy array of shape (...): the training formula itself, for
    contour grids and the exact height along a path. Computed in float64 on TensorFlow
    and PyTorch; JAX computes in float32 unless `jax_enable_x64` is set."""
    import numpy as np
    from keras import ops

    surface = surface if isinstance(surface, Surface) else SURFACES[surface]
    points = np.asarray(points, "float64")
    return np.asarray(ops.convert_to_numpy(surface.height(points)), "float64")


@functools.cache
def _keras_objects():
    """Makes (once) the position layer, and registers it and `height_loss` with Keras."""
    import keras
    from keras import ops

    keras.saving.register_keras_serializable(package="surfaces")(height_loss)

    @keras.saving.register_keras_serializable(package="surfaces")
    class SurfacePosition(keras.layers.Layer):
        """Holds the position on a surface, the model's only weight, and returns
        `height(position) + xi . position` for each input row `xi`."""

        def __init__(self, surface, **kwargs):
            super().__init__(**kwargs)
            self.surface = surface if isinstance(surface, Surface) else SURFACES[surface]
            self.position = self.add_weight(
                shape=(2,),
                initializer=keras.initializers.Constant(self.surface.start),
                name="position",
            )

        def call(self, xi):
            position = ops.cast(self.position, xi.dtype)
            return self.surface.height(position) + ops.sum(xi * position, axis=-1)

        def compute_output_shape(self, input_shape):
            return input_shape[:-1]

        def get_config(self):
            config = super().get_config()
            config["surface"] = self.surface.name
            return config

    return SurfacePosition


def build_surface_model(surface):
    """A Keras model whose only weight is the position on `surface` (a `Surface` or its
    name), a float32 2-vector starting at `surface.start`.

    Its input is a batch of noise vectors `xi` of shape (batch, 2) and its output, per row,
    `height(position) + xi . position`; compile it with `loss=height_loss`, so the
    loss is the height and a row's gradient is the height's exact gradient plus `xi`.
    """
    import keras

    surface = surface if isinstance(surface, Surface) else SURFACES[surface]
    SurfacePosition = _keras_objects()
    xi = keras.Input(shape=(2,), name="noise")
    return keras.Model(xi, SurfacePosition(surface, name="position")(xi), name=surface.name)


def __getattr__(name):
    # The layer class needs Keras, so it is made on first use: `SurfacePosition` here, or
    # any `build_surface_model` call, registers it and `height_loss` for
    # `keras.models.load_model`.
    if name == "SurfacePosition":
        return _keras_objects()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
