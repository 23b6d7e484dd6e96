"""What a trial writes for TensorBoard, and the callbacks that watch it train.

Layout, for one invocation's run folder RUN:

    RUN/<model>/<optimizer>/lr=<lr>,seed=<seed>/   one event file per trial: its scalars,
                                                   its HParams session and the experiment
    RUN/                                           the figures, tagged figures/...

One run per trial, so TensorBoard's run list holds no empty runs, every chart has one line
per trial, and the run name reads model, optimizer, learning rate, seed. Tags carry the
model's name (`linear/val_loss`, `cnn/train_accuracy`), so no chart mixes two models, and
the split (`train_`, `val_`), so train and validation are different charts, told apart by
their titles. Two-weight models log every step from step 0 (the start); the CNN every epoch.
"""

import math

import keras
import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api as hparams_api
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

from reporting.files import EventFile
from models import MODELS
from optimizers import OPTIMIZERS

# A trial diverged when its loss is NaN or infinite, or above this many times its loss at
# the start (for the CNN, the first batch's). A run that "trains" at loss 450 where it
# started at 2.3 has blown up, even if the number is finite.
DIVERGENCE_FACTOR = 100

# HParams columns, in the order the dashboard should offer them. The dashboard shows the
# first five and lists hyperparameters marked `differs` first (then by name), so the axes
# a comparison varies are marked so: learning_rate, model, optimizer, seed.
_COMPARED = ("model", "optimizer", "learning_rate", "seed")
_HPARAMS = (
    ("model", api_pb2.DATA_TYPE_STRING, tuple(MODELS)),
    ("optimizer", api_pb2.DATA_TYPE_STRING, tuple(OPTIMIZERS)),
    ("learning_rate", api_pb2.DATA_TYPE_FLOAT64, None),
    ("seed", api_pb2.DATA_TYPE_FLOAT64, None),
    ("momentum", api_pb2.DATA_TYPE_FLOAT64, None),
    ("rho", api_pb2.DATA_TYPE_FLOAT64, None),
    ("beta_1", api_pb2.DATA_TYPE_FLOAT64, None),
    ("beta_2", api_pb2.DATA_TYPE_FLOAT64, None),
    ("epsilon", api_pb2.DATA_TYPE_FLOAT64, None),
    ("bias_correction", api_pb2.DATA_TYPE_BOOL, (True, False)),
    ("epochs", api_pb2.DATA_TYPE_FLOAT64, None),
    ("batch_size", api_pb2.DATA_TYPE_FLOAT64, None),
    ("dataset", api_pb2.DATA_TYPE_STRING, None),
    ("noise", api_pb2.DATA_TYPE_FLOAT64, None),
)


def metric_tags():
    """Every model's result metrics, validation first: the HParams dashboard shows five."""
    first, rest = [], []
    for model, entry in MODELS.items():
        accuracy = ("accuracy",) if "accuracy" in entry.metrics else ()
        if entry.has_validation:
            first += [f"{model}/val_{m}" for m in ("loss",) + accuracy]
            rest += [f"{model}/train_{m}" for m in ("loss",) + accuracy]
        else:
            first.append(f"{model}/train_loss")
    return first + rest


def experiment_summary():
    """The HParams experiment: the same in every trial of every invocation, because the
    dashboard reads it from whichever run it finds first."""
    infos = []
    for name, kind, domain in _HPARAMS:
        info = api_pb2.HParamInfo(name=name, type=kind, differs=name in _COMPARED)
        if domain is not None:
            info.domain_discrete.extend(domain)
        infos.append(info)
    metrics = [
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=tag.replace("_", " "))
        for tag in metric_tags()
    ]
    content = plugin_data_pb2.HParamsPluginData(
        experiment=api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics))
    # What hparams_api.hparams_config writes, with the types and `differs` it cannot set.
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag=metadata.EXPERIMENT_TAG, metadata=metadata.create_summary_metadata(content),
        tensor=metadata.NULL_TENSOR,
    )])


class TrialLog(keras.callbacks.Callback):
    """A trial's TensorBoard event file and its per-epoch history.

    `history` maps "train_loss", "val_loss", "train_accuracy", "val_accuracy" to per-epoch
    values (index 0 is epoch 1); it is kept even if training is interrupted. With
    `from_keras_logs`, Keras's epoch logs are recorded; otherwise the path recorder calls
    `record`.
    """

    def __init__(self, trial, folder, session_id, from_keras_logs=True):
        super().__init__()
        self.trial = trial
        self.session_id = session_id
        self.from_keras_logs = from_keras_logs
        self.history = {}
        self._events = EventFile(folder)

    def scalar(self, name, value, step):
        self._events.scalar(f"{self.trial.model}/{name}", value, step)

    def record(self, epoch, metrics):
        """Records {"train_loss": ..., "val_loss": ...} for an epoch (0: the start, not kept
        in `history`), and the learning rate."""
        for name, value in metrics.items():
            self.scalar(name, float(value), epoch)
            if epoch > 0:
                self.history.setdefault(name, []).append(float(value))
        if epoch > 0:
            learning_rate = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            self.scalar("learning_rate", float(learning_rate), epoch)

    def on_train_begin(self, logs=None):
        self._events.summary(experiment_summary())
        # The session's id (the dashboard's "Trial ID") must be unique: sessions that share
        # one are merged and their metrics averaged. The caller gives "<trial> @ <run>".
        self._events.summary(hparams_api.hparams_pb(self.trial.hparams(), trial_id=self.session_id))

    def on_epoch_end(self, epoch, logs=None):
        if self.from_keras_logs:
            names = {"loss": "train_loss", "accuracy": "train_accuracy",
                     "val_loss": "val_loss", "val_accuracy": "val_accuracy"}
            self.record(epoch + 1, {names[k]: v for k, v in (logs or {}).items() if k in names})

    def close(self):
        """Flushes and closes the event file; called on normal end and on Ctrl-C alike."""
        self._events.close()


class DivergenceStop(keras.callbacks.Callback):
    """Stops training when the batch loss is non-finite or DIVERGENCE_FACTOR times its start."""

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

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            self.check(float(logs["loss"]))


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
