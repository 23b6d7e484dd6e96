"""The one registry of optimizers: each one's name, class, hyperparameters and colour.

The command line's `--opt` choices and flags, the comparison's plan, the HParams columns and
every figure's colours are made from it. A fifth optimizer is its own module and one line
here. Importing this module imports no Keras: the command line reads it before TensorFlow
loads; a class is imported on first use.
"""

import importlib
from dataclasses import dataclass

from optimizers.hyperparameters import HYPERPARAMETERS


@dataclass(frozen=True)
class OptimizerSpec:
    name: str
    class_path: str  # "optimizers.momentum.Momentum"
    color: str  # the colour every figure draws it in (a matplotlib colour)
    hyperparameters: tuple = ()  # names in HYPERPARAMETERS that the class takes, besides learning_rate

    @property
    def cls(self):
        module, name = self.class_path.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)

    @property
    def class_name(self):
        return self.class_path.rsplit(".", 1)[1]

    def defaults(self):
        """{hyperparameter: its default}, in the class's order."""
        return {name: HYPERPARAMETERS[name].default for name in self.hyperparameters}


REGISTRY = {
    spec.name: spec
    for spec in [
        OptimizerSpec("sgd", "optimizers.sgd.SGD", "tab:blue"),
        OptimizerSpec("momentum", "optimizers.momentum.Momentum", "tab:orange", ("momentum",)),
        OptimizerSpec("rmsprop", "optimizers.rmsprop.RMSProp", "tab:green", ("rho", "epsilon")),
        OptimizerSpec("adam", "optimizers.adam.Adam", "tab:red", ("beta_1", "beta_2", "epsilon", "bias_correction")),
    ]
}
