"""Keras callbacks that write the comparison's TensorBoard logs.

Layout, for one invocation's run folder RUN:

    RUN/<model>/<optimizer>/train/       <model>/loss, <model>/accuracy, <model>/learning_rate,
                                         and for the linear model <model>/loss_per_step
    RUN/<model>/<optimizer>/validation/  <model>/loss, <model>/accuracy
    RUN/<model>/<optimizer>/             the HParams session: this run's hyperparameters

TensorBoard draws one chart per tag and one line per folder, so each chart holds one
model's metric with a line per optimizer (train and validation), and separate
invocations under the same --logdir land side by side. Tags carry the model's name so
no chart ever mixes the linear model's loss with the CNN's.
"""

import math
import os

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api


class MetricsLog(keras.callbacks.Callback):
    """Per-epoch metrics to TensorBoard and to `history` (kept even if training is
    interrupted). With `from_keras_logs`, each Keras epoch's logs are recorded; otherwise
    another callback calls `record` (see `WeightPathRecorder`)."""

    def __init__(self, session_dir, model_name, hyperparameters, from_keras_logs=True):
        super().__init__()
        self.session_dir = session_dir
        self.model_name = model_name
        self.hyperparameters = hyperparameters
        self.from_keras_logs = from_keras_logs
        self.history = {}  # "loss", "val_loss", "accuracy", ... -> per-epoch values
        self._writers = {}

    def scalar(self, split, name, value, step):
        if split not in self._writers:
            self._writers[split] = tf.summary.create_file_writer(os.path.join(self.session_dir, split))
        with self._writers[split].as_default(), np.errstate(over="ignore"):
            # Scalars are float32 in TensorBoard; a diverging loss past its range is logged
            # as inf rather than refused.
            tf.summary.scalar(f"{self.model_name}/{name}", np.float32(value), step=step)

    def record(self, epoch, metrics):
        """Records {"loss": ..., "val_loss": ...} for a 1-based epoch, and the learning rate."""
        for key, value in metrics.items():
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self.scalar(split, name, float(value), epoch)
            self.history.setdefault(key, []).append(float(value))
        learning_rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        self.scalar("train", "learning_rate", float(learning_rate), epoch)

    def on_train_begin(self, logs=None):
        # The HParams session lives in the folder above train/ and validation/, so the
        # dashboard finds this run's metrics under those two groups.
        with tf.summary.create_file_writer(self.session_dir).as_default():
            hparams_api.hparams(self.hyperparameters, trial_id=os.path.basename(self.session_dir))

    def on_epoch_end(self, epoch, logs=None):
        if self.from_keras_logs:
            self.record(epoch + 1, {k: v for k, v in (logs or {}).items() if k != "learning_rate"})

    def close(self):
        """Flushes and closes the event files; called on normal end and on Ctrl-C alike."""
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


class WeightPathRecorder(keras.callbacks.Callback):
    """For a model whose only weight is a short vector (the article's w1, w2): the path the
    optimizer takes, and the loss after every step, computed exactly in float64 on all
    the data whatever the batch size, so it is the height of the hill under the path.

    Logs `<model>/loss_per_step` (step 0 is the start), and every `steps_per_epoch` steps
    the epoch's train and validation loss through `metrics_log.record`.
    """

    def __init__(self, split, steps_per_epoch, metrics_log):
        super().__init__()
        self.data = {
            "loss": (np.asarray(split.x_train, "float64"), np.asarray(split.y_train, "float64")),
            "val_loss": (np.asarray(split.x_val, "float64"), np.asarray(split.y_val, "float64")),
        }
        self.steps_per_epoch = steps_per_epoch
        self.metrics_log = metrics_log
        self.path, self.losses = [], []

    def _loss(self, w, key):
        x, y = self.data[key]
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported, not warned
            return float(np.mean((x @ w - y) ** 2))

    def _record_step(self):
        w = np.asarray(self.model.get_weights()[0], "float64")
        step = len(self.path)
        self.path.append(w.ravel())
        self.losses.append(self._loss(w, "loss"))
        self.metrics_log.scalar("train", "loss_per_step", self.losses[-1], step)
        if step > 0 and step % self.steps_per_epoch == 0:
            self.metrics_log.record(step // self.steps_per_epoch,
                                    {"loss": self.losses[-1], "val_loss": self._loss(w, "val_loss")})
        if not math.isfinite(self.losses[-1]):
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        self._record_step()

    def on_train_batch_end(self, batch, logs=None):
        self._record_step()
