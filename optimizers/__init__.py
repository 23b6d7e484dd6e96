"""The article's four update rules as Keras optimizers, and the registry that names them.

    import keras
    from optimizers import Adam
    model.compile(optimizer=Adam(learning_rate=1e-3), loss="mse")

Each class is registered as Keras-serializable, so `keras.models.load_model` restores a
model compiled with it, optimizer state included, once it is imported: `from optimizers
import Adam`, or any of the names below, imports (and registers) all of them.

`OPTIMIZERS` maps each name to its class; `REGISTRY` (optimizers/registry.py) holds every
optimizer's facts. Importing this package alone imports no Keras: the classes load on first
use, so the command line can read the registry before TensorFlow loads.
"""

from optimizers.hyperparameters import HYPERPARAMETERS
from optimizers.registry import REGISTRY

__all__ = ["SGD", "Momentum", "RMSProp", "Adam", "OPTIMIZERS", "REGISTRY", "HYPERPARAMETERS"]


def __getattr__(name):
    # PEP 562: the classes, and OPTIMIZERS (name -> class), imported on first use.
    classes = {spec.class_name: spec for spec in REGISTRY.values()}
    if name == "OPTIMIZERS":
        value = {key: spec.cls for key, spec in REGISTRY.items()}
    elif name in classes:
        globals()["OPTIMIZERS"] = {key: spec.cls for key, spec in REGISTRY.items()}  # registers them all
        value = classes[name].cls
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
