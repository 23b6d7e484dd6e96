"""What a run's report adds to TensorBoard, beside the trials' own runs.

- The invocation's own run (the run folder itself): the figures as images, tagged
  `figures/<file>`; the summary table, verdict included, as Markdown in the Text dashboard
  (tag `summary`); and a Custom Scalars layout: per model, a margin chart per metric, each
  optimizer's mean over seeds with its min-max band.
- Per model and optimizer, a run `<model>/<optimizer>/mean,lr=<best>` holding the mean over
  seeds of its trials' curves at its best learning rate, under the trials' own tags (so that
  filtering the runs by `mean` leaves one line per optimizer per chart), and the mean, min
  and max under `seeds/<model>/<metric>/...`, which the margin charts draw (tags only these
  runs have: Custom Scalars lists a run that has some of a chart's tags as missing them).

Each event file appears whole (reporting.files) and replaces the one an earlier report of
this run wrote; a mean run whose learning rate is no longer the best is removed.
"""

import io
import os
import shutil

import numpy as np

from comparison.results import mean_curve
from reporting.files import EventFile, event_files
from reporting.tables import markdown_table

FIGURE_TAG = "figures"
MEAN_RUN = "mean,lr="
_METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


def log_report(comparison, rows, images, run_dir):
    """Writes the invocation's own event file and the mean runs (see the module docstring)."""
    _replace_events(run_dir, lambda events: _invocation_events(events, comparison, rows, images))
    kept = set()
    for (model, optimizer), results in comparison.best.items():
        folder = os.path.join(run_dir, model, optimizer, f"{MEAN_RUN}{results[0].trial.learning_rate:g}")
        kept.add(folder)
        _replace_events(folder, lambda events: _mean_events(events, model, results))
    for model, optimizer in comparison.best:
        parent = os.path.join(run_dir, model, optimizer)
        for name in os.listdir(parent):
            if name.startswith(MEAN_RUN) and os.path.join(parent, name) not in kept:
                shutil.rmtree(os.path.join(parent, name))


def _replace_events(folder, write):
    earlier = event_files(folder)
    events = EventFile(folder, atomic=True)
    try:
        write(events)
        events.close()
    except BaseException:
        events.discard()
        raise
    for old in earlier:
        os.remove(old)


def _invocation_events(events, comparison, rows, images):
    from PIL import Image
    from tensorboard.plugins.text.summary_v2 import text_pb

    for path in images:
        with open(path, "rb") as f:
            encoded = f.read()
        width, height = Image.open(io.BytesIO(encoded)).size
        events.image(f"{FIGURE_TAG}/{os.path.basename(path)}", encoded, width, height)
    events.summary(text_pb("summary", markdown_table(rows, comparison.targets)))
    events.summary(_layout(comparison))


def _mean_events(events, model, results):
    for metric in _METRICS:
        if not results[0].history.get(metric):
            continue
        mean, low, high = mean_curve(results, metric)
        for epoch, values in enumerate(zip(mean, low, high), 1):
            events.scalar(f"{model}/{metric}", values[0], epoch)
            for name, value in zip(("mean", "min", "max"), values):
                events.scalar(f"seeds/{model}/{metric}/{name}", value, epoch)


def _layout(comparison):
    """The Custom Scalars layout: per model, a margin chart per metric it has."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.custom_scalar import metadata as custom_scalar_metadata
    from tensorboard.util import tensor_util

    categories = []
    for model in comparison.models:
        first = next(rs[0] for (m, _), rs in comparison.best.items() if m == model)
        charts = [layout_pb2.Chart(
            title=f"{model}/{metric}: mean over seeds, band min to max, each optimizer at its best learning rate",
            margin=layout_pb2.MarginChartContent(series=[layout_pb2.MarginChartContent.Series(
                value=f"seeds/{model}/{metric}/mean", lower=f"seeds/{model}/{metric}/min",
                upper=f"seeds/{model}/{metric}/max")]))
            for metric in _METRICS if first.history.get(metric)]
        categories.append(layout_pb2.Category(title=model, chart=charts))
    layout = layout_pb2.Layout(category=categories)
    tensor = tensor_util.make_tensor_proto(np.array(layout.SerializeToString(), dtype=object))
    return summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag=custom_scalar_metadata.CONFIG_SUMMARY_TAG, metadata=custom_scalar_metadata.create_summary_metadata(),
        tensor=tensor)])
