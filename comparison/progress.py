"""One line per finished trial: which of how many, what it was, its result, the time left."""

import math
import statistics

from optuna.trial import TrialState

from models import MODELS


class Progress:
    def __init__(self, trials):
        self.trials = {trial.name: trial for trial in trials}
        self.index = {name: k for k, name in enumerate(self.trials, 1)}

    def starting(self, trial):
        # The CNN's Keras progress bar needs a heading; a two-weight trial is one line when done.
        if not MODELS[trial.model].two_weight:
            print(f"\n[{self.index[trial.name]}/{len(self.trials)}] {describe(trial)}", flush=True)

    def __call__(self, result, study):
        """Called when `result`'s trial has finished, before the study records it."""
        records = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        done = {r.user_attrs.get("trial"): r for r in records
                if r.state == TrialState.COMPLETE and r.user_attrs.get("trial") in self.trials}
        done_here = len(done) + 1
        workers = max(1, sum(r.state == TrialState.RUNNING for r in records))
        seconds = {result.trial.model: [result.seconds]}
        for name, record in done.items():
            seconds.setdefault(self.trials[name].model, []).append(record.user_attrs["result"]["seconds"])
        left = [t for name, t in self.trials.items() if name not in done and name != result.trial.name]
        if not left:
            eta = "done"
        elif all(t.model in seconds for t in left):
            eta = f"about {_duration(sum(statistics.fmean(seconds[t.model]) for t in left) / workers)} left"
        else:
            eta = "time left: known after a trial of each model"
        print(f"[{done_here}/{len(self.trials)}] {describe(result.trial)}: {outcome(result)} "
              f"in {result.seconds:.1f} s; {eta}", flush=True)


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
