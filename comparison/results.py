"""What trials give, and what a comparison makes of them: one row per trial, one per model
and optimizer.

A fair comparison (DeepOBS's protocol): each optimizer at its best learning rate, the one
with the lowest mean final validation loss over its seeds (a surface, with no data to hold
out, is scored by its final height; a diverged trial counts as infinitely bad), reported as
the mean and spread over those seeds, with the epochs its mean curve needs to reach a
target loss. The default target of a model is the worst of the optimizers' best mean
final losses, so every optimizer's best setting reaches it. Each model's optimizers get a
verdict against the best one (comparison.verdict): which cannot be told apart from it with
the seeds run, and how many seeds would tell them apart.
"""

import math
import statistics
from dataclasses import dataclass, field

import numpy as np

from comparison.verdict import verdicts

TRIAL_COLUMNS = [
    "model", "optimizer", "learning_rate", "seed", "train_loss", "val_loss", "train_accuracy", "val_accuracy",
    "epochs", "seconds", "status", "epochs_to_target", "run",
]
SUMMARY_COLUMNS = [
    "model", "optimizer", "learning_rate", "seeds", "train_loss", "val_loss", "val_loss_std", "train_accuracy",
    "val_accuracy", "val_accuracy_std", "epochs", "seconds", "epochs_to_target", "diverged_trials",
    "best_lr_at_grid_edge", "diverged", "status", "verdict", "p_value", "seeds_needed",
]
FINAL = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


@dataclass
class TrialResult:
    trial: object  # comparison.trials.Trial
    status: str  # "ok", "diverged" or "interrupted"
    epochs: int  # epochs completed
    seconds: float
    history: dict = field(default_factory=dict)  # FINAL -> per-epoch values, index 0 is epoch 1
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


def score_curve(result):
    """Per-epoch values of what the trial is ranked by (see TrialResult.score)."""
    return result.history.get("val_loss") or result.history.get("train_loss") or []


def first_epoch_at(curve, target):
    """The 1-based epoch at which `curve` first reaches `target`, or None."""
    if target is None:
        return None
    return next((epoch for epoch, value in enumerate(curve, 1) if value <= target), None)


def mean_curve(results, metric):
    """Per-epoch mean, min and max over `results` of `metric`, as far as all of them ran."""
    curves = [r.history.get(metric) or [] for r in results]
    length = min((len(c) for c in curves), default=0)
    columns = [[c[i] for c in curves] for i in range(length)]
    return ([statistics.fmean(v) for v in columns], [min(v) for v in columns], [max(v) for v in columns])


class Comparison:
    """The results of one run's trials, grouped the way the report needs them."""

    def __init__(self, results, target_loss=None):
        self.results = list(results)
        self.models = list(dict.fromkeys(r.trial.model for r in self.results))
        self.optimizers = list(dict.fromkeys(r.trial.optimizer for r in self.results))
        self.best = {}  # (model, optimizer) -> results at the best learning rate
        self.diverged_trials = {}
        self.edge = {}
        groups = self._groups()
        for (model, optimizer), group in groups.items():
            finished = [r for r in group if r.status != "interrupted"] or group
            by_rate = {}
            for r in finished:
                by_rate.setdefault(r.trial.learning_rate, []).append(r)
            mean = {rate: statistics.fmean(r.score for r in rs) if all(math.isfinite(r.score) for r in rs)
                    else math.inf for rate, rs in by_rate.items()}
            best_rate = min(by_rate, key=lambda rate: (mean[rate], rate))
            self.best[model, optimizer] = sorted(by_rate[best_rate], key=lambda r: r.trial.seed)
            self.diverged_trials[model, optimizer] = sum(r.status == "diverged" for r in group)
            rates = sorted(by_rate)
            self.edge[model, optimizer] = len(rates) > 1 and best_rate in (rates[0], rates[-1])
        self.targets = {model: self._target(model, target_loss) for model in self.models}
        # Several learning rates were tried for some model and optimizer.
        self.swept = any(len({r.trial.learning_rate for r in group}) > 1 for group in groups.values())

    def _groups(self):
        groups = {}
        for r in self.results:
            groups.setdefault((r.trial.model, r.trial.optimizer), []).append(r)
        return groups

    def _target(self, model, override):
        if override is not None:
            return override
        scores = [statistics.fmean(r.score for r in rs) for (m, _), rs in self.best.items() if m == model]
        finite = [s for s in scores if math.isfinite(s)]
        return max(finite) if finite else None

    def trial_rows(self):
        rows = []
        for r in self.results:
            rows.append({
                "model": r.trial.model, "optimizer": r.trial.optimizer, "learning_rate": r.trial.learning_rate,
                "seed": r.trial.seed, **{m: r.final(m) for m in FINAL}, "epochs": r.epochs,
                "seconds": r.seconds, "status": r.status,
                "epochs_to_target": first_epoch_at(score_curve(r), self.targets[r.trial.model]),
                "run": r.trial.name,
            })
        return rows

    def verdicts(self, model):
        """{optimizer: comparison.verdict.Verdict} on `model`."""
        return verdicts({o: [r.score for r in rs] for (m, o), rs in self.best.items() if m == model})

    def summary_rows(self):
        rows = []
        judged = {model: self.verdicts(model) for model in self.models}
        for (model, optimizer), best in self.best.items():
            def mean(metric):
                values = [r.final(metric) for r in best]
                return statistics.fmean(values) if values and None not in values else None

            def spread(metric):
                values = [r.final(metric) for r in best]
                if len(values) < 2 or None in values:
                    return None
                return statistics.stdev(values)

            curve, _, _ = mean_curve(best, "val_loss" if best[0].history.get("val_loss") else "train_loss")
            statuses = {r.status for r in best}
            rows.append({
                "model": model, "optimizer": optimizer, "learning_rate": best[0].trial.learning_rate,
                "seeds": len(best), "train_loss": mean("train_loss"), "val_loss": mean("val_loss"),
                "val_loss_std": spread("val_loss"), "train_accuracy": mean("train_accuracy"),
                "val_accuracy": mean("val_accuracy"), "val_accuracy_std": spread("val_accuracy"),
                "epochs": max(r.epochs for r in best), "seconds": round(statistics.fmean(r.seconds for r in best), 2),
                "epochs_to_target": first_epoch_at(curve, self.targets[model]),
                "diverged_trials": self.diverged_trials[model, optimizer],
                "best_lr_at_grid_edge": self.edge[model, optimizer],
                "diverged": "diverged" in statuses,
                "status": next((s for s in ("interrupted", "diverged") if s in statuses), "ok"),
                "verdict": judged[model][optimizer].verdict, "p_value": judged[model][optimizer].p_value,
                "seeds_needed": judged[model][optimizer].seeds_needed,
            })
        return rows
