"""The comparison: `compare()` trains each model with each optimizer, logs every trial for
TensorBoard and returns its results (see comparison/api.py).

The experiment lives here: its options, the optimizers it runs (rules), trials and their
plan, training one trial, the Optuna study that hands trials out, the results, the
TensorBoard logs, the devices. The plumbing around it (run folders, signals, console,
progress) is in `runtime`, the tables and figures in `reporting`.

Importing this package imports nothing heavy; Keras loads when `compare()` runs.
"""

from comparison.api import ComparisonResult, Interrupted, compare
from runtime.errors import ComparisonError, UsageError

__all__ = ["compare", "ComparisonResult", "ComparisonError", "UsageError", "Interrupted"]
