"""Compare SGD, Momentum, RMSProp and Adam on the article's linear regression, a small CNN and
two-weight test surfaces; log every trial side by side for TensorBoard.

    python train.py                            # all four optimizers, linear and cnn (~1 min on 2 cores)
    python train.py --opt rmsprop              # one optimizer
    python train.py --model bumpy valley --opt sgd momentum   # the article's hill, on test surfaces
    python train.py --sweep --model linear     # a fair comparison: 7 learning rates x 3 seeds each
    python train.py --lr 0.01 0.1 0.5 --seeds 3 --model linear
    python train.py --quick                    # smoke run: a few seconds per optimizer
    python train.py --dataset my_images.npz    # any .npz in the Keras layout
    tensorboard --logdir logs                  # then open http://localhost:6006

Each invocation writes a new run folder under --logdir: one TensorBoard run per trial
(model x optimizer x learning rate x seed), trials.csv, summary.csv/.json, the figures.
"""

import argparse
import functools
import math
import os
import shlex
import sys
import threading

from data import DATASETS
from models import BOTH, MODELS

# Every default that is not a model's (those are in models.MODELS) or a dataset's.
SEED = 42  # the article's np.random.seed(42)
DATASET = "digits"
LOGDIR = "logs"
SWEEP_SEEDS = 3
MAX_EPOCHS = 100_000
# The optimizer names, read from the registry without importing Keras (--help must be
# instant); a test checks they are exactly optimizers.OPTIMIZERS.
OPTIMIZER_NAMES = list(MODELS["linear"].learning_rates)
RULE_HYPERPARAMETERS = ("momentum", "rho", "beta_1", "beta_2", "epsilon", "bias_correction")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One clear line, no usage dump: the usage is one `--help` away.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, low=None, high=None, low_inclusive=True, high_inclusive=False):
    """An argparse type: a finite number of `kind` between `low` and `high`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        too_high = high is not None and (value > high if high_inclusive else value >= high)
        if too_low or too_high:
            bounds = (f"{'[' if low_inclusive else '('}{low}, {high if high is not None else 'inf'}"
                      f"{']' if high_inclusive else ')'}")
            raise argparse.ArgumentTypeError(f"must be in {bounds}, got {text!r}")
        return value

    return parse


def _run_name(text):
    if not text or text in (".", "..") or os.sep in text or (os.altsep and os.altsep in text):
        raise argparse.ArgumentTypeError(f"must be a plain folder name, got {text!r}")
    return text


def parse_args(argv=None):
    def lr_table(model):
        return ", ".join(f"{k} {v:g}" for k, v in MODELS[model].learning_rates.items())

    surfaces = [m for m, e in MODELS.items() if e.surface is not None]
    p = _Parser(
        prog="train.py",
        description="Train models with each optimizer and compare them side by side in TensorBoard.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="models and their defaults (epochs; learning rates):\n" + "\n".join(
            f"  {m:<10} {e.epochs:>4} {'steps ' if e.surface else 'epochs'}  {lr_table(m)}" for m, e in MODELS.items())
        + "\n\n--sweep tries each rule's default learning rate times 10**(k/2), k = -3..3 (7 rates over 3 decades)"
        f"\nwith {SWEEP_SEEDS} seeds.\n\nthen: tensorboard --logdir {LOGDIR}",
    )
    p.add_argument("--opt", nargs="+", default=["all"], choices=OPTIMIZER_NAMES + ["all"], metavar="NAME",
                   help=f"optimizers to compare: one or more of {', '.join(OPTIMIZER_NAMES)}, or all (default: all)")
    p.add_argument("--model", nargs="+", default=["both"], choices=list(MODELS) + ["both"], metavar="NAME",
                   help=f"models to train: one or more of {', '.join(MODELS)}, or both (linear and cnn; default); "
                   f"the surfaces ({', '.join(surfaces)}) are the article's hill made real")
    p.add_argument("--epochs", type=_number(int, 1, MAX_EPOCHS, high_inclusive=True),
                   help="training epochs; for a surface, steps (default: per model, below)")
    p.add_argument("--batch-size", type=_number(int, 1, 2**31),
                   help="batch size (default: the whole training set for linear, the article's gradient; "
                   f"{MODELS['cnn'].batch_size} for cnn)")
    p.add_argument("--lr", nargs="+", type=_number(float, 0, low_inclusive=False), metavar="LR",
                   help="one or more learning rates, tried with every optimizer (default: per model and optimizer)")
    p.add_argument("--seeds", type=_number(int, 1, 1000, high_inclusive=True),
                   help=f"run seeds --seed .. --seed + N - 1 (default: 1; {SWEEP_SEEDS} with --sweep)")
    p.add_argument("--sweep", action="store_true",
                   help="each optimizer's default grid of learning rates for each model, and "
                   f"{SWEEP_SEEDS} seeds (default: off)")
    p.add_argument("--target-loss", type=_number(float, 0),
                   help="the loss whose first epoch 'to target' counts (default: per model, the worst of the "
                   "optimizers' best mean final losses)")
    p.add_argument("--momentum", type=_number(float, 0, 1), help="Momentum's decay rate (default: 0.9)")
    p.add_argument("--rho", type=_number(float, 0, 1), help="RMSProp's decay rate (default: 0.9)")
    p.add_argument("--beta-1", type=_number(float, 0, 1), help="Adam's first-moment decay (default: 0.9)")
    p.add_argument("--beta-2", type=_number(float, 0, 1), help="Adam's second-moment decay (default: 0.999)")
    p.add_argument("--epsilon", type=_number(float, 0, low_inclusive=False),
                   help="RMSProp's and Adam's epsilon (default: 1e-8)")
    p.add_argument("--no-bias-correction", action="store_true",
                   help="Adam without bias correction, the article's exact code (default: corrected)")
    p.add_argument("--noise", type=_number(float, 0), default=0.0,
                   help="standard deviation of Gaussian noise added to a surface's gradient, per step and "
                   "coordinate, drawn from the seed (default: %(default)s, the exact gradient)")
    p.add_argument("--dataset", default=DATASET,
                   help=f"images for the CNN: {', '.join(DATASETS)}, or a path to an .npz with x_train, y_train, "
                   "x_test, y_test (default: %(default)s, embedded, works offline)")
    p.add_argument("--seed", type=_number(int, 0, 2**32), default=SEED,
                   help="seeds initial weights, dropout, batch order, the linear model's data and surface noise "
                   "(default: %(default)s)")
    from comparison.devices import BACKENDS, backend_problem, default_backend  # imports nothing heavy

    def backend(text):
        problem = backend_problem(text)
        if problem:
            source = " (the default, from $KERAS_BACKEND)" if text == os.environ.get("KERAS_BACKEND") else ""
            raise argparse.ArgumentTypeError(problem + source)
        return text

    p.add_argument("--backend", type=backend, default=default_backend(), metavar="NAME",
                   help=f"the Keras backend that trains: {', '.join(BACKENDS)} (default: $KERAS_BACKEND, else "
                   "tensorflow; here %(default)s)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"],
                   help="auto uses a GPU when the backend sees one (default: %(default)s)")
    p.add_argument("--distribute", action="store_true",
                   help="data-parallel training: each batch split over every local GPU, one replica each "
                   "(tensorflow: MirroredStrategy, jax: DataParallel; not torch). On a machine without GPUs it "
                   "trains on the CPU alone, unless TRAIN_CPU_DEVICES=N splits the CPU into N devices, for "
                   "testing (default: off)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="train in mixed_float16 (GPU only; default: off)")
    p.add_argument("--logdir", default=LOGDIR, help="where run folders go (default: %(default)s)")
    p.add_argument("--run-name", type=_run_name,
                   help="this run's folder name under --logdir (default: the date and time, yymmdd-HHMMSS)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --run-name folder made by this tool, once the new run has "
                   "finished (default: refuse)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run --run-name (or start it): finished trials are kept, the rest run; "
                   "processes started alike split the trials (default: off)")
    p.add_argument("--storage", metavar="URL",
                   help="database URL of the Optuna study that hands out and records the trials, e.g. "
                   "postgresql://user@host/db to share a sweep between machines (default: a SQLite file in "
                   "the run folder)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 50 linear steps, 1 cnn epoch on a 2,048-image subset (default: off)")
    args = p.parse_args(argv)

    args.opt = OPTIMIZER_NAMES if "all" in args.opt else list(dict.fromkeys(args.opt))
    args.model = list(dict.fromkeys(m for name in args.model for m in (BOTH if name == "both" else [name])))
    if args.sweep and args.lr:
        p.error("--sweep tries each optimizer's default grid; give either --sweep or --lr")
    if args.resume and args.overwrite:
        p.error("--resume continues a run and --overwrite replaces it; give one")
    if args.resume and not args.run_name:
        p.error("--resume needs the --run-name of the run to continue")
    args.seeds = args.seeds or (SWEEP_SEEDS if args.sweep else 1)
    # The linear model validates on data drawn with seed + 1.
    if args.seed + args.seeds >= 2**32:
        p.error(f"--seed {args.seed} with --seeds {args.seeds} goes past numpy's largest seed, 2**32 - 1 "
                "(the linear model also uses seed + 1)")
    if args.lr and len({f"{lr:g}" for lr in args.lr}) != len(set(args.lr)):
        p.error("--lr values must differ in their first 6 significant digits (they name the runs)")
    if args.storage:
        _check_storage_url(p, args.storage)
    return args


def _check_storage_url(parser, url):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as error:
        parser.error(f"--storage {url!r}: not a database URL this machine can use ({error})")


def fail(message, status=2):
    print(f"train.py: error: {message}", file=sys.stderr)
    sys.exit(status)


def plan(args, data):
    """The trials this invocation asks for (see comparison.trials)."""
    import inspect

    from comparison.trials import plan_trials
    from optimizers import OPTIMIZERS

    given = {"momentum": args.momentum, "rho": args.rho, "beta_1": args.beta_1, "beta_2": args.beta_2,
             "epsilon": args.epsilon, "bias_correction": False if args.no_bias_correction else None}
    hyperparameters = {}
    for name in args.opt:
        # HParams and the plan show every hyperparameter a rule runs with, defaults included.
        accepted = inspect.signature(OPTIMIZERS[name]).parameters
        hyperparameters[name] = {k: given[k] if given[k] is not None else accepted[k].default
                                 for k in RULE_HYPERPARAMETERS if k in accepted}
    ignored = [k for k, v in given.items() if v is not None and not any(k in h for h in hyperparameters.values())]
    if ignored:
        flags = ["--no-bias-correction" if k == "bias_correction" else "--" + k.replace("_", "-") for k in ignored]
        print(f"Note: {', '.join(flags)} applies to none of {', '.join(args.opt)}; ignored")
    if args.noise and not any(MODELS[m].surface for m in args.model):
        print("Note: --noise applies only to the surfaces; ignored")
    if args.batch_size and any(MODELS[m].surface for m in args.model):
        print("Note: a surface takes one step per epoch (its noise is --noise); --batch-size does not apply to it")

    settings = {}
    for model in args.model:
        entry = MODELS[model]
        if args.sweep:
            rates = {o: entry.learning_rate_grid(o) for o in args.opt}
        else:
            rates = {o: tuple(args.lr or [entry.learning_rates[o]]) for o in args.opt}
        settings[model] = {
            "learning_rates": rates,
            "epochs": args.epochs or (entry.quick_epochs if args.quick else entry.epochs),
            "batch_size": min(args.batch_size or entry.batch_size or data[model].train_size, data[model].train_size),
            "dataset": args.dataset if entry.data == "images" else data[model].name,
            "noise": args.noise if entry.surface else 0.0,
        }
    return plan_trials(args.model, args.opt, range(args.seed, args.seed + args.seeds), settings,
                       hyperparameters, quick=args.quick)


def resume_command(run_name):
    """This command, made to continue the run `run_name`."""
    words, skip = [], False
    for word in sys.argv[1:]:
        if skip:
            skip = False
        elif word == "--run-name":
            skip = True
        elif not word.startswith("--run-name=") and word != "--resume":
            words.append(word)
    return shlex.join(["python", "train.py", *words, "--run-name", run_name, "--resume"])


def main(argv=None):
    from comparison import interrupts
    from comparison.console import survive_closed_stdout

    interrupts.install()
    survive_closed_stdout()
    args = parse_args(argv)

    # Everything that can be checked is checked before TensorFlow loads and before anything is
    # written; each failure is one line and exit status 2.
    from comparison.run_folder import RunFolderError, check_output_path, storage_problem

    try:
        check_output_path(args.logdir, args.run_name, reuse=args.resume or args.overwrite)
    except RunFolderError as error:
        fail(error)
    if "cnn" in args.model and args.dataset not in DATASETS and not os.path.isfile(args.dataset):
        fail(f"--dataset {args.dataset!r}: not one of {', '.join(DATASETS)}, and no such .npz file")

    from comparison.devices import DeviceError, data_parallel, select_backend, start, uneven_split

    try:
        # Keras reads its backend once, when first imported: before a keras.datasets loader does.
        select_backend(args.backend)
    except DeviceError as error:
        fail(error)

    from comparison.datasets import ModelData
    from data import DatasetError

    try:
        data = {model: ModelData(model, args.dataset, args.quick) for model in args.model}
    except DatasetError as error:
        fail(error)
    interrupts.check()

    try:
        devices = start(args.backend, args.device, distribute=args.distribute)
    except DeviceError as error:
        fail(error)
    print(f"Device: {devices}")
    if args.mixed_precision:
        if not devices.gpu:
            fail("--mixed-precision needs a GPU (float16 on CPU is slower, not faster)")
        import keras

        keras.mixed_precision.set_dtype_policy("mixed_float16")

    interrupts.check()  # a library may have caught a Ctrl-C and gone on
    trials = plan(args, data)
    if args.distribute:
        problem = uneven_split(len(devices.names), trials, data)
        if problem:
            fail(problem)
        print(data_parallel(devices))
    from comparison.sweep import SweepError

    try:
        return run(args, trials, data)
    except (RunFolderError, SweepError) as error:
        fail(error)
    except KeyboardInterrupt:
        if not interrupts.acted():  # before the first trial: nothing was written, say so below
            raise
        return 130
    except Exception as error:
        problem = storage_problem(error)
        if problem is None:
            raise
        fail(f"cannot write under --logdir {args.logdir} ({problem})", status=1)


def _quiet_if_storage_problem(failure, report):
    from comparison.run_folder import storage_problem

    if storage_problem(failure.exc_value) is None:
        report(failure)


def run(args, trials, data):
    """Runs the trials through the run's study, then writes the report of what finished."""
    from comparison import interrupts
    from comparison.progress import Progress
    from comparison.run_folder import open_run_folder, storage_problem
    from comparison.runner import train_trial
    from comparison.sweep import (Interrupted, default_storage, finished_results, last_completed, open_study,
                                  run_worker)
    from reporting.report import write_report

    plan_dicts = [trial.to_dict() for trial in trials]
    keras_verbose = 1 if sys.stdout.isatty() else 2  # a pipe or a file gets one line per epoch
    interrupted = False
    with open_run_folder(args.logdir, args.run_name, plan_dicts, resume=args.resume,
                         overwrite=args.overwrite) as folder:
        final_path = os.path.join(args.logdir, folder.name)
        print(f"Run folder: {final_path}" + (f" (written in {folder.path} until it finishes)"
                                             if folder.path != final_path else ""))
        study = open_study(args.storage or default_storage(folder.path), folder.study, trials, folder.created)
        folder.ready(plan_dicts)
        progress = Progress(trials)

        def run_one(trial):
            progress.starting(trial)
            return train_trial(trial, data[trial.model], os.path.join(folder.path, trial.name),
                               session_id=f"{trial.name} @ {folder.name}", verbose=keras_verbose)

        # Optuna's heartbeat thread meets a full disk or a locked database too; this thread
        # reports it in one line when it next writes, so the other's traceback is dropped.
        threading.excepthook = functools.partial(_quiet_if_storage_problem, report=threading.excepthook)
        already_done = len(finished_results(study, trials)) == len(trials)
        ran, partial, no_room = [], [], None
        try:
            ran = run_worker(study, trials, run_one, progress)
        except KeyboardInterrupt as stop:
            interrupts.stopping()
            interrupted = True
            partial = [stop.result] if isinstance(stop, Interrupted) else []
            sys.stdout.flush()
            print("\nInterrupted: event files flushed; summary of what finished:", file=sys.stderr, flush=True)
        except Exception as error:
            no_room = storage_problem(error)
            if no_room is None:
                raise
            print("\nCannot write any more; summary of what finished:", flush=True)
        with interrupts.deferred():
            finished = finished_results(study, trials)
            results = [finished[t.name] for t in trials if t.name in finished] + partial
            # One process writes the report: the one that finished the last trial (or, when
            # resuming a finished run, this one); after Ctrl-C, each writes what finished.
            if not results:
                print("Nothing finished; nothing to report.")
            elif interrupted or no_room or already_done or (ran and ran[-1] == last_completed(study)):
                try:
                    write_report(results, data, folder.path, args.target_loss)
                except Exception as error:
                    no_room = no_room or storage_problem(error)
                    if no_room is None:
                        raise
            else:
                print(f"\nThe last trial finished in another process, which writes the report in {folder.path}")
        if no_room:
            fail(f"cannot write to {folder.path} ({no_room}); {len(finished)} finished trials are kept there "
                 f"(resume with --run-name {folder.name} --resume once it can be written)", status=1)
        if interrupted:
            sys.stdout.flush()
            if not args.overwrite:
                print(f"Resume with: {resume_command(folder.name)}", file=sys.stderr)
            raise KeyboardInterrupt  # through the folder's context: an --overwrite is not completed
    print(f"\nOpen TensorBoard: tensorboard --logdir {shlex.quote(args.logdir)}")
    return 0


if __name__ == "__main__":
    try:
        status = main()
    except KeyboardInterrupt:
        print("\nInterrupted before training started; nothing was written.", file=sys.stderr)
        status = 130
    from comparison import interrupts

    interrupts.ignore_from_now_on()
    sys.exit(status)
