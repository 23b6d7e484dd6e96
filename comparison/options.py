"""What a comparison can be asked, its defaults, and the checks every value passes.

`compare()`'s keywords and `train.py`'s options are the same, with the same defaults (the
command line's `--opt`, `--model` and `--lr` are `optimizers`, `models` and
`learning_rates`). Each value is checked here, before anything loads or is written; a bad
one is a UsageError (a ValueError) whose one-line message names the command-line option,
the same words whichever way it was given. Importing this module imports nothing heavy.
"""

import math
import numbers
import os
from dataclasses import dataclass, field

from models import BOTH, MODELS, SUITE
from optimizers.hyperparameters import HYPERPARAMETERS
from optimizers.registry import REGISTRY
from runtime.errors import UsageError

# Every default that is not a model's (those are in models.MODELS), a dataset's or an
# optimizer's (optimizers/registry.py).
SEED = 42  # the article's np.random.seed(42)
DATASET = "digits"
LOGDIR = "logs"
DEVICE = "auto"
DEVICES = ("auto", "cpu", "gpu")
SWEEP_SEEDS = 3
MAX_EPOCHS = 100_000
MAX_SEEDS = 1000
MAX_SEED = 2**32 - 1  # numpy's largest seed
MAX_NAME_BYTES = 64  # an optimizer's name (a folder in each trial's path)


@dataclass(frozen=True)
class Options:
    """A comparison's options, checked; `check_options` makes one."""

    models: tuple
    optimizers: object  # a tuple of names, or the caller's mapping name -> factory or name
    learning_rates: tuple | None
    seeds: int
    sweep: bool
    epochs: int | None
    batch_size: int | None
    target_loss: float | None
    noise: float
    dataset: str
    seed: int
    backend: str
    device: str
    distribute: bool
    mixed_precision: bool
    logdir: str
    run_name: str | None
    resume: bool
    overwrite: bool
    storage: str | None
    quick: bool
    suite: bool
    hyperparameters: dict = field(default_factory=dict)  # the registry rules' own, as given (None: default)

    @property
    def seed_range(self):
        return range(self.seed, self.seed + self.seeds)


def _flag(name):
    return "--" + name.replace("_", "-")


def _switch(name, value):
    """An on/off option: True or False (a string "no" is not False)."""
    numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    if not (isinstance(value, bool) or numpy_bool):
        raise UsageError(f"{_flag(name)} {value!r}: expected True or False")
    return bool(value)


def _whole(flag, value, low, high):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise UsageError(f"{flag} {value!r}: expected a whole number")
    if not low <= value <= high:
        raise UsageError(f"{flag} {value}: must be from {low} to {high}")
    return int(value)


