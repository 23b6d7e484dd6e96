"""Training one model with one optimizer, the same way for every optimizer."""

import inspect
import math
import os
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from comparison.callbacks import MetricsLog, WeightPathRecorder
from models import MODELS
from optimizers import OPTIMIZERS


@dataclass
class Split:
    """A model's training and validation arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


@dataclass
class RunResult:
    model: str
    optimizer: str
    learning_rate: float
    epochs: int  # epochs completed
    seconds: float
    status: str  # "ok", "diverged" or "interrupted"
    history: dict = field(default_factory=dict)  # metric name -> per-epoch values
    path: np.ndarray | None = None  # (steps + 1, 2) weights, for the hill plot
    path_losses: list | None = None

    def final(self, metric):
        values = self.history.get(metric)
        return values[-1] if values else None


def optimizer_hyperparameters(optimizer_name, given):
    """The subset of `given` (name -> value, None for unset) that this optimizer accepts."""
    accepted = inspect.signature(OPTIMIZERS[optimizer_name].__init__).parameters
    return {k: v for k, v in given.items() if v is not None and k in accepted}


def batch_stream(split, epochs, batch_size, seed):
    """All epochs' batches as one dataset: a fresh seeded permutation each epoch."""
    n = len(split.x_train)
    rng = np.random.default_rng(seed)
    order = np.stack([rng.permutation(n) for _ in range(epochs)])
    x, y = tf.constant(split.x_train, "float32"), tf.constant(split.y_train, "float32")
    return (
        tf.data.Dataset.from_tensor_slices(order)
        .flat_map(lambda epoch: tf.data.Dataset.from_tensor_slices(epoch).batch(batch_size))
        .map(lambda idx: (tf.gather(x, idx), tf.gather(y, idx)))
    )


def train_one(model_name, optimizer_name, learning_rate, hyperparameters, split, *,
              epochs, batch_size, seed, session_dir, run_hyperparameters):
    """Builds a fresh model from `seed`, trains it with one optimizer, logs to `session_dir`.

    Every optimizer gets the same initial weights and the same batches in the same order:
    the global seed is reset before the model is built and before it is fitted.
    A non-finite loss stops the run and marks it diverged; Ctrl-C marks it interrupted.
    """
    entry = MODELS[model_name]
    keras.utils.set_random_seed(seed)
    num_classes = int(split.y_train.max()) + 1 if entry.metrics else 1
    model = entry.build(split.x_train.shape[1:], num_classes)
    optimizer = OPTIMIZERS[optimizer_name](learning_rate=learning_rate, **hyperparameters)
    model.compile(optimizer=optimizer, loss=entry.loss, metrics=list(entry.metrics))
    # HParams shows every hyperparameter the rule ran with, defaults included.
    config = optimizer.get_config()
    run_hyperparameters = {**{k: config[k] for k in optimizer_hyperparameters(optimizer_name, config)
                              if k != "learning_rate"}, **run_hyperparameters}

    os.makedirs(session_dir)
    log = MetricsLog(session_dir, model_name, run_hyperparameters, from_keras_logs=not entry.records_path)
    callbacks = [log, keras.callbacks.TerminateOnNaN()]
    if entry.records_path:
        # A two-weight model's step takes microseconds; Keras's per-epoch overhead (and
        # its per-epoch validation pass) would be 95% of the run. So the whole run is one
        # Keras epoch over a stream of per-epoch shuffled batches, and the recorder
        # computes each epoch's exact train and validation loss.
        steps_per_epoch = math.ceil(len(split.x_train) / batch_size)
        path = WeightPathRecorder(split, steps_per_epoch, log)
        callbacks.append(path)
        fit_args = dict(x=batch_stream(split, epochs, batch_size, seed), epochs=1,
                        steps_per_epoch=epochs * steps_per_epoch, shuffle=False)
    else:
        path = None
        fit_args = dict(x=split.x_train, y=split.y_train, batch_size=batch_size, epochs=epochs,
                        validation_data=(split.x_val, split.y_val))

    keras.utils.set_random_seed(seed)
    status = "ok"
    start = time.perf_counter()
    try:
        model.fit(**fit_args, callbacks=callbacks, verbose=1)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        log.close()
    seconds = time.perf_counter() - start

    # Only TerminateOnNaN and the path recorder stop training, both on a non-finite loss
    # (the model's float32 loss, or the exact one); a non-finite validation loss counts too.
    losses = log.history.get("loss", []) + log.history.get("val_loss", [])
    if status == "ok" and (model.stop_training or not all(math.isfinite(v) for v in losses)):
        status = "diverged"
    return RunResult(
        model=model_name,
        optimizer=optimizer_name,
        learning_rate=learning_rate,
        epochs=len(log.history.get("loss", [])),
        seconds=seconds,
        status=status,
        history=log.history,
        path=np.array(path.path) if path else None,
        path_losses=path.losses if path else None,
    )
