"""Per-trial overhead of a sweep: one CNN trial as train.py runs it, against a bare `fit`.

    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/trial_overhead.py
    TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=. python bench/trial_overhead.py --pairs 5 --epochs 10 --json /tmp/o.json

"As train.py runs it": the trial is enqueued in an Optuna study (SQLite file in a temporary
run folder), taken by `comparison.study.run_worker`, trained by `comparison.training.
Trainer.train` (a fresh model from the seed, the TensorBoard event file, the divergence
watch), and its result recorded in the study. "Bare": `keras.utils.set_random_seed`,
`build_cnn`, `compile` and `fit` with the same data, batch size, epochs and validation
data, no callbacks, nothing written. Both build and trace a fresh model, so the
difference is what the comparison adds: logging, storage, bookkeeping. The two are timed
in alternating order (ours, bare, bare, ours, ...) and the headline is the median of the
per-pair ratios; the overhead is (ours - bare) / ours.
"""

import argparse
import json
import os
import statistics
import tempfile
import time

DEFAULTS = {"pairs": 3, "epochs": 10, "optimizer": "adam", "seed": 42}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name}", type=type(value), default=value)
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    from comparison.devices import start

    devices = start("tensorflow", "cpu")
    import keras

    from comparison.rules import registry_rule
    from comparison.study import default_storage, open_study, run_worker
    from comparison.tensorboard import Experiment
    from comparison.training import Trainer
    from comparison.trials import Trial
    from models import MODELS
    from optimizers import OPTIMIZERS

    entry = MODELS["cnn"]
    data = entry.load("digits")
    trainer = Trainer(MODELS, {args.optimizer: registry_rule(args.optimizer)}, devices, verbose=0)
    experiment = Experiment("bench", ("bench",), (args.optimizer,), str(args.seed))
    split = data.split(args.seed)
    trial = Trial("cnn", args.optimizer, entry.learning_rates[args.optimizer], args.seed, (), args.epochs,
                  entry.batch_size, "digits")

    def ours():
        with tempfile.TemporaryDirectory() as run_dir:
            # Made once per invocation, not per trial: not timed.
            study = open_study(default_storage(run_dir), "bench", [trial], create=True)
            start = time.perf_counter()
            run_worker(study, [trial], lambda t: trainer.train(t, data, os.path.join(run_dir, t.name), experiment))
            return time.perf_counter() - start

    def bare():
        start = time.perf_counter()
        keras.utils.set_random_seed(args.seed)
        model = entry.build(data.input_shape, data.num_classes)
        model.compile(optimizer=OPTIMIZERS[args.optimizer](learning_rate=trial.learning_rate), loss=entry.loss,
                      metrics=list(entry.metrics))
        model.fit(split.x_train, split.y_train, batch_size=trial.batch_size, epochs=args.epochs,
                  validation_data=(split.x_val, split.y_val), verbose=0)
        return time.perf_counter() - start

    bare()  # warm-up: the first fit in a process pays for TensorFlow's one-time set-up
    pairs = []
    for k in range(args.pairs):
        if k % 2 == 0:
            a = ours()
            b = bare()
        else:
            b = bare()
            a = ours()
        pairs.append((a, b))
        print(f"pair {k + 1}: ours {a:.2f} s, bare fit {b:.2f} s, ratio {a / b:.3f}", flush=True)
    ratios = [a / b for a, b in pairs]
    result = {
        "epochs": args.epochs, "pairs": args.pairs,
        "ours_median_s": statistics.median(a for a, _ in pairs), "bare_median_s": statistics.median(b for _, b in pairs),
        "ratio_median": statistics.median(ratios),
        "overhead_median": statistics.median((a - b) / a for a, b in pairs),
    }
    print(f"\nCNN trial ({args.epochs} epochs, {args.optimizer}): ours {result['ours_median_s']:.2f} s, bare fit "
          f"{result['bare_median_s']:.2f} s; ratio {result['ratio_median']:.3f}, overhead "
          f"{100 * result['overhead_median']:.1f}% of the trial (medians of {args.pairs} pairs)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
