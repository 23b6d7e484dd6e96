"""The optimizers a comparison runs, whatever made them.

- A name in the registry (optimizers/registry.py): `sgd`, `momentum`, `rmsprop`, `adam`, and
  whatever is added there. Its hyperparameters are the class's defaults, or what the
  command line's flags (or `compare()`'s keywords) give.
- `keras:NAME`: a Keras built-in, any name `keras.optimizers.get` knows (`keras:adam`,
  `keras:adamw`, `keras:lion`), with its class's defaults.
- In `compare()`, a mapping `{name: factory}`, where `factory(learning_rate)` returns any
  `keras.optimizers.Optimizer` (or `{name: "adam"}`, `{name: "keras:adam"}`).

An optimizer the registry does not know has no per-model default learning rate: it gets the
learning rates it is given, or its class's default, with a `--sweep` grid around it. Its
hyperparameters, read from its config, appear in HParams and the plan.
"""

import inspect
import math
import numbers
from dataclasses import dataclass
from typing import Callable

from optimizers.hyperparameters import HYPERPARAMETERS
from optimizers.registry import REGISTRY
from runtime.errors import UsageError

KERAS_PREFIX = "keras:"


@dataclass(frozen=True)
class Rule:
    """An optimizer as the comparison runs it."""

    name: str  # as the runs, tables and figures name it
    make: Callable  # learning_rate -> a fresh keras.optimizers.Optimizer
    hyperparameters: dict  # what it runs with besides the learning rate, defaults included
    class_default_learning_rate: float | None = None
    color: str | None = None  # the registry's; figures give the others their own
    registry_name: str | None = None  # the registry's optimizer it is, whose per-model defaults apply

    def default_learning_rate(self, entry):
        """Its default learning rate on the model `entry` (a models.ModelEntry)."""
        return entry.default_learning_rate(self.registry_name or self.name, self.class_default_learning_rate)


def is_keras_name(name):
    return isinstance(name, str) and name.startswith(KERAS_PREFIX)


def registry_rule(name, given=None):
    """The registry's optimizer `name`, with the hyperparameters `given` (None: default)."""
    spec = REGISTRY[name]
    values = {h: (given or {}).get(h) for h in spec.hyperparameters}
    values = {h: HYPERPARAMETERS[h].default if v is None else v for h, v in values.items()}
    default = inspect.signature(spec.cls).parameters["learning_rate"].default
    return Rule(name, lambda learning_rate: spec.cls(learning_rate=learning_rate, **values), values,
                default, spec.color, registry_name=name)


def resolve(optimizers, given=None):
    """Rules for `optimizers` (names, or a mapping name -> factory or name); `given` holds
    the registry rules' hyperparameters set by flags or keywords. Raises UsageError."""
    items = optimizers.items() if isinstance(optimizers, dict) else ((name, name) for name in optimizers)
    rules = []
    for name, what in items:
        if isinstance(what, str) and what in REGISTRY:
            rule = registry_rule(what, given)
            rules.append(Rule(name, rule.make, rule.hyperparameters, rule.class_default_learning_rate, rule.color,
                              registry_name=what))
        elif is_keras_name(what):
            rules.append(_from_factory(name, _keras_factory(what), what))
        elif callable(what):
            rules.append(_from_factory(name, what, f"optimizers={{{name!r}: ...}}"))
        else:
            known = ", ".join(REGISTRY)
            raise UsageError(f"--opt {what!r}: not one of {known}, all, or keras:NAME (a Keras built-in)")
    return rules


def _keras_factory(name):
    import keras

    keras_name = name[len(KERAS_PREFIX):]
    try:
        cls = type(keras.optimizers.get(keras_name))
    except (ValueError, TypeError):
        raise UsageError(f"--opt {name}: Keras has no optimizer {keras_name!r} (keras.optimizers.get does not "
                         "know it)") from None
    return lambda learning_rate: cls(learning_rate=learning_rate)


def _from_factory(name, factory, source):
    """A rule made by `factory(learning_rate)`: asked twice, to learn its class and config
    and to check that it makes a new optimizer, at the learning rate asked, each time."""
    import keras

    probe, second = factory(1e-3), factory(1e-2)
    for made in (probe, second):
        if not isinstance(made, keras.optimizers.Optimizer):
            raise UsageError(f"{source}: the factory returned {type(made).__name__}, not a "
                             "keras.optimizers.Optimizer")
    if second is probe:
        raise UsageError(f"{source}: the factory returned the same optimizer twice; it must make a new one each "
                         "call (an optimizer carries its state and learning rate from one trial to the next)")
    for asked, made in ((1e-3, probe), (1e-2, second)):
        if isinstance(made._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            continue  # a schedule starting from the rate given: its value changes with the step
        rate = float(keras.ops.convert_to_numpy(made._learning_rate))
        if not math.isclose(rate, asked, rel_tol=1e-6):
            raise UsageError(f"{source}: asked for learning rate {asked:g}, the factory's optimizer has {rate:g}; it "
                             "must use the learning_rate it is given (the trials are named and compared by it)")
    signature = inspect.signature(type(probe).__init__).parameters
    default = signature.get("learning_rate")
    default = default.default if default is not None and isinstance(default.default, numbers.Real) else None
    base = {k: p.default for k, p in inspect.signature(keras.optimizers.Optimizer.__init__).parameters.items()}
    hyperparameters = {
        key: value for key, value in probe.get_config().items()
        if key not in ("name", "learning_rate") and isinstance(value, (bool, numbers.Real, str))
        and not (key in base and base[key] == value)
    }
    return Rule(name, factory, hyperparameters, float(default) if default is not None else None)