def _real(flag, value, low=0.0, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UsageError(f"{flag} {value!r}: expected a finite number")
    if value < low or (positive and value <= low):
        raise UsageError(f"{flag} {value:g}: must be {'>' if positive else '>='} {low:g}")
    return float(value)


def _names(flag, value):
    """A name or a list of names, as a tuple without repeats."""
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names or not all(isinstance(n, str) for n in names):
        raise UsageError(f"{flag}: expected one or more names, got {value!r}")
    return tuple(dict.fromkeys(names))


def _models(value):
    names = _names("--model", value)
    unknown = [n for n in names if n not in MODELS and n != "both"]
    if unknown:
        raise UsageError(f"--model {unknown[0]!r}: not one of {', '.join(MODELS)}, or both")
    return tuple(dict.fromkeys(m for n in names for m in (BOTH if n == "both" else (n,))))


def _plain(flag, name):
    """A name that becomes a folder of the run (its trials'): one plain, printable name."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\\" in name \
            or not name.isprintable():
        raise UsageError(f"{flag} {name!r}: must be a plain name (it names the trials' folders)")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise UsageError(f"{flag} {name[:20]!r}...: at most {MAX_NAME_BYTES} bytes (it names the trials' folders)")
    return name


def _optimizers(value):
    if isinstance(value, dict):
        if not value:
            raise UsageError("optimizers: expected names, or a mapping of names to factories")
        return {_plain("optimizers", name): what for name, what in value.items()}
    names = tuple(_plain("--opt", name) for name in _names("--opt", value))
    names = tuple(dict.fromkeys(m for n in names for m in (REGISTRY if n == "all" else (n,))))
    unknown = [n for n in names if n not in REGISTRY and not n.startswith("keras:")]
    if unknown:
        raise UsageError(f"--opt {unknown[0]!r}: not one of {', '.join(REGISTRY)}, all, or keras:NAME "
                         "(a Keras built-in, e.g. keras:adam)")
    return names


def _learning_rates(value):
    if value is None:
        return None
    try:
        if isinstance(value, (str, bytes)):  # iterable, but its items are characters
            raise TypeError
        values = (value,) if isinstance(value, numbers.Real) else tuple(value)
    except TypeError:
        raise UsageError(f"--lr {value!r}: expected a learning rate, or a list of them") from None
    rates = tuple(dict.fromkeys(_real("--lr", v, positive=True) for v in values))
    if not rates:
        raise UsageError("--lr: expected one or more learning rates")
    if len({f"{lr:g}" for lr in rates}) != len(rates):
        raise UsageError("--lr values must differ in their first 6 significant digits (they name the runs)")
    return rates


def _run_name(value):
    if value is None:
        return None
    if not isinstance(value, str) or not value or value in (".", "..") or os.sep in value \
            or (os.altsep and os.altsep in value) or not value.isprintable():
        raise UsageError(f"--run-name {value!r}: must be a plain folder name")
    return value


def _hyperparameters(given):
    """The rules' hyperparameters given (by name, or as no_NAME for a flag that turns one
    off), checked: {name: value}."""
    values = {}
    for key, value in given.items():
        name = key.removeprefix("no_")
        spec = HYPERPARAMETERS.get(name)
        if spec is None or (key != name and spec.default is not True):
            raise UsageError(f"compare() got an unexpected keyword argument {key!r}")
        if value is None or (key != name and value is False):
            continue
        if key != name:
            value = not value if isinstance(value, bool) else value
        try:
            values[name] = spec.check(value)
        except ValueError:
            raise UsageError(f"{spec.flag} {value!r}: must be {spec.requirement}") from None
    return values


def _backend(backend):
    from comparison.devices import backend_problem, default_backend

    backend = backend or default_backend()
    problem = backend_problem(backend)
    if problem:
        source = " (the default, from $KERAS_BACKEND)" if backend == os.environ.get("KERAS_BACKEND") else ""
        raise UsageError(f"--backend: {problem}{source}")
    return backend


def _check_places(device, dataset, logdir, storage):
    if device not in DEVICES:
        raise UsageError(f"--device {device!r}: not one of {', '.join(DEVICES)}")
    if not isinstance(dataset, (str, os.PathLike)):
        raise UsageError(f"--dataset {dataset!r}: expected a name or a path")
    if not isinstance(logdir, (str, os.PathLike)):
        raise UsageError(f"--logdir {logdir!r}: expected a folder")
    if storage is not None and not isinstance(storage, str):
        raise UsageError(f"--storage {storage!r}: expected a database URL")


def check_options(*, models=None, optimizers=("all",), learning_rates=None, seeds=None, sweep=False,
                  epochs=None, batch_size=None, target_loss=None, noise=0.0, dataset=DATASET, seed=SEED,
                  backend=None, device=DEVICE, distribute=False, mixed_precision=False, logdir=LOGDIR,
                  run_name=None, resume=False, overwrite=False, storage=None, quick=False, suite=False,
                  **hyperparameters):
    """The options, checked: an Options, or a UsageError naming the first bad one. `models`
    None is both (linear and cnn), or with `suite`, the suite's."""
    sweep, distribute, mixed_precision, resume, overwrite, quick, suite = (
        _switch(name, value) for name, value in (("sweep", sweep), ("distribute", distribute),
                                                 ("mixed_precision", mixed_precision), ("resume", resume),
                                                 ("overwrite", overwrite), ("quick", quick), ("suite", suite)))
    if suite and models is not None:
        raise UsageError("--suite trains the suite's models; give either --suite or --model")
    models = SUITE if suite else ("both",) if models is None else models
    sweep = sweep or suite
    learning_rates = _learning_rates(learning_rates)
    if sweep and learning_rates:
        raise UsageError(f"--{'suite' if suite else 'sweep'} tries each optimizer's default grid; give either "
                         f"--{'suite' if suite else 'sweep'} or --lr")
    if resume and overwrite:
        raise UsageError("--resume continues a run and --overwrite replaces it; give one")
    run_name = _run_name(run_name)
    if resume and not run_name:
        raise UsageError("--resume needs the --run-name of the run to continue")
    seeds = SWEEP_SEEDS if seeds is None and sweep else 1 if seeds is None else _whole("--seeds", seeds, 1, MAX_SEEDS)
    seed = _whole("--seed", seed, 0, MAX_SEED)
    # The linear model validates on data drawn with seed + 1.
    if seed + seeds > MAX_SEED:
        raise UsageError(f"--seed {seed} with --seeds {seeds} goes past numpy's largest seed, 2**32 - 1 "
                         "(the linear model also uses seed + 1)")
    backend = _backend(backend)
    _check_places(device, dataset, logdir, storage)
    return Options(
        models=_models(models),
        optimizers=_optimizers(optimizers),
        learning_rates=learning_rates,
        seeds=seeds,
        sweep=bool(sweep),
        epochs=None if epochs is None else _whole("--epochs", epochs, 1, MAX_EPOCHS),
        batch_size=None if batch_size is None else _whole("--batch-size", batch_size, 1, 2**31 - 1),
        target_loss=None if target_loss is None else _real("--target-loss", target_loss),
        noise=_real("--noise", noise),
        dataset=os.fspath(dataset),
        seed=seed,
        backend=backend,
        device=device,
        distribute=bool(distribute),
        mixed_precision=bool(mixed_precision),
        logdir=os.fspath(logdir),
        run_name=run_name,
        resume=bool(resume),
        overwrite=bool(overwrite),
        storage=storage,
        quick=bool(quick),
        suite=bool(suite),
        hyperparameters=_hyperparameters(hyperparameters),
    )

