"""Training benchmark: the small CNN fitted with our Adam and with Keras's, interleaved.

    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/train_cnn.py
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/train_cnn.py --repetitions 15 --json /tmp/cnn.json

Two copies of `models.build_cnn` with the same seed (so the same initial weights), compiled
as train.py compiles the CNN, one with `optimizers.Adam`, one with `keras.optimizers.Adam`,
same learning rate. Each first fits one warm-up epoch, which traces and compiles its train
function; then they take turns fitting one epoch each (ours first on even repetitions,
Keras's first on odd ones), timed by a callback, so fit's data-adapter setup is left out,
until the median ratio is stable (as in apply_step.py: its 95% confidence interval within
+-`--tolerance`) or `--max-repetitions` pairs are done.
Each epoch gives samples/s two ways: batch size / its median training step (data fetch
included; robust to another process's burst of work during a few steps) and samples / the
whole epoch's time. Reported: the median samples/s of each optimizer, and the median of the
per-repetition time ratios ours / Keras's (> 1 means ours trains slower) with a ~95%
confidence interval; the median-step one is the headline figure.

The data are the `digits` training images from `data.load_images`, or, where that cannot
be imported, random images and labels of the same shape (speed does not depend on the
content); the output says which.
"""

import argparse
import json
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import optimizers
from bench.median import median_ci
from models import build_cnn

DEFAULTS = {
    "repetitions": 21,  # timed epochs for each optimizer before checking the median is stable
    "max_repetitions": 101,
    "tolerance": 0.01,  # stop when the median ratio's 95% interval is within +-1%
    "batch_size": 128,  # train.py's CNN batch size
    "learning_rate": 2e-3,  # one that trains the CNN; the speed does not depend on it
    "samples": 10_000,  # the size of the digits training set
    "seed": 42,
}
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--repetitions", type=int, default=DEFAULTS["repetitions"],
                        help="minimum timed epochs for each optimizer")
    parser.add_argument("--max-repetitions", type=int, default=DEFAULTS["max_repetitions"],
                        help="most timed epochs for each while waiting for the median to settle")
    parser.add_argument("--tolerance", type=float, default=DEFAULTS["tolerance"],
                        help="stop adding epochs when the median ratio's 95%% confidence "
                             "interval lies within median +- tolerance (0: never stop early)")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"])
    parser.add_argument("--samples", type=int, default=DEFAULTS["samples"],
                        help="training images per epoch (at most the dataset's size)")
    parser.add_argument("--synthetic", action="store_true",
                        help="use random images even if the digits dataset can be loaded")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--json", metavar="PATH", help="also save the numbers as JSON")
    return parser.parse_args(argv)


def load_training_images(args):
    """(x, y, description): the digits training images, or random ones of the same shape."""
    if not args.synthetic:
        try:
            from data import load_images
        except ImportError as error:
            reason = f"data.load_images not importable: {error}"
        else:
            (x, y), _ = load_images("digits", seed=args.seed)
            return x[: args.samples], y[: args.samples], f"digits ({min(len(x), args.samples)} images)"
    else:
        reason = "--synthetic"
    rng = np.random.default_rng(args.seed)
    # Like the real images: uint8 pixels scaled to [0, 1] float32, integer labels.
    x = rng.integers(0, 256, size=(args.samples, *IMAGE_SHAPE), dtype=np.uint8)
    x = x.astype("float32") / 255
    y = rng.integers(0, NUM_CLASSES, size=args.samples)
    return x, y, f"synthetic random images ({args.samples}; {reason})"


class EpochTimer(keras.callbacks.Callback):
    """Records the epoch's duration and each training step's, data fetch included."""

    def __init__(self):
        super().__init__()
        self.epoch_seconds = None
        self.step_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        self._step_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # TensorFlow runs the step synchronously on the CPU: it is finished by now.
        self.step_seconds.append(time.perf_counter() - self._step_start)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds = time.perf_counter() - self._epoch_start


def build_compiled_cnn(optimizer, seed):
    """The CNN with the weights `seed` gives, compiled as train.py compiles it."""
    keras.utils.set_random_seed(seed)
    model = build_cnn(IMAGE_SHAPE, NUM_CLASSES)
    model.compile(
        optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def fit_one_epoch(model, x, y, batch_size):
    """(whole epoch's seconds, median step's seconds) of one epoch, timed inside fit."""
    timer = EpochTimer()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer])
    return timer.epoch_seconds, statistics.median(timer.step_seconds)




