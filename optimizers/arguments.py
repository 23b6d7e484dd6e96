"""Construction-time checks of the optimizers' hyperparameters.

Each check raises `ValueError` naming the argument and the value received, so a bad
value fails where it is written: not as a NaN several thousand steps later, and not as a
`model.save` that cannot serialize the config. Each returns the value as a plain Python
`float` or `bool`, the form that `get_config` must hold to be written as JSON: a
`fractions.Fraction` or a NumPy scalar accepted as is would train, then fail to save.
"""

import decimal
import math
import numbers

import numpy as np


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
        raise _error(name, value, "a real number in [0, 1)")
    return number


def check_epsilon(value):
    number = _as_float(value)
    if number is None or not (math.isfinite(number) and number > 0):
        raise _error("epsilon", value, "a finite real number > 0")
    return number


def check_flag(name, value):
    """A flag is a bool (NumPy's included), never a string: `bool("False")` is True."""
    if not isinstance(value, (bool, np.bool_)):
        raise _error(name, value, "a bool (True or False)")
    return bool(value)
