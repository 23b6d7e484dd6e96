"""What a trial costs outside training: one CNN trial, and a sweep of two-step surface trials,
as train.py runs them, against a bare Keras `fit` of the same.

    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/trial_overhead.py
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/trial_overhead.py --pairs 5 --surface-trials 400 --json /tmp/o.json

"As train.py runs it": the trials are enqueued in an Optuna study (SQLite, in a temporary run
folder), taken by `comparison.study.run_worker`, trained by `comparison.training.Trainer`
(the model, its TensorBoard event file and HParams session, the divergence watch) with the
progress line, and recorded in the study. "Bare": `keras.utils.set_random_seed` and `fit`
with the same data, nothing written: for the CNN a freshly built and compiled model, as
ours builds; for the surface one compiled model reset to its start, as ours reuses.

- CNN: ours and bare alternate (ours, bare, bare, ours, ...); the headline is the median of
  the per-pair ratios, the overhead (ours - bare) / ours.
- Surface (bumpy, 2 steps a trial, 4 rules): the wall time per trial of a whole sweep, ours
  and bare, and where ours goes, from a profile of the sweep: Keras's fit, our work around
  it (resetting the model, the stream of steps, the event file, the exact losses), our
  recording (the result into the study, the progress line), and Optuna's ask and tell.
"""

import argparse
import cProfile
import json
import os
import pstats
import statistics
import tempfile
import time

DEFAULTS = {"pairs": 3, "epochs": 10, "optimizer": "adam", "seed": 42, "surface_trials": 200}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--json", help="also write the numbers to this file")
    return parser.parse_args()


def sweep(trials, trainer, data, folder):
    """Runs `trials` as train.py does: through a study, the trainer and the progress line."""
    from comparison.study import default_storage, open_study, run_worker
    from comparison.tensorboard import Experiment
    from models import MODELS
    from runtime.progress import Progress

    study = open_study(default_storage(folder), "bench", trials, create=True)
    experiment = Experiment("bench", ("bench",), tuple({t.optimizer for t in trials}), "42")
    progress = Progress(trials, MODELS, printer=lambda *args, **kwargs: None)

    def run_one(trial):
        progress.starting(trial)
        return trainer.train(trial, data[trial.model], os.path.join(folder, trial.name), experiment)

    start = time.perf_counter()
    run_worker(study, trials, run_one, progress)
    return time.perf_counter() - start


def bare_fit(trainer, trial, data, epochs):
    import keras

    entry = trainer.models[trial.model]
    split = data.split(trial.seed)
    model = trainer.compiled_model(trial, data)
    fitting = entry.fitting(trial, split, _NoLog(), verbose=0)
    keras.utils.set_random_seed(trial.seed)
    start = time.perf_counter()
    model.fit(**fitting.arguments)
    return time.perf_counter() - start


class _NoLog:
    history = {}

    def record(self, epoch, metrics):
        pass

    def scalar(self, name, value, step):
        pass


def cnn_pairs(args, trainer, data):
    from comparison.trials import Trial
    from models import MODELS

    entry = MODELS["cnn"]
    trial = Trial("cnn", args.optimizer, entry.learning_rates[args.optimizer], args.seed, (), args.epochs,
                  entry.batch_size, "digits")

    def ours():
        with tempfile.TemporaryDirectory() as folder:
            return sweep([trial], trainer, data, folder)

    def bare():
        start = time.perf_counter()
        bare_fit(trainer, trial, data["cnn"], args.epochs)
        return time.perf_counter() - start

    bare()  # warm-up: the first fit in a process pays for TensorFlow's one-time set-up
    pairs = []
    for k in range(args.pairs):
        a, b = (ours(), bare()) if k % 2 == 0 else reversed((bare(), ours()))
        pairs.append((a, b))
        print(f"CNN pair {k + 1}: ours {a:.2f} s, bare fit {b:.2f} s, ratio {a / b:.3f}", flush=True)
    return {
        "cnn_ours_median_s": statistics.median(a for a, _ in pairs),
        "cnn_bare_median_s": statistics.median(b for _, b in pairs),
        "cnn_ratio_median": statistics.median(a / b for a, b in pairs),
        "cnn_overhead_median": statistics.median((a - b) / a for a, b in pairs),
    }


