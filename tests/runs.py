"""Running train.py as a user does, and reading back what it left, with TensorBoard's own reader."""

import csv
import glob
import hashlib
import json
import os
import subprocess
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "train.py")


def train(*args, logdir=None, cwd=ROOT, timeout=600, env=None):
    command = [sys.executable, TRAIN, *map(str, args)]
    if logdir is not None:
        command += ["--logdir", str(logdir)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def start_train(*args, logdir, **popen):
    """train.py in the background, its stdout a pipe (read it with a thread, not communicate)."""
    return subprocess.Popen([sys.executable, TRAIN, *map(str, args), "--logdir", str(logdir)], cwd=ROOT, **popen)


def run_folders(logdir):
    return sorted(p for p in glob.glob(os.path.join(str(logdir), "*")) if os.path.isdir(p))


def read_summary(run_dir):
    with open(os.path.join(run_dir, "summary.json")) as f:
        return {(row["model"], row["optimizer"]): row for row in json.load(f)}


def read_trials(run_dir):
    with open(os.path.join(run_dir, "trials.csv")) as f:
        return list(csv.DictReader(f))


def trial_folders(run_dir):
    """Every folder under the run that holds event files, relative to the run."""
    return sorted(os.path.relpath(folder, run_dir) for folder, _, files in os.walk(run_dir)
                  if any(f.startswith("events.out.tfevents") for f in files))


def event_files(folder):
    return sorted(f for f in os.listdir(folder) if f.startswith("events.out.tfevents"))


def scalars(run_dir):
    """{(event folder relative to the run, tag): [(step, value), ...]} for every scalar."""
    found = {}
    for relative in trial_folders(run_dir):
        events = EventAccumulator(os.path.join(run_dir, relative), size_guidance={"tensors": 0})
        events.Reload()
        for tag in events.Tags()["tensors"]:
            if events.SummaryMetadata(tag).plugin_data.plugin_name != "scalars":
                continue
            values = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
            found[(relative, tag)] = values
    return found


def plugin_tags(folder, plugin):
    events = EventAccumulator(folder, size_guidance={"tensors": 0})
    events.Reload()
    return set(events.PluginTagToContent(plugin))


def tree_digest(path):
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            with open(os.path.join(folder, name), "rb") as f:
                digest.update(name.encode() + f.read())
    return digest.hexdigest()


def one_line_error(result):
    """The single stderr line of a refused command (TensorFlow's start-up lines aside)."""
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("train.py:")]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]
