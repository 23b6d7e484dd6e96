"""What a trial writes for TensorBoard: its curves, and its HParams session.

Layout, for one invocation's run folder RUN:

    RUN/<model>/<optimizer>/lr=<lr>,seed=<seed>/   one event file per trial: its curves, its
                                                   HParams session and the experiment
    RUN/<model>/<optimizer>/mean,lr=<lr>/          the mean over seeds at the best learning
                                                   rate (reporting/board.py)
    RUN/                                           the figures, the Custom Scalars layout and
                                                   the summary as Text (reporting/board.py)

Curves: tags carry the model and the split (`linear/val_loss`, `cnn/train_accuracy`), so no
chart mixes two models and train and validation are different charts. Two-weight models log
every step from step 0 (the start); the others every epoch. The learning rate is logged
only when it changes during the trial (a schedule).

HParams (what TensorBoard 2.21 makes of it was checked against its server and frontend):
- A trial is a session, and the seeds of one setting (invocation, model, optimizer, learning
  rate, and so every other hyperparameter) are the sessions of one group, named
  `<invocation>/<model>/<optimizer>/lr=<lr>`: the group's row shows the mean over its seeds,
  and "Show Metrics" draws each seed. A group copies its hyperparameters from one of its
  sessions, so none differs within a group: `seeds` is the invocation's seeds ("42-44").
- The metrics are the same for every model, so no column is empty: `hparams/loss` (the
  final validation loss; a surface's final height) and `hparams/train_loss`, written once,
  at the end. A diverged trial writes NaN there and ends with status FAILURE: the table
  shows it (NaN) and the Status filter can hide it, and it stretches no axis or colour
  scale (a 1e7 or an inf would). The curves keep their raw values.
- The experiment (the columns) is written in every trial, because TensorBoard reads the
  first it finds, at random; every invocation writes the same one but for the domains of
  `invocation` (the runs in the log folder) and `optimizer` (those it knows of).
- Numbers TensorBoard would draw on a continuous axis as 42.000 (`seeds`, `batch_size`) are
  strings. `differs` marks the columns shown first: invocation, learning_rate, model,
  optimizer, seeds.
"""

import math
from dataclasses import dataclass

from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

from models import MODELS
from optimizers.hyperparameters import HYPERPARAMETERS
from reporting.files import EventFile

# The final validation loss (a surface: its height, its only loss), and the final train loss.
METRICS = {"hparams/loss": "final loss", "hparams/train_loss": "final train loss"}
_SHOWN_FIRST = ("invocation", "model", "optimizer", "learning_rate", "seeds")
_STRING, _NUMBER, _BOOL = api_pb2.DATA_TYPE_STRING, api_pb2.DATA_TYPE_FLOAT64, api_pb2.DATA_TYPE_BOOL


def seeds_label(seeds):
    """"42-44" for the seeds 42, 43, 44; "7" for one."""
    seeds = sorted(seeds)
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"


def _summary(tag, content):
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag=tag, metadata=metadata.create_summary_metadata(content), tensor=metadata.NULL_TENSOR)])


