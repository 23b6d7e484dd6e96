"""The Keras callbacks a trial trains with, one per model kind: each records what the trial
logs and stops it when it diverges.

A trial diverged when its loss is NaN or infinite, or above DIVERGENCE_FACTOR times its loss
at the start (a classifier's: its first batch's). A run that "trains" at loss 450 where it
started at 2.3 has blown up, even if the number is finite.

`log` is where the epochs go: an object with `record(epoch, metrics)` (metrics: a dict such
as {"train_loss": ..., "val_loss": ...}; epoch 0 is the start) and `scalar(name, value, step)`.
"""

import math

import keras
import numpy as np

DIVERGENCE_FACTOR = 100


class DivergenceStop(keras.callbacks.Callback):
    """Stops training when the loss is non-finite or DIVERGENCE_FACTOR times its start."""

    path = None  # a two-weight model's recorded weights (PathRecorder)

    def __init__(self):
        super().__init__()
        self.start = None
        self.diverged = False

    def check(self, loss):
        if self.start is None:
            self.start = loss
        if not math.isfinite(loss) or (self.start > 0 and loss > DIVERGENCE_FACTOR * self.start):
            self.diverged = True
            self.model.stop_training = True

    def finish(self):
        """Called once training has ended, however it ended."""


class EpochRecorder(DivergenceStop):
    """For a model Keras trains epoch by epoch: each epoch's metrics from Keras's logs,
    divergence judged on every batch's loss."""

    NAMES = {"loss": "train_loss", "accuracy": "train_accuracy", "val_loss": "val_loss",
             "val_accuracy": "val_accuracy"}

    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            self.check(float(logs["loss"]))

    def on_epoch_end(self, epoch, logs=None):
        self.log.record(epoch + 1, {self.NAMES[k]: v for k, v in (logs or {}).items() if k in self.NAMES})


class PathRecorder(DivergenceStop):
    """For a two-weight model: its weights after every step, and its exact losses there.

    `exact_losses(points)` gives {"train_loss": ..., ["val_loss": ...]}, arrays of shape
    (k,) at float64 `points` of shape (k, 2): for the linear model the mean squared error
    on all its data whatever the batch size, for a surface its height without noise. So the
    logged loss is the height of the hill under the path. Every `steps_per_epoch` steps an
    epoch is recorded through `log.record`; divergence is judged on the exact training loss.

    The weights are read every step; their losses are computed (and logged, and checked)
    for CHUNK steps at a time: one vectorised evaluation instead of CHUNK small ones, which
    for a surface's keras.ops formula was most of the trial's time. So a diverging trial
    stops at most CHUNK steps after its loss blew up. `finish()` does the rest.
    """

    CHUNK = 8

    def __init__(self, exact_losses, steps_per_epoch, log):
        super().__init__()
        self.exact_losses = exact_losses
        self.steps_per_epoch = steps_per_epoch
        self.log = log
        self.path = []
        self._pending = []

    def _read_step(self):
        self._pending.append(np.asarray(self.model.trainable_weights[0].numpy(), "float64").ravel())
        if len(self._pending) >= self.CHUNK:
            self.finish()

    def finish(self):
        """Computes, logs and checks the losses of the steps read since the last call."""
        if not self._pending:
            return
        points = np.array(self._pending)
        self._pending.clear()
        with np.errstate(all="ignore"):  # divergence is reported, not warned about
            losses = {name: np.asarray(values, "float64") for name, values in self.exact_losses(points).items()}
        for k, w in enumerate(points):
            step = len(self.path)
            here = {name: float(values[k]) for name, values in losses.items()}
            self.path.append(w)
            if step % self.steps_per_epoch == 0:
                self.log.record(step // self.steps_per_epoch, here)
            if self.steps_per_epoch > 1:  # mini-batches: the loss after every step, too
                self.log.scalar("train_loss_per_step", here["train_loss"], step)
            self.check(here["train_loss"])

    def on_train_begin(self, logs=None):
        self._read_step()

    def on_train_batch_end(self, batch, logs=None):
        self._read_step()

    def on_train_end(self, logs=None):
        self.finish()
