"""Construction-time checks of the optimizers' hyperparameters.

Each check raises `ValueError` naming the argument and the value received, so a bad
value fails where it is written, not as a NaN several thousand steps later.
"""

import math
import numbers


def _is_real_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_learning_rate(value):
    """Accepts a finite number >= 0, or anything else Keras accepts (a schedule, a callable)."""
    if isinstance(value, (str, bool)) or (
        _is_real_number(value) and not (math.isfinite(value) and value >= 0)
    ):
        raise ValueError(
            "Argument `learning_rate` must be a finite number >= 0 or a "
            f"LearningRateSchedule; received: learning_rate={value!r}"
        )


def check_decay_rate(name, value):
    """Decay rates (`momentum`, `rho`, `beta_1`, `beta_2`) live in [0, 1)."""
    if not (_is_real_number(value) and 0 <= value < 1):
        raise ValueError(
            f"Argument `{name}` must be a number in [0, 1); received: {name}={value!r}"
        )


def check_epsilon(value):
    if not (_is_real_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(
            f"Argument `epsilon` must be a finite number > 0; received: epsilon={value!r}"
        )
