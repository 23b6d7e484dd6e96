"""The optimizers' hyperparameters: each one's default, valid range and meaning, in one place,
and the construction-time checks.

The classes take their defaults and checks from `HYPERPARAMETERS`; the application makes
its command-line flags, the plan and the HParams columns from it. Importing this module
imports no Keras.

Each check raises `ValueError` naming the argument and the value received, so a bad
value fails where it is written: not as a NaN several thousand steps later, and not as a
`model.save` that cannot serialize the config. Each returns the value as a plain Python
`float` or `bool`, the form that `get_config` must hold to be written as JSON: a
`fractions.Fraction` or a NumPy scalar accepted as is would train, then fail to save.
"""

import decimal
import math
import numbers
from dataclasses import dataclass
from typing import Callable


def _as_float(value):
    """`value` as a float if it is a real number, else None.

    bool is a subclass of int, so without the check `True` would pass as 1.0; a str,
    complex or None is a wrong argument, never a number meant here.
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, decimal.Decimal)):
        return None
    try:
        return float(value)
    except OverflowError:  # an int or Fraction beyond float's range
        return math.inf if value > 0 else -math.inf
    except ValueError:  # decimal.Decimal("sNaN")
        return math.nan


def _error(name, value, requirement):
    return ValueError(f"Argument `{name}` must be {requirement}; received: {name}={value!r}")


def check_learning_rate(value):
    """A finite real number >= 0 as a float, or a schedule or callable, as Keras accepts."""
    if callable(value):  # a LearningRateSchedule, or a function returning the rate
        return value
    number = _as_float(value)
    if number is None or not (math.isfinite(number) and number >= 0):
        raise _error(
            "learning_rate",
            value,
            "a finite real number >= 0, a LearningRateSchedule or a callable",
        )
    return number


def check_decay_rate(name, value):
    """Decay rates (`momentum`, `rho`, `beta_1`, `beta_2`) are real numbers in [0, 1)."""
    number = _as_float(value)
    if number is None or not 0 <= number < 1:
        raise _error(name, value, DECAY_RATE)
    return number


def check_epsilon(value):
    number = _as_float(value)
    if number is None or not (math.isfinite(number) and number > 0):
        raise _error("epsilon", value, POSITIVE)
    return number


def check_flag(name, value):
    """A flag is a bool (NumPy's included), never a string: `bool("False")` is True."""
    numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    if not (isinstance(value, bool) or numpy_bool):
        raise _error(name, value, FLAG)
    return bool(value)


DECAY_RATE = "a real number in [0, 1)"
POSITIVE = "a finite real number > 0"
FLAG = "a bool (True or False)"


@dataclass(frozen=True)
class Hyperparameter:
    """One of the rules' own hyperparameters (the learning rate is every rule's, apart)."""

    name: str  # Keras's name for it, so a kwargs dict fits ours and Keras's alike
    default: object
    requirement: str  # what a valid value is, as error messages say it
    check: Callable  # value -> the value as a plain float or bool; ValueError naming it
    help: str

    @property
    def flag(self):
        """The command-line flag: `--beta-1`, or for a flag that is on by default, `--no-bias-correction`."""
        words = self.name.replace("_", "-")
        return f"--no-{words}" if self.default is True else f"--{words}"


def _decay_rate(name, default, help):
    return Hyperparameter(name, default, DECAY_RATE, lambda value: check_decay_rate(name, value), help)


HYPERPARAMETERS = {
    h.name: h
    for h in [
        _decay_rate("momentum", 0.9, "decay rate of the velocity, the average of past gradients"),
        _decay_rate("rho", 0.9, "decay rate of the average of squared gradients"),
        _decay_rate("beta_1", 0.9, "decay rate of the gradient average m"),
        _decay_rate("beta_2", 0.999, "decay rate of the squared-gradient average v"),
        Hyperparameter("epsilon", 1e-8, POSITIVE, check_epsilon,
                       "added to the root mean square of the gradients, outside the square root"),
        Hyperparameter("bias_correction", True, FLAG, lambda value: check_flag("bias_correction", value),
                       "bias correction, m and v divided by 1 - beta**t (off: the article's exact code)"),
    ]
}

MOMENTUM, RHO, BETA_1, BETA_2, EPSILON, BIAS_CORRECTION = HYPERPARAMETERS.values()
