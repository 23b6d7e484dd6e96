"""The models the optimizers are compared on, and the registry that names them.

Each entry says how to build the model from its data's input shape and class count, and
how it is scored. Importing this package does not import Keras (the CLI reads the
registry before TensorFlow loads); the builders import it when called.
"""

from dataclasses import dataclass

from models.cnn import build_cnn
from models.linear_regression import build_linear_regression


@dataclass(frozen=True)
class ModelEntry:
    build: object  # (input_shape, num_classes) -> keras.Model
    loss: str
    metrics: tuple = ()
    # True for a model whose only weights are a short vector: its path is recorded every
    # step and drawn over its loss surface (the hill).
    records_path: bool = False


MODELS = {
    "linear": ModelEntry(
        build=lambda input_shape, num_classes: build_linear_regression(),
        loss="mean_squared_error",
        records_path=True,
    ),
    "cnn": ModelEntry(
        build=build_cnn,
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
    ),
}

__all__ = ["build_linear_regression", "build_cnn", "MODELS", "ModelEntry"]
