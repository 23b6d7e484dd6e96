"""What a trial writes for TensorBoard.

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

from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.hparams import api as hparams_api
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

from models import MODELS
from optimizers.hyperparameters import HYPERPARAMETERS
from reporting.files import EventFile

# HParams columns, in the order the dashboard should offer them. The dashboard shows the
# first five and lists hyperparameters marked `differs` first (then by name), so the axes
# a comparison varies are marked so: learning_rate, model, optimizer, seed.
_COMPARED = ("model", "optimizer", "learning_rate", "seed")
_TYPES = {bool: api_pb2.DATA_TYPE_BOOL, str: api_pb2.DATA_TYPE_STRING}
_HPARAMS = (
    ("model", api_pb2.DATA_TYPE_STRING, tuple(MODELS)),
    ("optimizer", api_pb2.DATA_TYPE_STRING, None),
    ("learning_rate", api_pb2.DATA_TYPE_FLOAT64, None),
    ("seed", api_pb2.DATA_TYPE_FLOAT64, None),
    *((h.name, _TYPES.get(type(h.default), api_pb2.DATA_TYPE_FLOAT64),
       (True, False) if isinstance(h.default, bool) else None) for h in HYPERPARAMETERS.values()),
    ("epochs", api_pb2.DATA_TYPE_FLOAT64, None),
    ("batch_size", api_pb2.DATA_TYPE_FLOAT64, None),
    ("dataset", api_pb2.DATA_TYPE_STRING, None),
    ("noise", api_pb2.DATA_TYPE_FLOAT64, None),
)


def metric_tags():
    """Every model's result metrics, validation first: the HParams dashboard shows five."""
    first, rest = [], []
    for model, entry in MODELS.items():
        metrics = [f"{model}/{m}" for m in entry.result_metrics]
        first += [m for m in metrics if "/val_" in m] or metrics[:1]
        rest += [m for m in metrics if m not in first]
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


class TrialLog:
    """A trial's TensorBoard event file and its per-epoch history.

    `history` maps "train_loss", "val_loss", "train_accuracy", "val_accuracy" to per-epoch
    values (index 0 is epoch 1); it is kept even if training is interrupted. The model's
    watch (models.watch) calls `record` for each epoch. `learning_rate()` is asked for the
    optimizer's current learning rate at each epoch.
    """

    def __init__(self, trial, folder, session_id, learning_rate):
        self.trial = trial
        self.history = {}
        self._learning_rate = learning_rate
        self._events = EventFile(folder)
        self._events.summary(experiment_summary())
        # The session's id (the dashboard's "Trial ID") must be unique: sessions that share
        # one are merged and their metrics averaged. The caller gives "<trial> @ <run>".
        self._events.summary(hparams_api.hparams_pb(trial.hparams(), trial_id=session_id))

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
            self.scalar("learning_rate", self._learning_rate(), epoch)

    def close(self):
        """Writes what is buffered and closes the event file; called on normal end and on
        Ctrl-C alike. Raises OSError if the file could not be written whole."""
        self._events.close()
