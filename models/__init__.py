"""The models the optimizers are compared on, and the registry that holds their defaults.

Each entry says how to build the model, what data it trains on, how it is scored, and its
defaults: epochs, batch size, and each optimizer's learning rate. Importing this package
does not import Keras (the CLI reads the registry before TensorFlow loads); the builders
import it when called.
"""

from dataclasses import dataclass, field

from models.cnn import build_cnn
from models.linear_regression import build_linear_regression
from models.surfaces import SURFACES, build_surface_model, height_loss

# Learning rates a sweep tries by default: the model's default for the rule times
# 10**(k/2), k = -3..3: 7 log-spaced values over 3 decades centred on the default.
GRID_HALF_DECADES = range(-3, 4)


@dataclass(frozen=True)
class ModelEntry:
    build: object  # (input_shape, num_classes) -> keras.Model
    loss: object  # a Keras loss name or function
    data: str  # "regression", "images" or "surface": what the model trains on
    epochs: int  # default epochs; for a surface, steps (one step per epoch)
    quick_epochs: int  # --quick
    learning_rates: dict  # optimizer name -> default learning rate
    batch_size: int | None = None  # None: the whole training set, one step per epoch
    metrics: tuple = ()
    # Two weights and nothing else: the weights' path is recorded every step and drawn over
    # the loss surface (the hill).
    two_weight: bool = False
    surface: object = None  # a models.surfaces.Surface, for the test surfaces
    about: str = ""
    has_validation: bool = field(init=False)

    def __post_init__(self):
        # A surface has no data to hold out: it is scored by its height.
        object.__setattr__(self, "has_validation", self.data != "surface")

    def learning_rate_grid(self, optimizer):
        """The documented default grid of learning rates for `optimizer` on this model."""
        default = self.learning_rates[optimizer]
        return tuple(float(f"{default * 10 ** (k / 2):.3g}") for k in GRID_HALF_DECADES)


def _surface_entry(surface):
    return ModelEntry(
        build=lambda input_shape, num_classes: build_surface_model(surface),
        loss=height_loss,
        data="surface",
        epochs=surface.steps,
        quick_epochs=surface.steps,
        learning_rates=dict(surface.learning_rates),
        batch_size=1,
        two_weight=True,
        surface=surface,
        about=surface.about,
    )


MODELS = {
    "linear": ModelEntry(
        build=lambda input_shape, num_classes: build_linear_regression(),
        loss="mean_squared_error",
        data="regression",
        epochs=200,
        quick_epochs=50,
        # The article's 0.1 for every rule.
        learning_rates={"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.1, "adam": 0.1},
        two_weight=True,
        about="the article's y = w1 * x1 + w2 * x2 on its 100 points",
    ),
    "cnn": ModelEntry(
        build=build_cnn,
        loss="sparse_categorical_crossentropy",
        data="images",
        epochs=10,
        quick_epochs=1,
        # Each rule's best final validation loss on digits over a grid (see the README).
        learning_rates={"sgd": 0.1, "momentum": 0.5, "rmsprop": 2e-3, "adam": 5e-3},
        batch_size=128,
        metrics=("accuracy",),
        about="a small conv net on an image dataset (--dataset)",
    ),
    **{name: _surface_entry(surface) for name, surface in SURFACES.items()},
}

# `--model both`: the article's model and the CNN.
BOTH = ("linear", "cnn")

__all__ = ["build_linear_regression", "build_cnn", "build_surface_model", "MODELS", "ModelEntry", "BOTH"]
