"""A trial is one model trained with one optimizer at one learning rate from one seed.

A plain invocation is a sweep of one trial per model and optimizer; `--lr` with several
values, `--seeds N` and `--sweep` only make the list longer. Everything that runs, logs and
reports takes trials and their results.
"""

import dataclasses
import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Trial:
    model: str
    optimizer: str
    learning_rate: float
    seed: int
    hyperparameters: tuple = ()  # the rule's own, as (name, value) pairs, defaults included
    epochs: int = 1  # for a two-weight surface, steps
    batch_size: int = 1
    dataset: str = ""  # what the model trains on: "regression", an image dataset, or "none"
    quick: bool = False  # the CNN trains on a fixed subset (see comparison.datasets)
    noise: float = 0.0  # a surface's gradient noise, see models.surfaces

    @property
    def name(self):
        """Unique within a run folder, readable in TensorBoard's run list: model and optimizer first."""
        return f"{self.model}/{self.optimizer}/lr={self.learning_rate:g},seed={self.seed}"

    def hparams(self):
        """What TensorBoard's HParams dashboard and trials.csv show for this trial."""
        return {
            "model": self.model,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
            **dict(self.hyperparameters),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "dataset": self.dataset,
            "noise": self.noise,
        }

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        values = dict(values)
        values["hyperparameters"] = tuple(tuple(pair) for pair in values["hyperparameters"])
        return cls(**values)


def plan_trials(models, optimizers, seeds, settings, hyperparameters, quick=False):
    """All trials of an invocation, in the order they are handed out.

    `settings[model]` holds "learning_rates" (optimizer -> the rates to try), "epochs",
    "batch_size", "dataset" and "noise"; `hyperparameters[optimizer]` the rule's own. The
    order is model, seed, learning rate (by its place in the rule's list), optimizer: an
    interrupted sweep has covered every optimizer at the rates it reached.
    """
    trials = []
    for model in models:
        rates = settings[model]["learning_rates"]
        depth = max(len(rates[o]) for o in optimizers)
        for seed, k, optimizer in itertools.product(seeds, range(depth), optimizers):
            if k < len(rates[optimizer]):
                trials.append(Trial(
                    model=model, optimizer=optimizer, learning_rate=float(rates[optimizer][k]), seed=int(seed),
                    hyperparameters=tuple(sorted(hyperparameters[optimizer].items())),
                    epochs=int(settings[model]["epochs"]), batch_size=int(settings[model]["batch_size"]),
                    dataset=settings[model]["dataset"], quick=bool(quick), noise=float(settings[model]["noise"]),
                ))
    return trials