def main(argv=None):
    args = parse_args(argv)
    x, y, data_description = load_training_images(args)
    models = {
        "ours": build_compiled_cnn(optimizers.Adam(args.learning_rate), args.seed),
        "keras": build_compiled_cnn(keras.optimizers.Adam(args.learning_rate), args.seed),
    }
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}; data: {data_description}; "
          f"batch size {args.batch_size}, Adam learning rate {args.learning_rate:g}", flush=True)
    for name, model in models.items():
        epoch_seconds, _ = fit_one_epoch(model, x, y, args.batch_size)
        print(f"warm-up epoch ({name}): {epoch_seconds:.1f} s, includes tracing", flush=True)
    step_rate, epoch_rate, ratios, epoch_ratios = interleaved_epochs(args, models, x, y)
    report(args, data_description, len(x), step_rate, epoch_rate, ratios, epoch_ratios)


def interleaved_epochs(args, models, x, y):
    """Epochs of ours and Keras's in turn until the ratio's 95 % interval is within the
    tolerance (or the repetitions run out). Samples/s two ways: batch size / the epoch's
    median step (a burst of another process's work during a few steps does not count), and
    samples / the whole epoch's time; ratios as in apply_step.py: > 1, ours slower."""
    step_rate, epoch_rate = {"ours": [], "keras": []}, {"ours": [], "keras": []}
    ratios, epoch_ratios = [], []
    for repetition in range(max(args.repetitions, args.max_repetitions)):
        if len(ratios) >= args.repetitions:
            median, low, high = median_ci(ratios)
            if high - median <= args.tolerance and median - low <= args.tolerance:
                break
        # Alternate which goes first, so neither always follows the other.
        for name in (["ours", "keras"] if repetition % 2 == 0 else ["keras", "ours"]):
            epoch_seconds, step_seconds = fit_one_epoch(models[name], x, y, args.batch_size)
            epoch_rate[name].append(len(x) / epoch_seconds)
            step_rate[name].append(args.batch_size / step_seconds)
        ratios.append(step_rate["keras"][-1] / step_rate["ours"][-1])
        epoch_ratios.append(epoch_rate["keras"][-1] / epoch_rate["ours"][-1])
        print(f"repetition {repetition + 1}: samples/s ours {step_rate['ours'][-1]:.0f}, "
              f"keras {step_rate['keras'][-1]:.0f}, ratio {ratios[-1]:.3f}; whole epoch: "
              f"ours {epoch_rate['ours'][-1]:.0f}, keras {epoch_rate['keras'][-1]:.0f}, "
              f"ratio {epoch_ratios[-1]:.3f}", flush=True)
    return step_rate, epoch_rate, ratios, epoch_ratios


def report(args, data_description, samples, step_rate, epoch_rate, ratios, epoch_ratios):
    ratio, ratio_low, ratio_high = median_ci(ratios)
    epoch_ratio, epoch_ratio_low, epoch_ratio_high = median_ci(epoch_ratios)
    medians = {name: {"step": statistics.median(step_rate[name]), "epoch": statistics.median(epoch_rate[name])}
               for name in step_rate}
    print(f"\nCNN on {data_description}, batch size {args.batch_size}, {len(ratios)} interleaved epochs each")
    print("\n| optimizer | samples/s (median step) | samples/s (whole epoch) |")
    print("|---|---|---|")
    for name, label in (("ours", "optimizers.Adam (ours)"), ("keras", "keras.optimizers.Adam")):
        print(f"| {label} | {medians[name]['step']:.0f} | {medians[name]['epoch']:.0f} |")
    print(f"\ntime ratio ours/keras, median of {len(ratios)} pairs (> 1: ours is slower): "
          f"**{ratio:.3f}** (95% CI {ratio_low:.3f}-{ratio_high:.3f}) by median step; "
          f"{epoch_ratio:.3f} ({epoch_ratio_low:.3f}-{epoch_ratio_high:.3f}) by whole epoch")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "data": data_description, "samples": samples,
                       "tensorflow": tf.__version__, "keras": keras.__version__,
                       "samples_per_second_by_median_step": step_rate, "samples_per_second_by_epoch": epoch_rate,
                       "median_samples_per_second": medians, "ratios": ratios, "ratio": ratio,
                       "ratio_low": ratio_low, "ratio_high": ratio_high, "epoch_ratios": epoch_ratios,
                       "epoch_ratio": epoch_ratio}, f, indent=2)
        print(f"\nsaved {args.json}")


if __name__ == "__main__":
    main()
