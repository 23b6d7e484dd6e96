"""A trial is one model trained with one optimizer at one learning rate from one seed.

A plain invocation is a sweep of one trial per model and optimizer; `--lr` with several
values, `--seeds N` and `--sweep` only make the list longer. Everything that runs, logs and
reports takes trials and their results.
"""

import dataclasses
import itertools
from dataclasses import dataclass

from optimizers.hyperparameters import HYPERPARAMETERS


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
    quick: bool = False  # the CNN trains on a fixed subset (see models.kinds)
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


def plan(options, rules, data, models):
    """All trials of an invocation, in the order they are handed out, and notes on options
    given that apply to none of them.

    The order is model, seed, learning rate (by its place in the rule's list), optimizer: an
    interrupted sweep has covered every optimizer at the rates it reached. `rules` are the
    comparison's optimizers (comparison.rules), `data[model]` each model's ModelData.
    """
    from runtime.errors import UsageError

    notes = []
    given = options.hyperparameters
    unused = [h for h in given if not any(h in rule.hyperparameters for rule in rules if rule.registry_name)]
    if unused:
        flags = ", ".join(HYPERPARAMETERS[h].flag for h in unused)
        notes.append(f"{flags} applies to none of {', '.join(r.name for r in rules)}; ignored")
    ignored = {}
    trials = []
    for model in options.models:
        entry = models[model]
        settings, unused_options = entry.settings(data[model], options.batch_size, options.noise)
        for option in unused_options:
            ignored.setdefault(option, []).append(model)
        rates = {}
        for rule in rules:
            default = rule.default_learning_rate(entry)
            if default is None and not options.learning_rates:
                raise UsageError(f"{rule.name} has no default learning rate on {model}; give --lr")
            rates[rule.name] = (entry.learning_rate_grid(default) if options.sweep
                                else options.learning_rates or (default,))
        epochs = options.epochs or (entry.quick_epochs if options.quick else entry.epochs)
        depth = max(len(r) for r in rates.values())
        for seed, k, rule in itertools.product(options.seed_range, range(depth), rules):
            if k < len(rates[rule.name]):
                trials.append(Trial(
                    model=model, optimizer=rule.name, learning_rate=float(rates[rule.name][k]), seed=int(seed),
                    hyperparameters=tuple(sorted(rule.hyperparameters.items())), epochs=int(epochs),
                    batch_size=int(settings["batch_size"]), dataset=data[model].label, quick=options.quick,
                    noise=float(settings["noise"]),
                ))
    for option, names in ignored.items():
        notes.append(f"{option} does not apply to {', '.join(names)}; ignored there")
    names = [t.name for t in trials]
    assert len(set(names)) == len(names), "two trials of one plan share a name"
    return trials, notes
