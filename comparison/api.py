"""`compare()`: the comparison as one function call, and the result it returns.

    from comparison import compare
    result = compare(models=["linear"], optimizers=["sgd", "adam"], sweep=True)
    result.summary      # pandas DataFrame: each optimizer at its best learning rate
    result.trials       # pandas DataFrame: one row per trial
    result.figures      # {"loss_curves": matplotlib Figure, "hill_linear": ..., ...}
    result.path         # the run folder: every file train.py writes

`train.py` is a command line over this function; the two take the same options, with the
same defaults, and write the same files.
"""

import base64
import importlib.metadata
import io
import os
import shlex
import sys
from functools import cached_property

from comparison.options import DATASET, DEVICE, LOGDIR, SEED, check_options
from runtime import interrupts
from runtime.errors import ComparisonError, UsageError
from runtime.run_folder import check_output_path, storage_problem


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, or a notebook's Interrupt) stopped the comparison. What finished
    is written and in `.result` (None if nothing ran); `.run_name` continues it with
    `resume=True` (`--resume`)."""

    def __init__(self, message, result=None, run_name=None, completed=False):
        super().__init__(message)
        self.result, self.run_name, self.completed = result, run_name, completed


def compare(models=None, optimizers=("all",), learning_rates=None, seeds=None, sweep=False, *,
            epochs=None, batch_size=None, target_loss=None, noise=0.0, dataset=DATASET, seed=SEED, backend=None,
            device=DEVICE, distribute=False, mixed_precision=False, logdir=LOGDIR, run_name=None, resume=False,
            overwrite=False, storage=None, quick=False, suite=False, verbose=None, command=None, **hyperparameters):
    """Trains each model with each optimizer at each learning rate from each seed, logs
    every trial for TensorBoard, and returns a ComparisonResult.

    Every option of `train.py` is a keyword with the same default (see `train.py --help` and
    the README): `models` (`--model`: names from models.MODELS, or "both"; default both),
    `suite` (`--suite`: every model of the benchmark with its sweep grid), `optimizers`
    (`--opt`: names, "all", "keras:NAME" for a Keras built-in, or a mapping
    `{name: factory}` where `factory(learning_rate)` returns any keras.optimizers.Optimizer),
    `learning_rates` (`--lr`), `seeds`, `sweep`, `epochs`, `batch_size`, `target_loss`,
    `noise`, `dataset`, `seed`, `backend`, `device`, `distribute`, `mixed_precision`,
    `logdir`, `run_name`, `resume`, `overwrite`, `storage`, `quick`, and the rules' own
    hyperparameters (`momentum`, `rho`, `beta_1`, `beta_2`, `epsilon`, `no_bias_correction`).
    `verbose` is Keras's for the classifiers' epochs (default: a progress bar on a terminal,
    a line per epoch elsewhere); `command` is what run.json records as the command.

    Bad arguments raise ValueError (a UsageError) with the one-line message the command line
    prints, before anything is written. A run that cannot go on (a full disk) raises a
    ComparisonError saying what was kept. Ctrl-C, or Kernel > Interrupt in a notebook,
    stops the trial in progress, writes the report of what finished and raises
    `Interrupted`, a KeyboardInterrupt, as any interrupted cell does: its `.result` is what
    finished, and `compare(..., run_name=e.run_name, resume=True)` continues the run.
    """
    options = check_options(
        models=models, optimizers=optimizers, learning_rates=learning_rates, seeds=seeds, sweep=sweep,
        epochs=epochs, batch_size=batch_size, target_loss=target_loss, noise=noise, dataset=dataset, seed=seed,
        backend=backend, device=device, distribute=distribute, mixed_precision=mixed_precision, logdir=logdir,
        run_name=run_name, resume=resume, overwrite=overwrite, storage=storage, quick=quick, suite=suite,
        **hyperparameters)
    if verbose is not None and (isinstance(verbose, bool) or verbose not in (0, 1, 2, "auto")):
        raise UsageError(f"verbose {verbose!r}: expected 0, 1, 2 or 'auto' (Keras's)")
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2  # a pipe, a file or a notebook gets one line per epoch
    with interrupts.handled():
        try:
            return _compare(options, verbose, command or ["compare()"])
        except ComparisonError:
            raise
        except Exception as error:  # a full disk, wherever it struck, is one line; anything else a bug
            problem = storage_problem(error)
            if problem is None:
                raise
            raise ComparisonError(f"cannot write under --logdir {options.logdir} ({problem})") from None


def _compare(options, verbose, command):
    from comparison.devices import start

    # Everything that can be checked is checked before anything heavy loads or is written.
    check_output_path(options.logdir, options.run_name, reuse=options.resume or options.overwrite,
                      study_in_folder=options.storage is None)
    _check_storage(options.storage)
    models, data = _load_data(options)
    interrupts.check()  # a library may have caught a Ctrl-C and gone on
    devices = start(options.backend, options.device, distribute=options.distribute)
    print(f"Device: {devices}")
    import keras

    if options.mixed_precision and not devices.gpu:
        raise UsageError("--mixed-precision needs a GPU (float16 on CPU is slower, not faster)")
    # Keras's dtype policy and (on JAX) its distribution are process-wide: set for this
    # comparison, and put back after it, for a notebook's next one.
    policy, distribution = keras.config.dtype_policy(), keras.distribution.distribution()
    try:
        if options.mixed_precision:
            keras.mixed_precision.set_dtype_policy("mixed_float16")
        interrupts.check()
        trials, trainer = _plan(options, models, data, devices, verbose)
        return _run(options, trials, data, models, trainer, _inputs(options, devices, data), command)
    finally:
        keras.config.set_dtype_policy(policy)
        keras.distribution.set_distribution(distribution)


def _check_storage(url):
    """A --storage database that cannot hold the study is one line, found by connecting."""
    from comparison.storage import shown, storage_url_problem

    problem = url is not None and storage_url_problem(url)
    if problem:
        raise UsageError(f"--storage {shown(url)!r}: {problem}")


def _load_data(options):
    from comparison.devices import quiet_native_logs, select_backend
    from data import DatasetError
    from models import MODELS

    # Keras reads its backend once, when first imported: before a keras.datasets loader does.
    select_backend(options.backend)
    models = {name: MODELS[name] for name in options.models}
    try:
        with quiet_native_logs():
            return models, {name: entry.load(options.dataset, options.quick) for name, entry in models.items()}
    except DatasetError as error:
        raise UsageError(str(error)) from None


def _plan(options, models, data, devices, verbose):
    from comparison.devices import data_parallel, uneven_split
    from comparison.rules import resolve
    from comparison.training import Trainer
    from comparison.trials import plan

    rules = resolve(options.optimizers, options.hyperparameters)
    trials, notes = plan(options, rules, data, models)
    for note in notes:
        print(f"Note: {note}")
    if options.distribute:
        problem = uneven_split(len(devices.names), trials, data, models)
        if problem:
            raise UsageError(problem)
        print(data_parallel(devices))
    return trials, Trainer(models, {rule.name: rule for rule in rules}, devices, verbose)


def _inputs(options, devices, data):
    """What a run's numbers depend on besides its trials' options; a resumed run must match."""
    import keras

    libraries = ["keras", "numpy", "tensorflow"] + ([options.backend] if options.backend != "tensorflow" else [])
    return {
        "backend": options.backend,
        "device": "gpu" if devices.gpu else "cpu",
        "target_loss": options.target_loss,  # the report's 'to target'
        "versions": {name: importlib.metadata.version(name) for name in libraries},
        "dtype_policy": keras.config.dtype_policy().name,
        "replicas": len(devices.names) if options.distribute else 1,
        "data": {model: d.fingerprint for model, d in data.items()},
    }


def _run(options, trials, data, models, trainer, inputs, command):
    from comparison.running import StopRequested, run_plan

    try:
        outcome = run_plan(options, trials, data, models, trainer, inputs, command)
    except StopRequested as stop:
        outcome = stop.outcome
        result = ComparisonResult(outcome, data, models) if outcome.comparison else None
        if stop.completed:
            message = f"Stopped once every trial had finished: the run in {outcome.path} is complete."
        elif outcome.replaced_kept:
            message = (f"The new run was interrupted: {outcome.path} is unchanged; what the new run finished is "
                       f"in {outcome.replaced_kept}.")
        else:
            message = f"Interrupted: what finished is in {outcome.path}; resume=True (--resume) continues it."
        raise Interrupted(message, result, None if outcome.replaced_kept else outcome.name, stop.completed) from None
    print(f"\nOpen TensorBoard: {tensorboard_command(options.logdir)}")
    for what, link in tensorboard_links(outcome.name).items():
        print(f"  {what}: {link}")
    return ComparisonResult(outcome, data, models)


def tensorboard_command(logdir):
    """The command that opens TensorBoard on `logdir`, runnable from a fresh shell: the
    `tensorboard` installed beside this Python (in its virtual environment), not whichever
    is first on the PATH, if any."""
    if logdir.startswith("~"):
        logdir = os.path.join(".", logdir)  # TensorBoard expands ~ in --logdir; the run did not
    script = os.path.join(os.path.dirname(sys.executable), "tensorboard")
    if not os.path.isfile(script):
        return shlex.join([sys.executable, "-m", "tensorboard.main", f"--logdir={logdir}"])
    relative = os.path.relpath(script)
    return shlex.join([script if relative.startswith("..") else relative, f"--logdir={logdir}"])


def tensorboard_links(run_name, port=6006):
    """Links that open TensorBoard on this run's answers, with no clicks: its summary in the
    Text dashboard, and its mean-over-seeds curves in Time Series (the legacy dashboards tick
    no run when more than 40 match, and every run of an invocation starts with its name)."""
    import re
    import urllib.parse

    def encoded(values):  # %20 for a space: TensorBoard reads its #hash with decodeURIComponent, not as a form
        return urllib.parse.urlencode(values, quote_via=urllib.parse.quote)

    name = re.escape(run_name)
    base = f"http://localhost:{port}/"
    return {
        "this run's summary": base + "#text&" + encoded({"regexInput": f"^{name}$"}),
        "its mean curves": base + "?" + encoded({"runFilter": f"^{name}/.*/mean,", "smoothing": 0}) + "#timeseries",
    }


class ComparisonResult:
    """What `compare()` returns: the run's tables as DataFrames, its figures, its folder.

    In a notebook it shows as the summary table and the loss curves.
    """

    def __init__(self, outcome, data, models):
        self.path = outcome.path
        self.comparison = outcome.comparison  # comparison.results.Comparison
        self._data, self._models = data, models

    @cached_property
    def trials(self):
        """One row per trial: the columns of trials.csv."""
        from comparison.results import TRIAL_COLUMNS

        return _frame(self.comparison.trial_rows(), TRIAL_COLUMNS)

    @cached_property
    def summary(self):
        """One row per model and optimizer at its best learning rate: the columns of summary.csv."""
        from comparison.results import SUMMARY_COLUMNS

        return _frame(self.comparison.summary_rows(), SUMMARY_COLUMNS)

    @cached_property
    def profile(self):
        """With two or more models, the performance profile: the columns of profile.csv (one
        row per model and optimizer, each optimizer's score repeated); else None."""
        from comparison.profiles import PROFILE_COLUMNS, performance_profile

        profile = performance_profile(self.comparison, self._models)
        return None if profile is None else _frame(profile.rows, PROFILE_COLUMNS)

    @cached_property
    def figures(self):
        """{name: matplotlib Figure}: loss_curves, lr_sensitivity (several learning rates),
        hill_<model> (each two-weight model); the PNG files in `path` are these."""
        from reporting.report import figures

        return figures(self.comparison, self._data, self._models)

    def __repr__(self):
        from reporting.tables import format_table

        return f"ComparisonResult({self.path!r})\n" + format_table(self.comparison.summary_rows(),
                                                                    self.comparison.targets)

    def _repr_html_(self):
        buffer = io.BytesIO()
        self.figures["loss_curves"].savefig(buffer, format="png", dpi=80)
        image = base64.b64encode(buffer.getvalue()).decode()
        return (f"<p>Run folder: <code>{self.path}</code></p>" + self.summary.to_html(index=False, na_rep="-")
                + f'<img src="data:image/png;base64,{image}" alt="loss curves">')


def _frame(rows, columns):
    """The rows as a DataFrame read back from their CSV form: the values of the run's CSV
    files, with the types pandas gives them."""
    import pandas as pd

    from reporting.tables import csv_text

    return pd.read_csv(io.StringIO(csv_text(rows, columns)))


__all__ = ["compare", "ComparisonResult", "ComparisonError", "UsageError", "Interrupted"]
