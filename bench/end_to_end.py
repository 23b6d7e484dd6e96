"""End-to-end timings: `python train.py --help`, and `python train.py` with every default.

    TF_CPP_MIN_LOG_LEVEL=2 python bench/end_to_end.py
    TF_CPP_MIN_LOG_LEVEL=2 python bench/end_to_end.py --help-runs 10 --train-runs 3 --json /tmp/e2e.json
    TF_CPP_MIN_LOG_LEVEL=2 python bench/end_to_end.py --train-runs 0     # only --help

Each command runs in a fresh interpreter (this one's, `sys.executable`) from the repository
root, timed from launch to exit, as a user would see it. The training runs get a
temporary `--logdir`, deleted afterwards, so the user's `logs/` is left alone; every other
option keeps its default (all four optimizers, both models, the `digits` data). The first
training run on a machine also generates the digits cache (~/.keras/datasets), a few
seconds; the output says whether the cache was there before, and `--cold-cache` points
KERAS_HOME at an empty temporary folder so that every training run pays for it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULTS = {
    "help_runs": 7,
    "train_runs": 1,  # each takes up to two minutes
}
# The targets in docs/article.md, in seconds.
TARGETS = {"help": 0.5, "train": 120.0}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SCRIPT = os.path.join(REPO_ROOT, "train.py")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--help-runs", type=int, default=DEFAULTS["help_runs"],
                        help="timed runs of `train.py --help`")
    parser.add_argument("--train-runs", type=int, default=DEFAULTS["train_runs"],
                        help="timed runs of `train.py` with defaults (0 to skip)")
    parser.add_argument("--cold-cache", action="store_true",
                        help="run training with an empty KERAS_HOME, as on a fresh machine")
    parser.add_argument("--show-output", action="store_true",
                        help="print the last lines of the first training run's output")
    parser.add_argument("--json", metavar="PATH", help="also save the numbers as JSON")
    return parser.parse_args(argv)


def time_command(arguments, extra_env):
    """(seconds, completed process) of `python train.py <arguments>` from the repo root."""
    env = {**os.environ, **extra_env}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, TRAIN_SCRIPT, *arguments],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, completed


def time_runs(name, arguments, runs, show_output=False, cold_cache=False):
    """Times `runs` runs; stops at the first failure and shows its error output."""
    seconds = []
    for run in range(runs):
        with tempfile.TemporaryDirectory(prefix="bench-keras-home-") as keras_home:
            extra_env = {"KERAS_HOME": keras_home} if cold_cache else {}
            elapsed, completed = time_command(arguments, extra_env)
        if completed.returncode != 0:
            print(f"{name}: run {run + 1} failed with exit status {completed.returncode}:")
            print("\n".join(completed.stderr.strip().splitlines()[-15:]))
            return seconds, completed.returncode
        seconds.append(elapsed)
        print(f"{name}: run {run + 1}: {elapsed:.2f} s", flush=True)
        if show_output and run == 0:
            # Keras's progress bars would fill the screen; keep the summary after them.
            lines = [line for line in completed.stdout.splitlines() if "━" not in line]
            print("\n".join(lines[-20:]))
    return seconds, 0


def digits_cache_exists():
    """Whether the digits cache is there, without importing TensorFlow."""
    sys.path.insert(0, REPO_ROOT)
    try:
        from data.digits import default_cache_dir
    except ImportError:
        return None
    finally:
        sys.path.remove(REPO_ROOT)
    directory = default_cache_dir()
    return os.path.isdir(directory) and any(
        name.startswith("digits") for name in os.listdir(directory)
    )


def main(argv=None):
    args = parse_args(argv)
    if not os.path.exists(TRAIN_SCRIPT):
        sys.exit(f"end_to_end.py: {TRAIN_SCRIPT} does not exist yet; nothing to time")

    rows = []
    help_seconds, help_status = time_runs("train.py --help", ["--help"], args.help_runs)
    rows.append(("python train.py --help", help_seconds, help_status, TARGETS["help"]))

    if args.train_runs > 0:
        if args.cold_cache:
            print("empty KERAS_HOME for every training run: each generates the digits")
        else:
            print(f"digits cache present before the first training run: {digits_cache_exists()}")
        with tempfile.TemporaryDirectory(prefix="bench-logs-") as logdir:
            # Each invocation makes its own run folder under the logdir.
            train_seconds, train_status = time_runs(
                "train.py", ["--logdir", logdir], args.train_runs, args.show_output,
                args.cold_cache,
            )
        label = "python train.py (all defaults" + (", cold cache)" if args.cold_cache else ")")
        rows.append((label, train_seconds, train_status,
                     TARGETS["train"]))

    print("\n| command | runs | median s | min s | max s | target s |")
    print("|---|---|---|---|---|---|")
    for command, seconds, status, target in rows:
        if seconds:
            print(f"| `{command}` | {len(seconds)} | **{statistics.median(seconds):.2f}** "
                  f"| {min(seconds):.2f} | {max(seconds):.2f} | < {target:g} |")
        else:
            print(f"| `{command}` | 0 | failed (exit status {status}) | | | < {target:g} |")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "python": sys.executable,
                    "results": [
                        {"command": command, "seconds": seconds, "exit_status": status,
                         "median": statistics.median(seconds) if seconds else None,
                         "target": target}
                        for command, seconds, status, target in rows
                    ],
                },
                f,
                indent=2,
            )
        print(f"\nsaved {args.json}")
    if any(status != 0 for _, _, status, _ in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
