"""Backend benchmark: the small CNN trained with our Adam on each Keras backend, on the CPU.

    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/backends.py
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/backends.py --epochs 7 --rounds 3 --json /tmp/backends.json

For each backend that is installed (tensorflow, jax, torch), a subprocess of its own (Keras
picks its backend once per process) sets it up as train.py does (comparison.devices.start,
--device cpu), builds `models.build_cnn` with seed 42, compiles it as train.py compiles the
CNN with `optimizers.Adam`, and fits the 10,000 `digits` training images in batches of 128:
one warm-up epoch (tracing and compiling the train function), then `--epochs` timed ones,
timed by a callback so fit's set-up is left out. An epoch gives samples/s two ways: 128 /
its median step (robust to a burst of another process's work) and 10,000 / the epoch's time.
`--rounds` runs every backend that many times, in turn and in alternating order, so a busy
patch of a shared machine does not land on one backend only; each backend's figures are
the medians over all its timed epochs. Backends not installed are listed as not run.
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULTS = {"epochs": 5, "rounds": 2, "batch_size": 128, "learning_rate": 2e-3, "seed": 42}


def worker(backend, epochs, batch_size, learning_rate, seed):
    """One backend in this process: {"steps": [per-epoch median step s], "epochs": [epoch s]}."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from comparison.devices import start

    devices = start(backend, "cpu")
    import keras

    from data import load_images
    from models import MODELS, build_cnn
    from optimizers import Adam

    (x, y), _ = load_images("digits", seed=seed)
    keras.utils.set_random_seed(seed)
    model = build_cnn(x.shape[1:], int(y.max()) + 1)
    model.compile(optimizer=Adam(learning_rate=learning_rate), loss=MODELS["cnn"].loss,
                  metrics=list(MODELS["cnn"].metrics))

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epochs, self.steps = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start, self.step_times = time.perf_counter(), []

        def on_train_batch_begin(self, batch, logs=None):
            self.step_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.step_times.append(time.perf_counter() - self.step_start)

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self.epoch_start)
            # The last batch of an epoch is smaller (10,000 = 78 x 128 + 16): leave it out.
            self.steps.append(statistics.median(self.step_times[:-1]))

    clock = Clock()
    model.fit(x, y, batch_size=batch_size, epochs=1 + epochs, verbose=0, callbacks=[clock])
    return {"device": str(devices), "samples": len(x), "epochs": clock.epochs[1:], "steps": clock.steps[1:],
            "keras": keras.__version__, "backend_version": _version(backend)}


def _version(backend):
    return __import__(backend).__version__


def run_worker(backend, args):
    command = [sys.executable, os.path.abspath(__file__), "--worker", backend, "--epochs", str(args.epochs),
               "--batch-size", str(args.batch_size), "--learning-rate", str(args.learning_rate),
               "--seed", str(args.seed)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{backend} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="timed epochs per run")
    parser.add_argument("--rounds", type=int, default=DEFAULTS["rounds"], help="runs of every backend, in turn")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    parser.add_argument("--json", metavar="PATH", help="also save the numbers here")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.epochs, args.batch_size, args.learning_rate, args.seed)))
        return

    installed = [b for b in BACKENDS if importlib.util.find_spec(b) is not None]
    runs = {b: [] for b in installed}
    for round_ in range(args.rounds):
        for backend in (installed if round_ % 2 == 0 else installed[::-1]):
            runs[backend].append(run_worker(backend, args))
            print(f"round {round_ + 1}: {backend} done", file=sys.stderr, flush=True)

    results = {}
    print(f"CNN on digits, batch {args.batch_size}, our Adam; {args.rounds} x {args.epochs} timed epochs per backend")
    print(f"{'backend':<11} {'version':<16} {'samples/s (median step)':>24} {'samples/s (epoch)':>18}  device")
    for backend in BACKENDS:
        if backend not in runs:
            print(f"{backend:<11} {'not installed':<16} {'not run':>24} {'not run':>18}")
            continue
        first = runs[backend][0]
        steps = [s for run in runs[backend] for s in run["steps"]]
        epochs = [e for run in runs[backend] for e in run["epochs"]]
        by_step = args.batch_size / statistics.median(steps)
        by_epoch = first["samples"] / statistics.median(epochs)
        results[backend] = {"samples_per_s_median_step": by_step, "samples_per_s_epoch": by_epoch,
                            "version": first["backend_version"], "keras": first["keras"], "device": first["device"],
                            "epoch_seconds": epochs, "step_seconds": steps}
        print(f"{backend:<11} {first['backend_version']:<16} {by_step:>24,.0f} {by_epoch:>18,.0f}  {first['device']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
