"""Compare SGD, Momentum, RMSProp and Adam on the article's linear regression, a small CNN,
MNIST-1D and two-weight test surfaces; log every trial side by side for TensorBoard.

    python train.py                            # all four optimizers, linear and cnn (~1 min on 2 cores)
    python train.py --opt rmsprop              # one optimizer
    python train.py --opt adam keras:adam --model linear   # ours beside Keras's built-in
    python train.py --model bumpy valley --opt sgd momentum   # the article's hill, on test surfaces
    python train.py --sweep --model linear     # a fair comparison: 7 learning rates x 3 seeds each
    python train.py --model mnist1d --opt adam # MNIST-1D, generated locally (~15 s on 2 cores)
    python train.py --suite                    # every model swept, and one verdict across them
    python train.py --lr 0.01 0.1 0.5 --seeds 3 --model linear
    python train.py --quick                    # smoke run: a few seconds per optimizer
    python train.py --dataset my_images.npz    # any .npz in the Keras layout
    .venv/bin/tensorboard --logdir logs        # then open http://localhost:6006

Each invocation writes a new run folder under --logdir: one TensorBoard run per trial
(model x optimizer x learning rate x seed), trials.csv, summary.csv/.json, the figures.
The comparison itself is `comparison.compare()`, which takes these options as keywords.
"""

import signal
import sys

# A stop signal that comes before the comparison's own handlers are in place is remembered
# rather than raised in the middle of an import; main() installs them and acts on it.
_early_stops = []
for _number in (signal.SIGINT, signal.SIGTERM):
    signal.signal(_number, lambda number, frame: _early_stops.append(number))

import argparse  # noqa: E402
import os  # noqa: E402
import shlex  # noqa: E402

from comparison.options import DATASET, DEVICE, DEVICES, LOGDIR, MAX_EPOCHS, SEED, SWEEP_SEEDS  # noqa: E402
from models import MODELS, SUITE  # noqa: E402
from optimizers.registry import HYPERPARAMETERS, REGISTRY  # noqa: E402
from runtime import interrupts  # noqa: E402
from runtime.console import survive_lost_output  # noqa: E402


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One clear line, no usage dump: the usage is one `--help` away.
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args(argv=None):
    """The command line as compare()'s keywords. Values are only converted here; compare()
    checks them, with the same messages for both."""
    def describe(name, entry):
        rates = ", ".join(f"{k} {v:g}" for k, v in entry.learning_rates.items())
        batch = f", batch {entry.batch_size}" if entry.validates and entry.batch_size else ""
        length = f"{entry.epochs} {'epochs' if entry.validates else 'steps'}{batch}"
        return (f"  {name:<13} {entry.about}\n  {'':<13} {length}; "
                f"{rates}; target {'val loss' if entry.validates else 'height'} {entry.target:g}")

    p = _Parser(
        prog="train.py", allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train models with each optimizer and compare them side by side in TensorBoard.",
        epilog="models and their defaults (epochs; learning rates; the performance profile's target):\n"
        + "\n".join(describe(m, e) for m, e in MODELS.items())
        + "\n\n--sweep tries each rule's default learning rate times 10**(k/2), k = -3..3 (7 rates over 3 decades)"
        f"\nwith {SWEEP_SEEDS} seeds.\n\nthen: .venv/bin/tensorboard --logdir {LOGDIR}",
    )
    _what_to_compare(p.add_argument_group("what to compare"))
    _rules(p.add_argument_group("the rules' own hyperparameters (from optimizers/hyperparameters.py)"))
    _where_it_runs(p.add_argument_group("where it runs"))
    _run_folder(p.add_argument_group("the run folder"))
    return {k: v for k, v in vars(p.parse_args(argv)).items() if v is not None}


