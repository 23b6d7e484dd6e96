"""One verdict across problems: performance profiles (Dolan & Moré 2002), as AlgoPerf (MLCommons)
ranks training algorithms across workloads.

For problem p (a model) and rule s (an optimizer), t(p, s) is what s needs to reach p's
fixed target (models.MODELS[p].target: a validation loss, a surface's height; chosen once,
with its reason, never from the results): the epochs
(a surface's steps) until the mean curve over seeds, at s's best learning rate, first
reaches the target, and the seconds that takes (those epochs times the trials' mean
seconds per epoch). A rule that never reaches it has t = infinity.

    r(p, s) = t(p, s) / min over rules of t(p, .)      (infinite where no rule reaches it)
    rho_s(tau) = the share of problems with r(p, s) <= tau
    score_s = the area under rho_s from tau = 1 to 4, divided by 3, in [0, 1]

rho_s is a step function, so the area is exact: each problem adds max(0, 4 - r(p, s)) / 3.
A score of 1 is the fastest on every problem; 0, never within 4 times the fastest. There is
one profile in epochs and one in seconds.
"""

import math
import statistics
from dataclasses import dataclass

from comparison.results import first_epoch_at, mean_curve

TAU_MAX = 4.0
PROFILE_COLUMNS = ["model", "optimizer", "learning_rate", "target_metric", "target", "epochs_to_target",
                   "seconds_to_target", "ratio_epochs", "ratio_seconds", "score_epochs", "score_seconds"]


@dataclass
class Profile:
    rows: list  # PROFILE_COLUMNS, one per model and optimizer
    scores: dict  # optimizer -> {"epochs": score, "seconds": score}
    models: list

    def ratios(self, unit):
        """{optimizer: [r(p, s) for each model p]} in `unit` ("epochs" or "seconds")."""
        found = {}
        for row in self.rows:
            found.setdefault(row["optimizer"], []).append(row[f"ratio_{unit}"])
        return found


def score(ratios):
    """The area under rho(tau) from 1 to TAU_MAX over (TAU_MAX - 1), for one rule's ratios."""
    return sum(max(0.0, TAU_MAX - r) for r in ratios) / ((TAU_MAX - 1) * len(ratios))


def performance_profile(comparison, models):
    """The Profile of `comparison` (comparison.results.Comparison) over its models, each with
    its fixed target in `models`; None with fewer than two models."""
    if len(comparison.models) < 2:
        return None
    rows = []
    for model in comparison.models:
        entry = models[model]
        here = []
        for (m, optimizer), best in comparison.best.items():
            if m != model:
                continue
            curve, _, _ = mean_curve(best, entry.score_metric)
            epochs = first_epoch_at(curve, entry.target)
            per_epoch = statistics.fmean(r.seconds / max(r.epochs, 1) for r in best)
            here.append({"model": model, "optimizer": optimizer, "learning_rate": best[0].trial.learning_rate,
                         "target_metric": entry.score_metric, "target": entry.target,
                         "epochs_to_target": epochs,
                         "seconds_to_target": None if epochs is None else epochs * per_epoch})
        for unit in ("epochs", "seconds"):
            times = [math.inf if row[f"{unit}_to_target"] is None else row[f"{unit}_to_target"] for row in here]
            fastest = min(times)
            for row, t in zip(here, times):
                row[f"ratio_{unit}"] = t / fastest if math.isfinite(fastest) else math.inf
        rows += here
    profile = Profile(rows, {}, list(comparison.models))
    for unit in ("epochs", "seconds"):
        for optimizer, ratios in profile.ratios(unit).items():
            profile.scores.setdefault(optimizer, {})[unit] = score(ratios)
    for row in rows:
        row["score_epochs"], row["score_seconds"] = (profile.scores[row["optimizer"]][u] for u in ("epochs", "seconds"))
    return profile
