"""Training one trial: one model, one optimizer, one learning rate, one seed."""

import math
import shutil
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from comparison.callbacks import DivergenceStop, PathRecorder, TrialLog
from models import MODELS
from models.surfaces import surface_heights
from optimizers import OPTIMIZERS

METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


@dataclass
class TrialResult:
    trial: object  # comparison.trials.Trial
    status: str  # "ok", "diverged" or "interrupted"
    epochs: int  # epochs completed
    seconds: float
    history: dict = field(default_factory=dict)  # METRICS -> per-epoch values, index 0 is epoch 1
    path: np.ndarray | None = None  # two-weight models: (steps + 1, 2) weights, row 0 the start

    def final(self, metric):
        values = self.history.get(metric)
        return values[-1] if values else None

    @property
    def score(self):
        """What a comparison ranks trials by: the final validation loss, or for a surface
        (no data to hold out) its final height; infinite when the trial diverged."""
        value = self.final("val_loss")
        if value is None:
            value = self.final("train_loss")
        if self.status == "diverged" or value is None or not math.isfinite(value):
            return math.inf
        return value

    def to_dict(self):
        return {
            "status": self.status, "epochs": self.epochs, "seconds": self.seconds, "history": self.history,
            "path": None if self.path is None else self.path.tolist(),
        }

    @classmethod
    def from_dict(cls, trial, values):
        path = values.get("path")
        return cls(trial=trial, status=values["status"], epochs=values["epochs"], seconds=values["seconds"],
                   history=values["history"], path=None if path is None else np.array(path, "float64"))


def batch_stream(split, epochs, batch_size, seed):
    """A two-weight model's steps: each epoch's batches in an order drawn from (seed, epoch).

    Made lazily, so memory does not grow with `epochs`; a full batch is the data as it is.
    """
    n = len(split.x_train)
    x, y = tf.constant(split.x_train, "float32"), tf.constant(split.y_train, "float32")
    if batch_size >= n:
        return tf.data.Dataset.from_tensors((x, y)).repeat(epochs)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    return (tf.data.Dataset.range(epochs).flat_map(epoch_batches)
            .map(lambda idx: (tf.gather(x, idx), tf.gather(y, idx))))


def noise_stream(epochs, sigma, seed):
    """A surface's steps: one noise vector per step, N(0, sigma**2) per coordinate, drawn
    from (seed, step), so the gradient is the exact one plus that noise (zero if sigma is 0)."""
    def step(index):
        noise = tf.random.stateless_normal([1, 2], seed=tf.stack([tf.constant(seed, tf.int64), index]))
        return sigma * noise, tf.zeros([1, 1])

    return tf.data.Dataset.range(epochs).map(step)


def _mean_squared_error(x, y):
    """The linear model's loss at each of `points` (k, 2), exactly, in float64."""
    x, y = np.asarray(x, "float64"), np.asarray(y, "float64")
    return lambda points: np.mean((points @ x.T - y.ravel()) ** 2, axis=-1)


# Two-weight models, compiled once per model, rule and hyperparameters: see compiled_model.
_compiled = {}


def compiled_model(trial, data):
    """A compiled model with the trial's initial weights (built from its seed) and optimizer.

    A two-weight trial is a few hundred microsecond steps, and tracing Keras's train step
    would take as long as the training itself; so trials that differ only in learning rate
    and seed reuse one compiled model (and its trace): its weights are set to those of a
    model freshly built from the seed, the optimizer's state is zeroed and its learning
    rate (a variable) set. The results are identical to a fresh model's (a test checks).
    The CNN, whose trials take seconds and which has dropout state, is built fresh.
    """
    entry = MODELS[trial.model]
    keras.utils.set_random_seed(trial.seed)
    # With --distribute on TensorFlow, a model (and its optimizer's variables) trains
    # data-parallel if made in the strategy's scope; otherwise the scope does nothing.
    from comparison.devices import distribution_scope

    with distribution_scope():
        fresh = entry.build(data.input_shape, data.num_classes)
    key = (trial.model, trial.optimizer, trial.hyperparameters, keras.config.dtype_policy().name)
    model = _compiled.get(key) if entry.two_weight else None
    if model is None:
        with distribution_scope():
            optimizer = OPTIMIZERS[trial.optimizer](learning_rate=trial.learning_rate, **dict(trial.hyperparameters))
            fresh.compile(optimizer=optimizer, loss=entry.loss, metrics=list(entry.metrics))
        if entry.two_weight:
            _compiled[key] = fresh
        return fresh
    model.set_weights(fresh.get_weights())
    for variable in model.optimizer.variables:
        variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
    model.optimizer.learning_rate = trial.learning_rate
    return model


def train_trial(trial, data, folder, session_id, verbose=1):
    """Builds a fresh model from the trial's seed, trains it with the trial's optimizer,
    logs to `folder`; returns a TrialResult.

    Every optimizer gets the same initial weights and the same batches in the same order:
    the global seed is reset before the model is built and before it is fitted. A diverging
    loss stops the trial and marks it diverged; Ctrl-C marks it interrupted.
    """
    entry = MODELS[trial.model]
    split = data.split(trial.seed)
    model = compiled_model(trial, data)

    # The trial's folder is its own: what an interrupted earlier attempt left there goes, so
    # TensorBoard shows the rerun once.
    shutil.rmtree(folder, ignore_errors=True)
    log = TrialLog(trial, folder, session_id, from_keras_logs=not entry.two_weight)
    if entry.two_weight:
        # A two-weight model's step takes microseconds; Keras's per-epoch overhead (and its
        # per-epoch validation pass) would be most of the run. So the whole trial is one
        # Keras epoch over a stream of steps, and the recorder computes each step's exact
        # losses and logs every epoch.
        if entry.surface is not None:
            stream = noise_stream(trial.epochs, trial.noise, trial.seed)
            steps_per_epoch = 1
            exact = {"train_loss": lambda points: surface_heights(entry.surface, points)}
        else:
            stream = batch_stream(split, trial.epochs, trial.batch_size, trial.seed)
            steps_per_epoch = math.ceil(len(split.x_train) / trial.batch_size)
            exact = {"train_loss": _mean_squared_error(split.x_train, split.y_train),
                     "val_loss": _mean_squared_error(split.x_val, split.y_val)}
        watch = PathRecorder(lambda w: {k: f(w) for k, f in exact.items()}, steps_per_epoch, log)
        fit_args = dict(x=stream, epochs=1, steps_per_epoch=trial.epochs * steps_per_epoch, shuffle=False,
                        verbose=0)
    else:
        watch = DivergenceStop()
        fit_args = dict(x=split.x_train, y=split.y_train, batch_size=trial.batch_size, epochs=trial.epochs,
                        validation_data=(split.x_val, split.y_val), verbose=verbose)

    keras.utils.set_random_seed(trial.seed)
    status = "ok"
    start = time.perf_counter()
    try:
        model.fit(**fit_args, callbacks=[log, watch])
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        if entry.two_weight:
            watch.finish()
        log.close()
    seconds = time.perf_counter() - start

    history = log.history
    if status == "ok" and (watch.diverged or not all(math.isfinite(v) for m in METRICS for v in history.get(m, []))):
        status = "diverged"
    return TrialResult(
        trial=trial, status=status, epochs=len(history.get("train_loss", [])), seconds=seconds, history=history,
        path=np.array(watch.path) if entry.two_weight else None,
    )
