"""The models the optimizers are compared on, and the registry that holds their defaults.

Each entry is an instance of its kind (models/kinds.py), which says how to load its data,
fit a trial and score it, and carries its defaults: epochs, batch size, and each
optimizer's learning rate. Importing this package does not import Keras (the command line
reads the registry before TensorFlow loads); the builders import it when called.
"""

from models.cnn import build_cnn
from models.kinds import ImageClassifier, LeastSquaresModel, ModelEntry, SurfaceModel
from models.linear_regression import build_linear_regression
from models.surfaces import SURFACES, build_surface_model, height_loss


def _surface_entry(surface):
    return SurfaceModel(
        name=surface.name,
        build=lambda input_shape, num_classes: build_surface_model(surface),
        loss=height_loss,
        epochs=surface.steps,
        quick_epochs=surface.steps,
        learning_rates=dict(surface.learning_rates),
        batch_size=1,
        surface=surface,
        about=surface.about,
    )


MODELS = {
    entry.name: entry
    for entry in [
        LeastSquaresModel(
            name="linear",
            build=lambda input_shape, num_classes: build_linear_regression(),
            loss="mean_squared_error",
            epochs=200,
            quick_epochs=50,
            # The article's 0.1 for every rule.
            learning_rates={"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.1, "adam": 0.1},
            about="the article's y = w1 * x1 + w2 * x2 on its 100 points",
        ),
        ImageClassifier(
            name="cnn",
            build=build_cnn,
            loss="sparse_categorical_crossentropy",
            epochs=10,
            quick_epochs=1,
            # Each rule's best final validation loss on digits over a grid (see the README).
            learning_rates={"sgd": 0.1, "momentum": 0.5, "rmsprop": 2e-3, "adam": 5e-3},
            batch_size=128,
            metrics=("accuracy",),
            about="a small conv net on an image dataset (--dataset)",
        ),
        *(_surface_entry(surface) for surface in SURFACES.values()),
    ]
}

# `--model both`: the article's model and the CNN.
BOTH = ("linear", "cnn")

__all__ = ["build_linear_regression", "build_cnn", "build_surface_model", "MODELS", "ModelEntry", "BOTH"]