@dataclass(frozen=True)
class Experiment:
    """What every trial of an invocation tells the HParams dashboard, besides its own values."""

    invocation: str  # the run folder's name
    invocations: tuple  # every invocation in the log folder: the `invocation` column's values
    optimizers: tuple  # the `optimizer` column's values
    seeds: str  # seeds_label of the invocation's seeds
    extra_hyperparameters: tuple = ()  # names of hyperparameters of optimizers outside the registry

    def group(self, trial):
        return f"{self.invocation}/{trial.model}/{trial.optimizer}/lr={trial.learning_rate:g}"

    def hparams(self, trial):
        return {"invocation": self.invocation, "model": trial.model, "optimizer": trial.optimizer,
                "learning_rate": trial.learning_rate, "seeds": self.seeds, **dict(trial.hyperparameters),
                "epochs": trial.epochs, "batch_size": str(trial.batch_size), "dataset": trial.dataset,
                "noise": trial.noise}

    def summary(self):
        columns = [("invocation", _STRING, self.invocations), ("model", _STRING, tuple(MODELS)),
                   ("optimizer", _STRING, self.optimizers), ("learning_rate", _NUMBER, None),
                   ("seeds", _STRING, None)]
        columns += [(h.name, _BOOL if isinstance(h.default, bool) else _NUMBER, None)
                    for h in HYPERPARAMETERS.values()]
        columns += [(name, _NUMBER, None) for name in self.extra_hyperparameters]
        columns += [("epochs", _NUMBER, None), ("batch_size", _STRING, None), ("dataset", _STRING, None),
                    ("noise", _NUMBER, None)]
        infos = []
        for name, kind, domain in columns:
            info = api_pb2.HParamInfo(name=name, type=kind, differs=name in _SHOWN_FIRST)
            if domain:
                info.domain_discrete.extend(domain)
            infos.append(info)
        metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=shown)
                   for tag, shown in METRICS.items()]
        return _summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(
            experiment=api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)))


def _session_start(hparams, group):
    info = plugin_data_pb2.SessionStartInfo(group_name=group)
    for name, value in hparams.items():
        if isinstance(value, bool):
            info.hparams[name].bool_value = value
        elif isinstance(value, (int, float)):
            info.hparams[name].number_value = value
        else:
            info.hparams[name].string_value = str(value)
    return _summary(metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=info))


def _session_end(status):
    return _summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(
        session_end_info=plugin_data_pb2.SessionEndInfo(status=status)))


class TrialLog:
    """A trial's TensorBoard event file and its per-epoch history.

    `history` maps "train_loss", "val_loss", "train_accuracy", "val_accuracy" to per-epoch
    values (index 0 is epoch 1); it is kept even if training is interrupted. The model's
    watch (models.watch) calls `record` for each epoch. `learning_rate()` is asked for the
    optimizer's current learning rate at each epoch.
    """

    def __init__(self, trial, folder, experiment, learning_rate):
        self.trial = trial
        self.history = {}
        self._learning_rate = learning_rate
        self._rates = []  # (epoch, rate) while the rate has not changed: logged once it does
        self._events = EventFile(folder)
        self._events.summary(experiment.summary())
        self._events.summary(_session_start(experiment.hparams(trial), experiment.group(trial)))

    def scalar(self, name, value, step):
        self._events.scalar(f"{self.trial.model}/{name}", value, step)

    def record(self, epoch, metrics):
        """Records {"train_loss": ..., "val_loss": ...} for an epoch (0: the start, not kept
        in `history`), and the learning rate if it has changed."""
        for name, value in metrics.items():
            self.scalar(name, float(value), epoch)
            if epoch > 0:
                self.history.setdefault(name, []).append(float(value))
        if epoch > 0:
            self._record_rate(epoch, self._learning_rate())

    def _record_rate(self, epoch, rate):
        if self._rates is not None and all(rate == r for _, r in self._rates):
            self._rates.append((epoch, rate))
            return
        for earlier, value in self._rates or ():
            self.scalar("learning_rate", value, earlier)
        self._rates = None  # changed: every epoch from now on
        self.scalar("learning_rate", rate, epoch)

    def finish(self, status, score_metric):
        """Ends the HParams session: the final values, and SUCCESS, or FAILURE with NaN values
        for a diverged trial (an interrupted one, rerun later, ends nothing)."""
        if status == "interrupted":
            return
        step = len(self.history.get("train_loss", []))
        for tag, metric in zip(METRICS, (score_metric, "train_loss")):
            values = self.history.get(metric) or [math.nan]
            self._events.scalar(tag, values[-1] if status == "ok" else math.nan, step)
        self._events.summary(_session_end(api_pb2.STATUS_SUCCESS if status == "ok" else api_pb2.STATUS_FAILURE))

    def close(self):
        """Writes what is buffered and closes the event file; called on normal end and on
        Ctrl-C alike. Raises OSError if the file could not be written whole."""
        self._events.close()
