"""One line per finished trial: which of how many, what it was, its result, the time left.

The time left is counted in wall-clock time per trial, from one trial's end to the next's
in this worker: training, and everything around it (building and compiling the model,
logging, the study's bookkeeping), which is most of a two-weight trial's time. Trials of
models this worker has not run yet are estimated from other workers' training time plus
this worker's time outside training.
"""

import math
import statistics
import time

from optuna.trial import TrialState


# The study (every worker's finished trials) is read at most this often: reading it after
# every trial grew a long sweep's bookkeeping with the square of its size.
READ_EVERY_SECONDS = 10.0


class Progress:
    def __init__(self, trials, models, printer=print):
        self.trials = {trial.name: trial for trial in trials}
        self.index = {name: k for k, name in enumerate(self.trials, 1)}
        self.models = models
        self.print = printer
        self._last = time.monotonic()
        self._wall = {}  # model -> wall seconds of each trial this worker finished
        self._outside = []  # wall seconds minus training seconds, per trial
        self._read_at = None
        self._done, self._workers, self._elsewhere = set(), 1, {}  # as the study said when last read
        self._since = set()  # trials this worker finished since

    def starting(self, trial):
        # Keras's per-epoch lines need a heading; a two-weight trial is one line when done.
        if self.models[trial.model].shows_keras_progress:
            self.print(f"\n[{self.index[trial.name]}/{len(self.trials)}] {describe(trial)}", flush=True)

    def __call__(self, result, study):
        """Called when `result`'s trial has finished, before the study records it."""
        now = time.monotonic()
        wall, self._last = now - self._last, now
        self._wall.setdefault(result.trial.model, []).append(wall)
        self._outside.append(max(wall - result.seconds, 0.0))

        if self._read_at is None or now - self._read_at > READ_EVERY_SECONDS:
            self._read(study)
            self._read_at = now
        self._since.add(result.trial.name)
        done = self._done | self._since
        elsewhere, workers = self._elsewhere, self._workers
        left = [t for name, t in self.trials.items() if name not in done]

        def estimate(model):
            if model in self._wall:
                return statistics.fmean(self._wall[model])
            if model in elsewhere:
                return statistics.fmean(elsewhere[model]) + statistics.fmean(self._outside)
            return None

        estimates = [estimate(t.model) for t in left]
        known = sum(e for e in estimates if e is not None) / workers
        untimed = [t.model for t, e in zip(left, estimates) if e is None]
        if not left:
            eta = "done"
        elif len(untimed) == len(left):
            eta = "time left: known after a trial of each model"
        elif untimed:
            eta = (f"about {_duration(known)} left, and {len(untimed)} trials of "
                   f"{', '.join(dict.fromkeys(untimed))} not yet timed")
        else:
            eta = f"about {_duration(known)} left"
        self.print(f"[{len(done)}/{len(self.trials)}] {describe(result.trial)}: {outcome(result)} "
                   f"in {result.seconds:.1f} s; {eta}", flush=True)

    def _read(self, study):
        records = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        ours = [r for r in records if r.user_attrs.get("trial") in self.trials]
        finished = [r for r in ours if r.state == TrialState.COMPLETE]
        self._done = {r.user_attrs["trial"] for r in finished}
        self._workers = max(1, sum(r.state == TrialState.RUNNING for r in ours))
        self._elsewhere = {}
        for record in finished:
            model = self.trials[record.user_attrs["trial"]].model
            self._elsewhere.setdefault(model, []).append(record.user_attrs["result"]["seconds"])
        self._since = set()


def describe(trial):
    return f"{trial.model} / {trial.optimizer}, lr {trial.learning_rate:g}, seed {trial.seed}"


def outcome(result):
    parts = []
    for metric in ("val_loss", "val_accuracy") if result.history.get("val_loss") else ("train_loss",):
        value = result.final(metric)
        if value is not None:
            parts.append(f"{metric.replace('train_loss', 'loss')} {value:.4g}")
    return ", ".join(parts) + ("" if result.status == "ok" else f" ({result.status})")


def _duration(seconds):
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