def _cumulative(stats, path_part, name):
    """The time spent in (and under) the functions `name` of files matching `path_part`."""
    return sum(entry[3] for (path, _, function), entry in stats.items() if path_part in path and function == name)


def _where_the_time_goes(stats):
    """A sweep's time by what spends it, from its profile's cumulative times."""
    fit = _cumulative(stats, "keras/src/backend/tensorflow/trainer.py", "fit")
    train = _cumulative(stats, "comparison/training.py", "train")
    objective = _cumulative(stats, "comparison/study.py", "objective")
    optimize = _cumulative(stats, "optuna/study/study.py", "optimize")
    return {"keras_fit": fit, "ours_around_fit": train - fit, "ours_recording": objective - train,
            "optuna_ask_tell": optimize - objective}


def surface_sweep(args, trainer, data):
    from comparison.trials import Trial

    rules, seeds = list(trainer.rules), range(args.seed, args.seed + 5)
    rates = [0.01 * (k + 1) for k in range(max(1, args.surface_trials // (len(rules) * len(seeds))))]
    trials = [Trial("bumpy", o, lr, s, (), 2, 1, "none") for s in seeds for lr in rates for o in rules]
    sweep(trials[:4], trainer, data, tempfile.mkdtemp())  # warm-up: each rule's compile and trace
    profile = cProfile.Profile()
    with tempfile.TemporaryDirectory() as folder:
        profile.enable()
        ours = sweep(trials, trainer, data, folder)
        profile.disable()
    start = time.perf_counter()
    for trial in trials:
        bare_fit(trainer, trial, data["bumpy"], 2)
    bare = time.perf_counter() - start
    stats = pstats.Stats(profile).stats
    parts, profiled = _where_the_time_goes(stats), _cumulative(stats, "comparison/study.py", "run_worker")
    n = len(trials)
    print(f"Surface sweep, {n} two-step trials: ours {1000 * ours / n:.0f} ms a trial, bare fit {1000 * bare / n:.0f} "
          f"ms. Under the profiler, of each trial's {1000 * profiled / n:.0f} ms: Keras's fit "
          f"{1000 * parts['keras_fit'] / n:.0f}, ours around it (reset the model, the step stream, the event "
          f"file, the exact losses) {1000 * parts['ours_around_fit'] / n:.0f}, ours recording (the result into "
          f"the study, the progress line) {1000 * parts['ours_recording'] / n:.0f}, Optuna's ask and tell "
          f"{1000 * parts['optuna_ask_tell'] / n:.0f}", flush=True)
    return {"surface_trials": n, "surface_ours_ms": 1000 * ours / n, "surface_bare_ms": 1000 * bare / n,
            **{f"surface_profiled_{k}_ms": 1000 * v / n for k, v in parts.items()},
            "surface_profiled_total_ms": 1000 * profiled / n}


def main():
    args = parse_args()
    from comparison.devices import start
    from comparison.rules import registry_rule
    from comparison.training import Trainer
    from models import MODELS

    devices = start("tensorflow", "cpu")
    rules = {name: registry_rule(name) for name in ("sgd", "momentum", "rmsprop", "adam")}
    trainer = Trainer(MODELS, rules, devices, verbose=0)
    data = {"cnn": MODELS["cnn"].load("digits"), "bumpy": MODELS["bumpy"].load("digits")}
    result = {"epochs": args.epochs, "pairs": args.pairs, **cnn_pairs(args, trainer, data),
              **surface_sweep(args, trainer, data)}
    print(f"\nCNN trial ({args.epochs} epochs, {args.optimizer}): ours {result['cnn_ours_median_s']:.2f} s, bare fit "
          f"{result['cnn_bare_median_s']:.2f} s; ratio {result['cnn_ratio_median']:.3f}, overhead "
          f"{100 * result['cnn_overhead_median']:.1f}% of the trial (medians of {args.pairs} pairs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
