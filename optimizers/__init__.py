"""The article's four update rules as Keras optimizers, and the registry that names them.

    import keras
    from optimizers import Adam
    model.compile(optimizer=Adam(learning_rate=1e-3), loss="mse")

Each class is registered as Keras-serializable, so `keras.models.load_model` restores a
model compiled with it, optimizer state included, once this package is imported.
"""

from optimizers.adam import Adam
from optimizers.momentum import Momentum
from optimizers.rmsprop import RMSProp
from optimizers.sgd import SGD

# The one list of optimizers: the CLI's choices, the comparison runner and the tests read it.
OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "rmsprop": RMSProp,
    "adam": Adam,
}

__all__ = ["SGD", "Momentum", "RMSProp", "Adam", "OPTIMIZERS"]
