"""Compare SGD, Momentum, RMSProp and Adam on the article's linear regression and a small CNN.

    python train.py                            # all four optimizers, both models (~2 min on 2 cores)
    python train.py --opt rmsprop              # one optimizer, both models
    python train.py --opt sgd adam --model linear --lr 0.05
    python train.py --quick                    # smoke run: a few seconds per optimizer
    python train.py --dataset my_images.npz    # any .npz in the Keras layout
    tensorboard --logdir logs                  # then open http://localhost:6006

Each invocation writes a new run folder under --logdir: TensorBoard event files (one run
per model and optimizer), summary.csv/.json, loss_curves.png and hill.png.
"""

import argparse
import math
import os
import shlex
import sys

from data import DATASETS
from models import MODELS

# Every default in one place. Learning rates are per model and optimizer: the article's
# 0.1 on its own problem; for the CNN, values that train it well with each rule. Their
# keys are the optimizer names the CLI accepts (a test checks they match `OPTIMIZERS`).
LEARNING_RATES = {
    "linear": {"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.1, "adam": 0.1},
    "cnn": {"sgd": 0.1, "momentum": 0.5, "rmsprop": 2e-3, "adam": 5e-3},
}
EPOCHS = {"linear": 200, "cnn": 10}
BATCH_SIZE = {"linear": None, "cnn": 128}  # None: the whole training set, the article's gradient
QUICK = {"epochs": {"linear": 50, "cnn": 1}, "train_samples": 2048, "test_samples": 512}
SEED = 42  # the article's np.random.seed(42)
DATASET = "digits"
LOGDIR = "logs"
OPTIMIZER_NAMES = list(LEARNING_RATES["linear"])


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One clear line, no usage dump: the usage is one `--help` away.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, low=None, high=None, low_inclusive=True):
    """An argparse type: a finite number of `kind`, in [low, high) (or (low, high))."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}")
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        if too_low or (high is not None and value >= high):
            bounds = f"{'[' if low_inclusive else '('}{low}, {high if high is not None else 'inf'})"
            raise argparse.ArgumentTypeError(f"must be in {bounds}, got {text!r}")
        return value

    return parse


def _run_name(text):
    if not text or text in (".", "..") or os.sep in text or (os.altsep and os.altsep in text):
        raise argparse.ArgumentTypeError(f"must be a plain folder name, got {text!r}")
    return text


def parse_args(argv=None):
    def lr_table(model):
        return ", ".join(f"{k} {v:g}" for k, v in LEARNING_RATES[model].items())

    p = _Parser(
        prog="train.py",
        description="Train the article's linear regression and a small CNN with each optimizer; "
        "log the runs side by side for TensorBoard.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"default learning rates:\n  linear: {lr_table('linear')}\n  cnn:    {lr_table('cnn')}\n\n"
        f"then: tensorboard --logdir {LOGDIR}",
    )
    p.add_argument("--opt", nargs="+", default=["all"], choices=OPTIMIZER_NAMES + ["all"], metavar="NAME",
                   help=f"optimizers to compare: one or more of {', '.join(OPTIMIZER_NAMES)}, or all (default: all)")
    p.add_argument("--model", default="both", choices=list(MODELS) + ["both"],
                   help="model to train: %(choices)s (default: %(default)s)")
    p.add_argument("--epochs", type=_number(int, 1),
                   help=f"training epochs (default: {EPOCHS['linear']} for linear, full batch, so one step each; "
                   f"{EPOCHS['cnn']} for cnn)")
    p.add_argument("--batch-size", type=_number(int, 1),
                   help="batch size (default: the whole training set for linear, the article's gradient; "
                   f"{BATCH_SIZE['cnn']} for cnn)")
    p.add_argument("--lr", type=_number(float, 0, low_inclusive=False),
                   help="learning rate for every optimizer (default: per model and optimizer, below)")
    p.add_argument("--momentum", type=_number(float, 0, 1), help="Momentum's decay rate (default: 0.9)")
    p.add_argument("--rho", type=_number(float, 0, 1), help="RMSProp's decay rate (default: 0.9)")
    p.add_argument("--beta-1", type=_number(float, 0, 1), help="Adam's first-moment decay (default: 0.9)")
    p.add_argument("--beta-2", type=_number(float, 0, 1), help="Adam's second-moment decay (default: 0.999)")
    p.add_argument("--epsilon", type=_number(float, 0, low_inclusive=False),
                   help="RMSProp's and Adam's epsilon (default: 1e-8)")
    p.add_argument("--no-bias-correction", action="store_true",
                   help="Adam without bias correction, the article's exact code (default: corrected)")
    p.add_argument("--dataset", default=DATASET,
                   help=f"images for the CNN: {', '.join(DATASETS)}, or a path to an .npz with x_train, y_train, "
                   "x_test, y_test (default: %(default)s, embedded, works offline)")
    p.add_argument("--seed", type=_number(int, 0), default=SEED,
                   help="seeds the regression data, initial weights, dropout and batch order (default: %(default)s)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "gpu"],
                   help="auto uses a GPU when TensorFlow sees one (default: %(default)s)")
    p.add_argument("--mixed-precision", action="store_true",
                   help="train in mixed_float16 (GPU only; default: off)")
    p.add_argument("--logdir", default=LOGDIR, help="where run folders go (default: %(default)s)")
    p.add_argument("--run-name", type=_run_name,
                   help="this run's folder name under --logdir (default: the date and time)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing --run-name folder (default: refuse)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK['epochs']['linear']} linear steps, {QUICK['epochs']['cnn']} cnn epoch on "
                   f"{QUICK['train_samples']} images (default: off)")
    args = p.parse_args(argv)
    args.opt = OPTIMIZER_NAMES if "all" in args.opt else list(dict.fromkeys(args.opt))
    args.model = list(MODELS) if args.model == "both" else [args.model]
    return args


def fail(message):
    print(f"train.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv=None):
    args = parse_args(argv)
    hyperparameters = {"momentum": args.momentum, "rho": args.rho, "beta_1": args.beta_1,
                       "beta_2": args.beta_2, "epsilon": args.epsilon,
                       "bias_correction": False if args.no_bias_correction else None}

    # Fail fast, before TensorFlow loads and before anything is written.
    from comparison.run_folder import RunFolderError, check_logdir_writable

    try:
        check_logdir_writable(args.logdir)
    except RunFolderError as error:
        fail(error)
    if args.dataset not in DATASETS and not os.path.isfile(args.dataset):
        fail(f"--dataset {args.dataset!r}: not one of {', '.join(DATASETS)}, and no such .npz file")
    if args.run_name and os.path.exists(os.path.join(args.logdir, args.run_name)) and not args.overwrite:
        fail(f"run folder {os.path.join(args.logdir, args.run_name)} already exists; "
             "choose another --run-name or pass --overwrite to replace it")

    from comparison.devices import DeviceError, import_tensorflow

    try:
        device = import_tensorflow(args.device)
    except DeviceError as error:
        fail(error)
    print(f"Device: {device}")

    import keras

    from comparison.datasets import load_splits
    from comparison.run_folder import create_run_folder
    from comparison.runner import optimizer_hyperparameters, train_one
    from data import DatasetError
    from reporting.report import write_report

    ignored = [k for k, v in hyperparameters.items()
               if v is not None and not any(optimizer_hyperparameters(o, {k: v}) for o in args.opt)]
    if ignored:
        flags = ["--no-bias-correction" if k == "bias_correction" else "--" + k.replace("_", "-") for k in ignored]
        print(f"Note: {', '.join(flags)} applies to none of {', '.join(args.opt)}; ignored")

    if args.mixed_precision:
        if device.startswith("CPU"):
            fail("--mixed-precision needs a GPU (float16 on CPU is slower, not faster)")
        keras.mixed_precision.set_dtype_policy("mixed_float16")

    try:
        splits = load_splits(args.model, args.dataset, args.seed, QUICK if args.quick else None)
        run_dir = create_run_folder(args.logdir, args.run_name, args.overwrite)
    except (DatasetError, RunFolderError) as error:
        fail(error)
    print(f"Run folder: {run_dir}")

    results, interrupted = [], False
    try:
        for model_name in args.model:
            epochs = args.epochs or (QUICK["epochs"] if args.quick else EPOCHS)[model_name]
            batch_size = args.batch_size or BATCH_SIZE[model_name] or len(splits[model_name].x_train)
            for optimizer_name in args.opt:
                learning_rate = args.lr or LEARNING_RATES[model_name][optimizer_name]
                own = optimizer_hyperparameters(optimizer_name, hyperparameters)
                print(f"\n== {model_name} / {optimizer_name} (learning rate {learning_rate:g}"
                      + "".join(f", {k} {v:g}" for k, v in own.items()) + ")")
                result = train_one(
                    model_name, optimizer_name, learning_rate, own, splits[model_name],
                    epochs=epochs, batch_size=batch_size, seed=args.seed,
                    session_dir=os.path.join(run_dir, model_name, optimizer_name),
                    run_hyperparameters={"model": model_name, "optimizer": optimizer_name,
                                         "learning_rate": learning_rate, "epochs": epochs,
                                         "batch_size": batch_size, "seed": args.seed,
                                         "dataset": args.dataset if model_name == "cnn" else "regression"},
                )
                results.append(result)
                if result.status == "diverged":
                    print(f"   {optimizer_name} diverged (non-finite loss); stopped, moving on")
                if result.status == "interrupted":
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        print("\nInterrupted: event files flushed; summary of what ran so far:", file=sys.stderr)

    write_report(results, splits, run_dir)
    if interrupted:
        return 130
    print(f"\nOpen TensorBoard: tensorboard --logdir {shlex.quote(args.logdir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
