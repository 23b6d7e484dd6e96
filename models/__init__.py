"""The models the optimizers are compared on, and the registry that names them.

Each entry says how to build the model from the data it trains on, how it is scored,
and the learning rate each optimizer uses on it unless the user gives `--lr`.
"""

from dataclasses import dataclass, field

from models.cnn import build_cnn
from models.linear_regression import build_linear_regression


@dataclass(frozen=True)
class ModelEntry:
    build: object  # (input_shape, num_classes) -> keras.Model
    loss: str
    metrics: tuple = ()
    # Per-optimizer default learning rates; an optimizer missing here uses its class default.
    learning_rates: dict = field(default_factory=dict)


MODELS = {
    # The article's learning rate, 0.1, for every rule on its own problem.
    "linear": ModelEntry(
        build=lambda input_shape, num_classes: build_linear_regression(),
        loss="mean_squared_error",
        learning_rates={"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.1, "adam": 0.1},
    ),
    "cnn": ModelEntry(
        build=build_cnn,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        learning_rates={"sgd": 0.1, "momentum": 0.5, "rmsprop": 1e-3, "adam": 2e-3},
    ),
}

__all__ = ["build_linear_regression", "build_cnn", "MODELS", "ModelEntry"]