def _what_to_compare(p):
    p.add_argument("--opt", dest="optimizers", nargs="+", default=["all"], metavar="NAME",
                   help=f"optimizers to compare: one or more of {', '.join(REGISTRY)}, all, or keras:NAME for a "
                   "Keras built-in (e.g. keras:adam) (default: all)")
    p.add_argument("--model", dest="models", nargs="+", metavar="NAME",
                   help=f"models to train: one or more of {', '.join(MODELS)}, or both (linear and cnn; default)")
    p.add_argument("--suite", action="store_true", help=f"the benchmark: {', '.join(SUITE)}, each with its --sweep "
                   f"grid and {SWEEP_SEEDS} seeds, and the performance profile across them (default: off)")
    p.add_argument("--epochs", type=int, help=f"training epochs; for a surface, steps; at most {MAX_EPOCHS:,} "
                   "(default: per model, below)")
    p.add_argument("--batch-size", type=int,
                   help="batch size (default: the whole training set for linear, the article's gradient; "
                   "for the others, per model, below)")
    p.add_argument("--lr", dest="learning_rates", nargs="+", type=float, metavar="LR",
                   help="one or more learning rates, tried with every optimizer (default: per model and optimizer)")
    p.add_argument("--seeds", type=int, help=f"run seeds --seed .. --seed + N - 1 (default: 1; {SWEEP_SEEDS} with "
                   "--sweep)")
    p.add_argument("--sweep", action="store_true", help="each optimizer's default grid of learning rates for each "
                   f"model, and {SWEEP_SEEDS} seeds (default: off)")
    p.add_argument("--target-loss", type=float, help="the loss whose first epoch 'to target' counts (default: per "
                   "model, the worst of the optimizers' best mean final losses)")
    p.add_argument("--noise", type=float, default=0.0, help="standard deviation of Gaussian noise added to a "
                   "surface's gradient, per step and coordinate, drawn from the seed (default: %(default)s)")
    p.add_argument("--dataset", default=DATASET, help="images for the CNN: digits, mnist, fashion_mnist, cifar10, "
                   "or a path to an .npz with x_train, y_train, x_test, y_test (default: %(default)s, works offline)")
    p.add_argument("--seed", type=int, default=SEED, help="seeds initial weights, dropout, batch order, the linear "
                   "model's data and surface noise (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 50 linear steps, 1 cnn epoch on a 2,048-image subset (default: off)")


def _rules(p):
    for h in HYPERPARAMETERS.values():
        users = ", ".join(name for name, spec in REGISTRY.items() if h.name in spec.hyperparameters)
        if isinstance(h.default, bool):
            p.add_argument(h.flag, dest=h.flag[2:].replace("-", "_"), action="store_true", default=None,
                           help=f"{users}: turn off the {h.help} (default: on)")
        else:
            p.add_argument(h.flag, type=float, help=f"{users}: {h.help} (default: {h.default:g})")


def _where_it_runs(p):
    from comparison.devices import BACKENDS, default_backend  # imports nothing heavy

    p.add_argument("--backend", default=None, metavar="NAME", help=f"the Keras backend that trains: "
                   f"{', '.join(BACKENDS)} (default: $KERAS_BACKEND, else tensorflow; here {default_backend()})")
    p.add_argument("--device", default=DEVICE, help=f"{', '.join(DEVICES)}: auto uses a GPU when the backend sees "
                   "one (default: %(default)s)")
    p.add_argument("--distribute", action="store_true", help="data-parallel training: each batch split over every "
                   "local GPU (tensorflow: MirroredStrategy, jax: DataParallel; not torch); without GPUs, on the "
                   "CPU alone, unless TRAIN_CPU_DEVICES=N splits it into N devices, for testing (default: off)")
    p.add_argument("--mixed-precision", action="store_true", help="train in mixed_float16 (GPU only; default: off)")


def _run_folder(p):
    p.add_argument("--logdir", default=LOGDIR, help="where run folders go (default: %(default)s)")
    p.add_argument("--run-name", help="this run's folder name under --logdir (default: the date and time, "
                   "MMDD-HHMM, with -1, -2... if taken)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --run-name folder made by this "
                   "tool, once the new run has finished (default: refuse)")
    p.add_argument("--resume", action="store_true", help="continue the run --run-name (or start it): finished "
                   "trials are kept, the rest run; processes started alike split the trials (default: off)")
    p.add_argument("--storage", metavar="URL", help="database URL of the Optuna study that hands out and records "
                   "the trials, e.g. postgresql://user@host/db to share a sweep between machines (default: a "
                   "SQLite file in the run folder); PostgreSQL: pip install -r requirements-postgres.txt")


def resume_command(run_name, argv):
    """The command that continues the run `run_name`: this one, with --run-name and --resume
    (and without --overwrite, which --resume refuses: the run to continue is the new one)."""
    words, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word == "--run-name":
            skip = True
        elif not word.startswith("--run-name=") and word not in ("--resume", "--overwrite"):
            words.append(word)
    return shlex.join([_shown(sys.executable), _shown(sys.argv[0]), *words, f"--run-name={run_name}", "--resume"])


def _shown(path):
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def main(argv=None):
    interrupts.install()
    survive_lost_output()
    argv = sys.argv[1:] if argv is None else argv
    keywords = parse_args(argv)
    from comparison import ComparisonError, Interrupted, compare

    try:
        if _early_stops:
            raise KeyboardInterrupt
        compare(**keywords, command=["train.py", *argv])
    except ComparisonError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return error.status
    except Interrupted as stop:
        sys.stdout.flush()
        print(str(stop) if stop.completed or not stop.run_name else
              f"Resume with: {resume_command(stop.run_name, argv)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted before training started; nothing was written.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    status = main()
    interrupts.ignore_from_now_on()
    sys.exit(status)
