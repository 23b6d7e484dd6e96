"""Training one trial: one model, one optimizer, one learning rate, one seed."""

import math
import shutil
import time

import keras
import numpy as np

from comparison.results import FINAL, TrialResult
from comparison.tensorboard import TrialLog


class Trainer:
    """Trains a comparison's trials on its devices; `compare()` makes one and passes it down.

    Every optimizer gets the same initial weights and the same batches in the same order:
    the global seed is reset before the model is built and before it is fitted. A diverging
    loss stops the trial and marks it diverged; Ctrl-C marks it interrupted.

    A two-weight trial is a few hundred microsecond steps, and tracing Keras's train step
    would take as long as the training itself; so for models whose kind says so
    (`reuses_compiled_model`), trials that differ only in learning rate and seed reuse one
    compiled model (and its trace): its weights are set to those of a model freshly built
    from the seed, the optimizer's state is zeroed and its learning rate (a variable) set.
    The results are identical to a fresh model's (a test checks). The CNN, whose trials take
    seconds and which has dropout state, is built fresh.
    """

    def __init__(self, models, rules, devices, verbose=1):
        self.models = models  # name -> models.ModelEntry
        self.rules = rules  # name -> comparison.rules.Rule
        self.devices = devices  # comparison.devices.Devices: where models are built
        self.verbose = verbose
        self._compiled = {}

    def compiled_model(self, trial, data):
        """A compiled model with the trial's initial weights (built from its seed) and optimizer."""
        entry = self.models[trial.model]
        key = (trial.model, trial.optimizer, trial.hyperparameters, keras.config.dtype_policy().name)
        if key in self._compiled:
            # A reused model's start does not depend on the seed (see models.kinds.TwoWeightModel).
            model, start = self._compiled[key]
            model.set_weights(start)
            for variable in model.optimizer.variables:
                variable.assign(keras.ops.zeros(variable.shape, variable.dtype))
            model.optimizer.learning_rate = trial.learning_rate
            return model
        keras.utils.set_random_seed(trial.seed)
        with self.devices.scope():
            model = entry.build(data.input_shape, data.num_classes)
            model.compile(optimizer=self.rules[trial.optimizer].make(trial.learning_rate), loss=entry.loss,
                          metrics=list(entry.metrics))
        if entry.reuses_compiled_model:
            self._compiled[key] = model, model.get_weights()
        return model

    def train(self, trial, data, folder, experiment):
        """Trains `trial` on `data` (a models.kinds.ModelData), logging to `folder` as part of
        `experiment` (comparison.tensorboard.Experiment); returns a TrialResult."""
        entry = self.models[trial.model]
        split = data.split(trial.seed)
        model = self.compiled_model(trial, data)

        # The trial's folder is its own: what an interrupted earlier attempt left there goes,
        # so TensorBoard shows the rerun once.
        shutil.rmtree(folder, ignore_errors=True)
        log = TrialLog(trial, folder, experiment,
                       learning_rate=lambda: float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        try:
            fitting = entry.fitting(trial, split, log, self.verbose)
            keras.utils.set_random_seed(trial.seed)
            status = "ok"
            start = time.perf_counter()
            try:
                model.fit(**fitting.arguments, callbacks=[fitting.watch])
            except KeyboardInterrupt:
                status = "interrupted"
            fitting.watch.finish()
            seconds = time.perf_counter() - start
            history = log.history
            if status == "ok" and (fitting.watch.diverged
                                   or not all(math.isfinite(v) for m in FINAL for v in history.get(m, []))):
                status = "diverged"
            log.finish(status, entry.score_metric)
        finally:
            log.close()
        # No path for a model without one, or for a trial stopped before its first step.
        path = np.array(fitting.watch.path) if getattr(fitting.watch, "path", None) else None
        return TrialResult(trial=trial, status=status, epochs=len(history.get("train_loss", [])), seconds=seconds,
                           history=history, path=path)
